// What the fuzz harnesses share: the invariant check that stops a run, and drivers that feed
// bytes to the request parser and the reply scanner exactly as the I/O layer does (every complete
// frame from one offset on; an incomplete one kept and resumed when more bytes arrive, possibly
// from another buffer), recording what they report in a form two runs can be compared by.

import SlotProxyCore

/// Stops the process when an invariant does not hold: libFuzzer saves the input as a crash.
@inline(__always)
func expect(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String,
            file: StaticString = #fileID, line: UInt = #line) {
    if !condition() { fatalError("fuzz invariant failed: \(message())", file: file, line: line) }
}

// MARK: - Requests

/// One result of the request parser, with the arguments copied out.
enum ParseEvent: Equatable, CustomStringConvertible {
    case frame(length: Int, inline: Bool, arguments: [[UInt8]])
    case empty(length: Int)
    case error(ProtocolError)
    /// The input ended inside a frame.
    case needMore

    var description: String {
        switch self {
        case .frame(let length, let inline, let arguments):
            return "frame(\(length)\(inline ? ", inline" : ""): \(arguments.map { String(decoding: $0, as: UTF8.self) })"
        case .empty(let length): return "empty(\(length))"
        case .error(let e): return "error(\(e.message))"
        case .needMore: return "needMore"
        }
    }
}

/// The parser's limits: Redis's defaults, and small ones the fuzzer can cross.
struct ParserLimits {
    var bulk: Int
    var multibulk: Int
    var inline: Int

    static let defaults = ParserLimits(bulk: 512 * 1024 * 1024, multibulk: 1024 * 1024, inline: 64 * 1024)
    static let small = ParserLimits(bulk: 64, multibulk: 4, inline: 32)

    func makeParser() -> RequestParser {
        RequestParser(maxBulkLength: bulk, maxMultibulkCount: multibulk, maxInlineLength: inline)
    }
}

/// Feeds `data` to `parser` like ClientSession: the first read holds the bytes before `arrival`
/// (all of them when nil); an incomplete frame's bytes then move to another buffer, the rest of
/// the data is appended, and parsing resumes there. Stops at the first error.
/// - Parameter onFrame: sees each frame's arguments while the view is valid.
func parseAll(_ data: UnsafeRawBufferPointer, _ parser: RequestParser, arrival: Int? = nil,
              onFrame: (RequestArguments) -> Void = { _ in }) -> [ParseEvent] {
    var events: [ParseEvent] = []
    let cut = min(max(arrival ?? data.count, 0), data.count)
    let (consumed, finished) = parseRead(UnsafeRawBufferPointer(rebasing: data[0..<cut]), parser, &events,
                                         last: cut == data.count, onFrame)
    if finished || cut == data.count { return events }
    // ClientSession keeps the unparsed bytes in its input buffer and reads the rest behind them.
    let tail = Array(data[consumed...])
    _ = tail.withUnsafeBytes { parseRead($0, parser, &events, last: true, onFrame) }
    return events
}

/// One read's worth of parsing. Returns the bytes consumed and whether parsing is over.
private func parseRead(_ buffer: UnsafeRawBufferPointer, _ parser: RequestParser, _ events: inout [ParseEvent],
                       last: Bool, _ onFrame: (RequestArguments) -> Void) -> (Int, Bool) {
    guard let raw = buffer.baseAddress else { return (0, false) }
    let base = raw.assumingMemoryBound(to: UInt8.self)
    let count = buffer.count
    var offset = 0
    while offset < count {
        let result = parser.parse(base + offset, count: count - offset)
        switch result {
        case .frame(let length, let inline):
            expect(length > 0 && length <= count - offset, "frame length \(length) with \(count - offset) bytes")
            expect(parser.argumentCount > 0, "a frame without arguments")
            expect(!parser.isMidFrame, "mid-frame after a complete frame")
            var arguments: [[UInt8]] = []
            if inline {
                parser.inlineFrame.withUnsafeBufferPointer { f in
                    let args = parser.arguments(base: f.baseAddress!)
                    for i in 0..<args.count {
                        expect(Int(args.starts[i]) >= 0 && Int(args.starts[i]) + Int(args.lengths[i]) <= f.count,
                               "inline argument \(i) outside the re-encoded frame")
                    }
                    arguments = (0..<args.count).map { Array(args[$0]) }
                    onFrame(args)
                }
            } else {
                let args = parser.arguments(base: base + offset)
                for i in 0..<args.count {
                    expect(Int(args.starts[i]) >= 0 && Int(args.lengths[i]) >= 0
                           && Int(args.starts[i]) + Int(args.lengths[i]) + 2 <= length,
                           "argument \(i) outside its frame of \(length) bytes")
                }
                arguments = (0..<args.count).map { Array(args[$0]) }
                onFrame(args)
            }
            events.append(.frame(length: length, inline: inline, arguments: arguments))
            offset += length
        case .empty(let length):
            expect(length > 0 && length <= count - offset, "empty length \(length) with \(count - offset) bytes")
            events.append(.empty(length: length))
            offset += length
        case .needMore:
            // Asked again without new bytes (ClientSession.resumeRequests), it must still wait.
            expect(parser.parse(base + offset, count: count - offset) == .needMore, "needMore not repeatable")
            expect(parser.bytesNeeded > 0, "bytesNeeded \(parser.bytesNeeded)")
            if last { events.append(.needMore) }
            return (offset, last)
        case .error(let error):
            events.append(.error(error))
            return (offset, true)
        }
    }
    return (offset, last)
}

