// Fuzz harness of the reply side: ReplyScanner (finds where each backend reply ends, hot path),
// RESPValueDecoder (materialises replies on cold paths) and ReplyMerger's element splitting,
// over bytes a node could send.
//
//   input ──scanAll (one read / two reads)──▶ same events; each complete reply:
//      ├─ ReplyMerger.elements: an array's elements are complete and cover the rest of it
//      └─ RESPValueDecoder.decode ──▶ value ──RESPReply.encode (RESP3, RESP2)──▶ bytes
//            bytes: one complete reply for the scanner; decode ∘ encode is a fixpoint

import SlotProxyCore

public enum ReplyParserFuzz {
    /// Checks one input; stops the process when an invariant fails.
    public static func run(_ data: UnsafeRawBufferPointer) {
        let whole = scanAll(data)
        let arrival = data.arrivalPoint
        let split = scanAll(data, arrival: arrival)
        expect(whole.events == split.events, "one read gave \(whole.events), two reads (cut at \(arrival)) gave \(split.events)")
        for (n, event) in whole.events.enumerated() {
            if case .complete = event { continue }
            expect(n == whole.events.count - 1, "events after \(event)")
        }
        for reply in whole.replies {
            checkElements(reply)
            checkDecoding(reply)
            _ = ReplyMerger.errorText(reply)
            _ = ReplyMerger.integer(reply)
        }
        // The cold-path decoder over the raw input: may refuse it, must not crash.
        let bytes = Array(data)
        if let decoded = try? RESPValueDecoder.decode(bytes) {
            expect(decoded.length > 0 && decoded.length <= bytes.count, "decoded length \(decoded.length) of \(bytes.count)")
        }
        _ = try? RESPValueDecoder.decodeAll(bytes)
    }

    /// An array's elements, as ReplyMerger splits them, are complete replies that make up the
    /// rest of the array exactly.
    private static func checkElements(_ reply: [UInt8]) {
        guard let type = reply.first, type == UInt8(ascii: "*") || type == UInt8(ascii: "~") || type == UInt8(ascii: ">")
        else { return }
        guard let elements = ReplyMerger.elements(reply) else {
            expect(false, "no elements in a complete array reply")
            return
        }
        let headerEnd = reply.firstIndex(of: 13)! + 2
        let count = Int(String(decoding: reply[1..<(headerEnd - 2)], as: UTF8.self)) ?? -1
        expect(elements.count == max(count, 0), "\(elements.count) elements in an array of \(count)")
        expect(Array(elements.joined()) == Array(reply[headerEnd...]), "elements do not cover the array")
        for e in elements {
            expect(scanOne(Array(e)) == .complete(length: e.count), "an element is not one complete reply")
        }
    }

    /// What the decoder makes of a reply re-encodes to bytes the scanner and the decoder agree on.
    private static func checkDecoding(_ reply: [UInt8]) {
        guard let (value, length) = try? RESPValueDecoder.decode(reply) else { return }
        expect(length > 0 && length <= reply.count, "decoded length \(length) of \(reply.count)")
        for version in [3, 2] {
            let encoded = RESPReply.encode(value, protocolVersion: version)
            if isSingleLine(value) {
                expect(scanOne(encoded) == .complete(length: encoded.count), "re-encoded reply (RESP\(version)) is not one reply")
            }
            guard let (again, againLength) = try? RESPValueDecoder.decode(encoded) else {
                expect(false, "re-encoded reply (RESP\(version)) does not decode")
                return
            }
            expect(againLength == encoded.count, "re-encoded reply decodes to \(againLength) of \(encoded.count) bytes")
            expect(RESPReply.encode(again, protocolVersion: version) == encoded, "decode ∘ encode is not a fixpoint")
        }
    }

    /// True when no simple string or big number in `value` holds CR or LF: RESP has no way to
    /// send those (Redis never does), and the scanner ends such a line at the first CR.
    private static func isSingleLine(_ value: RESPValue) -> Bool {
        switch value {
        case .simpleString(let s), .bigNumber(let s):
            return !s.utf8.contains(13) && !s.utf8.contains(10)
        case .array(let items), .set(let items), .push(let items), .map(let items), .attribute(let items):
            return items.allSatisfy(isSingleLine)
        default:
            return true
        }
    }
}
