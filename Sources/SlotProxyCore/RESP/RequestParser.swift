// Locates client requests in the bytes a client sent, one frame at a time, without copying
// them: for each complete frame it records where every argument starts and how long it is.
// The caller routes the frame, then forwards the frame's original bytes unchanged.
//
//   bytes:  *3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n*2\r\n$3\r\nGET…
//           ^frame start                          ^ .frame(length: 33)  ^ next call starts here
//
// The parser is resumable: when a frame is incomplete it answers .needMore and keeps its
// position (offsets are relative to the frame start), so the caller may move the partial
// frame to another buffer and append to it; a large bulk value arriving in pieces is never
// rescanned: the parser waits until `bytesNeeded` bytes are there.
//
// Inline commands (`PING\r\n`, telnet, redis-benchmark's PING_INLINE) are split like
// Redis's sdssplitargs and re-encoded as a multibulk frame held by the parser.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public final class RequestParser {
    public enum Result: Equatable {
        /// A complete request of `length` bytes at the frame start; `arguments(base:)` views it.
        /// `inline`: the arguments live in `inlineFrame`, a multibulk re-encoding.
        case frame(length: Int, inline: Bool)
        /// `length` bytes held no command (`*0`, `*-1`, an empty inline line): skip them.
        case empty(length: Int)
        /// The frame is incomplete: call again with the same frame start and more bytes.
        case needMore
        /// Malformed input: answer `error.message` and close the connection.
        case error(ProtocolError)
    }

    /// Redis's PROTO_INLINE_MAX_SIZE: the longest inline request or header line.
    public var maxInlineLength: Int
    /// Redis's proto-max-bulk-len.
    public var maxBulkLength: Int
    /// The largest multibulk count accepted.
    public var maxMultibulkCount: Int

    private enum Stage {
        case start
        case bulkHeader
        case bulkBody
    }

    private var stage = Stage.start
    /// Next byte to examine, relative to the frame start.
    private var position = 0
    /// Where the current bulk body ends, CRLF included (stage .bulkBody).
    private var bulkEnd = 0
    private var expectedArguments = 0
    public private(set) var argumentCount = 0
    private var capacity = 0
    private var starts: UnsafeMutablePointer<Int32>
    private var lengths: UnsafeMutablePointer<Int32>

    /// The multibulk re-encoding of the last inline request.
    public private(set) var inlineFrame: [UInt8] = []

    public init(maxBulkLength: Int = 512 * 1024 * 1024, maxMultibulkCount: Int = 1024 * 1024,
                maxInlineLength: Int = 64 * 1024) {
        self.maxBulkLength = maxBulkLength
        self.maxMultibulkCount = maxMultibulkCount
        self.maxInlineLength = maxInlineLength
        capacity = 8
        starts = .allocate(capacity: capacity)
        lengths = .allocate(capacity: capacity)
    }

    deinit {
        starts.deallocate()
        lengths.deallocate()
    }

    /// How many bytes from the frame start must be present before parsing can progress
    /// (at least one more than given when waiting on a header line).
    public var bytesNeeded: Int {
        stage == .bulkBody ? bulkEnd : position + 1
    }

    /// True while a frame has been started but not completed.
    public var isMidFrame: Bool { stage != .start }

    /// The arguments of the frame just returned, relative to `base` (the frame start, or
    /// `inlineFrame`'s storage for inline frames).
    @inline(__always)
    public func arguments(base: UnsafePointer<UInt8>) -> RequestArguments {
        RequestArguments(base: base, starts: starts, lengths: lengths, count: argumentCount)
    }

    /// Forgets any partial frame (after a protocol error, or when the connection is reused).
    public func reset() {
        stage = .start
        position = 0
        bulkEnd = 0
        expectedArguments = 0
        argumentCount = 0
    }

    /// Parses the next request starting at `base`, where `count` bytes are available.
    /// After `.needMore`, call again with the same frame start and at least as many bytes.
    public func parse(_ base: UnsafePointer<UInt8>, count: Int) -> Result {
        while true {
            switch stage {
            case .start:
                guard count > 0 else { return .needMore }
                argumentCount = 0
                if base[0] != UInt8(ascii: "*") {
                    return parseInline(base, count: count)
                }
                guard let line = lengthLine(base, from: 1, count: count) else {
                    return count > maxInlineLength ? .error(.tooBigMultibulkCountString) : .needMore
                }
                let cr = line.cr
                // Too long is too long however the line arrived (see parseInline).
                if cr > maxInlineLength { return .error(.tooBigMultibulkCountString) }
                guard cr + 1 < count else { return .needMore }
                guard let n = line.value ?? parseInteger(base + 1, cr - 1), n <= maxMultibulkCount else {
                    return .error(.invalidMultibulkLength)
                }
                if n <= 0 { return .empty(length: cr + 2) }
                expectedArguments = Int(n)
                ensureCapacity(min(expectedArguments, 1024))
                position = cr + 2
                stage = .bulkHeader

            case .bulkHeader:
                guard position < count else { return .needMore }
                guard base[position] == UInt8(ascii: "$") else {
                    return .error(.expectedDollar(got: base[position]))
                }
                guard let line = lengthLine(base, from: position + 1, count: count) else {
                    return count - position > maxInlineLength ? .error(.tooBigBulkCountString) : .needMore
                }
                let cr = line.cr
                if cr - position > maxInlineLength { return .error(.tooBigBulkCountString) }
                guard cr + 1 < count else { return .needMore }
                guard let n = line.value ?? parseInteger(base + position + 1, cr - position - 1), n >= 0,
                      n <= maxBulkLength else {
                    return .error(.invalidBulkLength)
                }
                if argumentCount == capacity { ensureCapacity(capacity * 2) }
                starts[argumentCount] = Int32(truncatingIfNeeded: cr + 2)
                lengths[argumentCount] = Int32(truncatingIfNeeded: n)
                bulkEnd = cr + 2 + Int(n) + 2
                position = cr + 2
                stage = .bulkBody

            case .bulkBody:
                // No scanning inside the value: wait until all of it is there.
                guard count >= bulkEnd else { return .needMore }
                argumentCount += 1
                position = bulkEnd
                if argumentCount == expectedArguments {
                    stage = .start
                    let length = position
                    position = 0
                    return .frame(length: length, inline: false)
                }
                stage = .bulkHeader
            }
        }
    }

    // MARK: - Inline requests

    private func parseInline(_ base: UnsafePointer<UInt8>, count: Int) -> Result {
        guard let newline = findByte(UInt8(ascii: "\n"), base, from: position, count: count) else {
            // Remember how far we looked so a long line is scanned once.
            position = count
            return count > maxInlineLength ? .error(.tooBigInlineRequest) : .needMore
        }
        position = 0
        // A whole line past the limit is refused too (Redis refuses one only while its
        // newline has not arrived, so it depends on how the line was split into reads).
        guard newline <= maxInlineLength else { return .error(.tooBigInlineRequest) }
        var end = newline
        if end > 0 && base[end - 1] == UInt8(ascii: "\r") { end -= 1 }
        guard let args = InlineSplitter.split(UnsafeBufferPointer(start: base, count: end)) else {
            return .error(.unbalancedQuotes)
        }
        if args.isEmpty { return .empty(length: newline + 1) }
        inlineFrame.removeAll(keepingCapacity: true)
        ensureCapacity(args.count)
        inlineFrame.append(contentsOf: "*\(args.count)\r\n".utf8)
        for (i, a) in args.enumerated() {
            inlineFrame.append(contentsOf: "$\(a.count)\r\n".utf8)
            starts[i] = Int32(inlineFrame.count)
            lengths[i] = Int32(a.count)
            inlineFrame.append(contentsOf: a)
            inlineFrame.append(contentsOf: "\r\n".utf8)
        }
        argumentCount = args.count
        return .frame(length: newline + 1, inline: true)
    }

    // MARK: - Helpers

    private func ensureCapacity(_ n: Int) {
        guard n > capacity else { return }
        let newStarts = UnsafeMutablePointer<Int32>.allocate(capacity: n)
        let newLengths = UnsafeMutablePointer<Int32>.allocate(capacity: n)
        newStarts.update(from: starts, count: argumentCount)
        newLengths.update(from: lengths, count: argumentCount)
        starts.deallocate()
        lengths.deallocate()
        starts = newStarts
        lengths = newLengths
        capacity = n
    }
}