/// The arguments of one multibulk frame, read by the simplest possible reading of RESP: the
/// reference the parser's offsets are checked against. Nil when the bytes are not one frame.
func referenceArguments(_ frame: [UInt8]) -> [[UInt8]]? {
    var i = 0
    func header(_ type: UInt8) -> Int? {
        guard i < frame.count, frame[i] == type, let cr = frame[i...].firstIndex(of: 13) else { return nil }
        let text = String(decoding: frame[(i + 1)..<cr], as: UTF8.self)
        i = cr + 2
        return Int(text)
    }
    guard let n = header(UInt8(ascii: "*")), n > 0 else { return nil }
    var arguments: [[UInt8]] = []
    for _ in 0..<n {
        guard let length = header(UInt8(ascii: "$")), length >= 0, i + length + 2 <= frame.count else { return nil }
        arguments.append(Array(frame[i..<(i + length)]))
        i += length + 2
    }
    return i == frame.count ? arguments : nil
}

// MARK: - Replies

/// One result of the reply scanner.
enum ScanEvent: Equatable {
    case complete(length: Int)
    case needMore
    case malformed
}

/// Feeds `data` to a ReplyScanner like BackendConnection, with the same two-read split as
/// `parseAll`. Returns the events and the complete replies' bytes.
func scanAll(_ data: UnsafeRawBufferPointer, arrival: Int? = nil) -> (events: [ScanEvent], replies: [[UInt8]]) {
    var scanner = ReplyScanner()
    var events: [ScanEvent] = []
    var replies: [[UInt8]] = []
    let cut = min(max(arrival ?? data.count, 0), data.count)
    let (consumed, finished) = scanRead(UnsafeRawBufferPointer(rebasing: data[0..<cut]), &scanner, &events,
                                        &replies, last: cut == data.count)
    if finished || cut == data.count { return (events, replies) }
    let tail = Array(data[consumed...])
    _ = tail.withUnsafeBytes { scanRead($0, &scanner, &events, &replies, last: true) }
    return (events, replies)
}

private func scanRead(_ buffer: UnsafeRawBufferPointer, _ scanner: inout ReplyScanner, _ events: inout [ScanEvent],
                      _ replies: inout [[UInt8]], last: Bool) -> (Int, Bool) {
    guard let raw = buffer.baseAddress else { return (0, false) }
    let base = raw.assumingMemoryBound(to: UInt8.self)
    let count = buffer.count
    var offset = 0
    while offset < count {
        switch scanner.scan(base + offset, count: count - offset) {
        case .complete(let length):
            expect(length > 0 && length <= count - offset, "reply length \(length) with \(count - offset) bytes")
            events.append(.complete(length: length))
            replies.append(Array(buffer[offset..<(offset + length)]))
            offset += length
        case .needMore:
            var again = scanner
            expect(again.scan(base + offset, count: count - offset) == .needMore, "needMore not repeatable")
            if last { events.append(.needMore) }
            return (offset, last)
        case .malformed:
            events.append(.malformed)
            return (offset, true)
        }
    }
    return (offset, last)
}

/// The scanner's verdict on bytes that should hold exactly one complete reply.
func scanOne(_ bytes: [UInt8]) -> ReplyScanner.Result {
    var scanner = ReplyScanner()
    return bytes.withUnsafeBufferPointer { b in
        guard let base = b.baseAddress else { return .needMore }
        return scanner.scan(base, count: b.count)
    }
}

extension UnsafeRawBufferPointer {
    /// The last byte as a position in `0...count`: where the harnesses split an input in two.
    var arrivalPoint: Int {
        guard let last = self.last else { return 0 }
        return Int(last) * (count + 1) / 256
    }
}
