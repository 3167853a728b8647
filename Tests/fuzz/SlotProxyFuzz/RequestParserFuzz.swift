// Fuzz harness of the request parser (RESP/RequestParser, inline requests through
// InlineSplitter): the bytes a client sends, under Redis's default limits and under small ones.
//
//   input ──parseAll (one read)──────────────▶ events ─┐ equal
//         ──parseAll (two reads, split at b)─▶ events ─┘       b chosen by the input's last byte
//   each frame ──▶ offsets inside the frame, arguments = a naive reading of the frame's bytes
//              ──▶ re-encoded as multibulk, parses back to the same arguments

import SlotProxyCore

public enum RequestParserFuzz {
    /// Checks one input; stops the process when an invariant fails.
    public static func run(_ data: UnsafeRawBufferPointer) {
        // Redis's limits for inputs of even length, small ones the fuzzer can reach for odd.
        check(data, data.count % 2 == 0 ? .defaults : .small)
    }

    private static func check(_ data: UnsafeRawBufferPointer, _ limits: ParserLimits) {
        let whole = parseAll(data, limits.makeParser())
        // The frames must not depend on how the bytes were cut into reads.
        let arrival = data.arrivalPoint
        let split = parseAll(data, limits.makeParser(), arrival: arrival)
        expect(whole == split, "one read gave \(whole), two reads (cut at \(arrival)) gave \(split)")

        var consumed = 0
        for (n, event) in whole.enumerated() {
            switch event {
            case .frame(let length, let inline, let arguments):
                let frame = Array(data[consumed..<(consumed + length)])
                if inline {
                    // An inline line ends at its newline and holds no multibulk.
                    expect(frame.last == 10, "inline frame without its newline")
                } else {
                    expect(referenceArguments(frame) == arguments, "frame \(n) arguments differ from its bytes")
                }
                // The canonical encoding of the arguments is one frame with the same arguments
                // (under Redis's defaults: an inline line is not held to the bulk limit, which
                // Redis never sets below the inline limit).
                let encoded = RESPValueEncoder.command(arguments)
                let again = encoded.withUnsafeBytes { parseAll($0, ParserLimits.defaults.makeParser()) }
                expect(again == [.frame(length: encoded.count, inline: false, arguments: arguments)],
                       "re-encoded frame \(n) parsed as \(again)")
                consumed += length
            case .empty(let length):
                consumed += length
            case .error, .needMore:
                expect(n == whole.count - 1, "events after \(event)")
            }
        }
        expect(consumed <= data.count, "consumed \(consumed) of \(data.count) bytes")
        checkInlineEncoding(data, limits)
    }

    /// Each inline frame's multibulk form is exactly RESPValueEncoder's encoding of its arguments.
    private static func checkInlineEncoding(_ data: UnsafeRawBufferPointer, _ limits: ParserLimits) {
        let parser = limits.makeParser()
        var offset = 0
        guard let raw = data.baseAddress else { return }
        let base = raw.assumingMemoryBound(to: UInt8.self)
        while offset < data.count {
            switch parser.parse(base + offset, count: data.count - offset) {
            case .frame(let length, let inline):
                if inline {
                    let arguments = parser.inlineFrame.withUnsafeBufferPointer { f in
                        let args = parser.arguments(base: f.baseAddress!)
                        return (0..<args.count).map { Array(args[$0]) }
                    }
                    expect(parser.inlineFrame == RESPValueEncoder.command(arguments), "inline re-encoding is not canonical")
                }
                offset += length
            case .empty(let length):
                offset += length
            case .needMore, .error:
                return
            }
        }
    }
}
