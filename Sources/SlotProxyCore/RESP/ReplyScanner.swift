// Finds where each reply from a backend ends, so its bytes can be forwarded unchanged.
// Nothing is decoded: the scanner only counts values. One counter suffices for any nesting:
// it starts at 1, every value read takes one off, and an aggregate of n elements adds n
// (a map or attribute adds 2n). When it reaches 0 the reply is complete.
//
//   *2\r\n$3\r\nfoo\r\n:7\r\n      remaining: 1 → (array of 2) 2 → 1 → 0: complete, 19 bytes
//
// Resumable like the request parser: offsets are relative to the reply start, a bulk value
// is skipped by its length and never rescanned while it arrives.
// RESP3: attributes (`|`) precede the value they describe and count as part of it; a
// top-level push (`>`) is reported so the caller can tell it from a reply.

public struct ReplyScanner {
    public enum Result: Equatable {
        /// A complete reply of `length` bytes.
        case complete(length: Int)
        case needMore
        /// The backend sent something that is not RESP: the connection must be dropped.
        case malformed
    }

    private var position = 0
    private var remaining = 1
    /// End of the bulk body being waited for, CRLF included; 0 when none.
    private var bulkEnd = 0

    public init() {}

    /// How many bytes from the reply start are needed before scanning can progress.
    public var bytesNeeded: Int { bulkEnd > 0 ? bulkEnd : position + 1 }

    public mutating func reset() {
        position = 0
        remaining = 1
        bulkEnd = 0
    }

    /// Scans the reply starting at `base` with `count` bytes available.
    public mutating func scan(_ base: UnsafePointer<UInt8>, count: Int) -> Result {
        if bulkEnd > 0 {
            guard count >= bulkEnd else { return .needMore }
            position = bulkEnd
            bulkEnd = 0
            remaining -= 1
        }
        while remaining > 0 {
            guard position < count else { return .needMore }
            let type = base[position]
            guard let line = lengthLine(base, from: position + 1, count: count), line.cr + 1 < count else {
                return .needMore
            }
            // The line's number (a length or a count), when it is one; read in one pass as a rule.
            let number = line.value ?? parseInteger(base + position + 1, line.cr - position - 1)
            let lineEnd = line.cr + 2
            switch type {
            case UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: ":"), UInt8(ascii: "_"),
                 UInt8(ascii: "#"), UInt8(ascii: ","), UInt8(ascii: "("):
                position = lineEnd
                remaining -= 1
            case UInt8(ascii: "$"), UInt8(ascii: "="), UInt8(ascii: "!"):
                guard let n = number else { return .malformed }
                if n < 0 {
                    position = lineEnd
                    remaining -= 1
                } else {
                    // A length no buffer could hold is not RESP (and would overflow the sum).
                    let (end, overflow) = (lineEnd + 2).addingReportingOverflow(Int(n))
                    guard !overflow else { return .malformed }
                    guard count >= end else {
                        position = lineEnd
                        bulkEnd = end
                        return .needMore
                    }
                    position = end
                    remaining -= 1
                }
            case UInt8(ascii: "*"), UInt8(ascii: "~"), UInt8(ascii: ">"):
                guard let n = number,
                      let more = Self.adding(n > 0 ? Int(n) : 0, times: 1, to: remaining) else { return .malformed }
                position = lineEnd
                remaining = more - 1
            case UInt8(ascii: "%"):
                guard let n = number, n >= 0,
                      let more = Self.adding(Int(n), times: 2, to: remaining) else { return .malformed }
                position = lineEnd
                remaining = more - 1
            case UInt8(ascii: "|"):
                // An attribute is not a value of its own: the value it describes follows.
                guard let n = number, n >= 0,
                      let more = Self.adding(Int(n), times: 2, to: remaining) else { return .malformed }
                position = lineEnd
                remaining = more
            default:
                return .malformed
            }
        }
        let length = position
        reset()
        return .complete(length: length)
    }

    /// `remaining + count * times`, or nil when that overflows: a count no reply could hold
    /// (found by FuzzReplyParser: `%9223372036854775807` trapped the proxy).
    @inline(__always)
    private static func adding(_ count: Int, times: Int, to remaining: Int) -> Int? {
        let (values, o1) = count.multipliedReportingOverflow(by: times)
        let (sum, o2) = remaining.addingReportingOverflow(values)
        return o1 || o2 ? nil : sum
    }
}