/// The RESP line starting at `from` (after its type byte: `*2`, `$3`, `:42`, `+OK`): where its
/// '\r' is, and its value when `shortLength` could read it in one pass (nil: parseInteger
/// decides, or the line is not a number). nil while no '\r' has arrived. The request parser
/// and the reply scanner read every line through it.
@inline(__always)
func lengthLine(_ base: UnsafePointer<UInt8>, from: Int, count: Int) -> (cr: Int, value: Int64?)? {
    if let line = shortLength(base, from: from, count: count) { return (line.cr, line.value) }
    return findByte(13, base, from: from, count: count).map { ($0, nil) }
}

@inline(__always)
func findByte(_ byte: UInt8, _ base: UnsafePointer<UInt8>, from: Int, count: Int) -> Int? {
    guard from < count else { return nil }
    guard let p = memchr(base + from, Int32(byte), count - from) else { return nil }
    return UnsafeRawPointer(p) - UnsafeRawPointer(base)
}

/// The usual length line, 1 to 18 digits then '\r' at `from`, read in one pass: its value and
/// where the '\r' is. nil for anything else (a sign, a stray byte, more digits, no '\r' yet),
/// which the general path (memchr, then parseInteger) decides; where both apply they agree.
@inline(__always)
func shortLength(_ base: UnsafePointer<UInt8>, from: Int, count: Int) -> (value: Int64, cr: Int)? {
    var i = from
    var value: Int64 = 0
    let end = min(count, from + 19)
    while i < end {
        let digit = base[i] &- 48
        if digit >= 10 { return base[i] == 13 && i > from ? (value, i) : nil }
        value = value &* 10 &+ Int64(digit)
        i += 1
    }
    return nil
}

/// Parses a decimal integer like Redis's string2ll: optional '-', digits only, no overflow.
@inline(__always)
func parseInteger(_ p: UnsafePointer<UInt8>, _ n: Int) -> Int64? {
    guard n > 0, n <= 20 else { return nil }
    var i = 0
    var negative = false
    if p[0] == UInt8(ascii: "-") {
        guard n > 1 else { return nil }
        negative = true
        i = 1
    }
    var v: Int64 = 0
    while i < n {
        let d = p[i] &- 48
        guard d < 10 else { return nil }
        let (m, o1) = v.multipliedReportingOverflow(by: 10)
        let (s, o2) = m.addingReportingOverflow(Int64(d))
        guard !o1, !o2 else { return nil }
        v = s
        i += 1
    }
    return negative ? -v : v
}
