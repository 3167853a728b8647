// Writes RESP headers and bulk strings with pointer stores, no String in between: the split
// path encodes every part of a cross-slot request with these, and the allocation-free merges
// write their replies' headers with them (RESPReply is the allocating, cold-path sibling).
//
//   writeBulk("key") at p ─▶ $3\r\nkey\r\n, returns p + 9

public enum RESPEncoding {
    /// The most `writeHeader` writes: a type byte, a sign, 20 digits, CRLF.
    public static let maxHeaderLength = 24

    /// Writes `<type><n>\r\n` (`*3\r\n`, `$5\r\n`, `:-42\r\n`) at `at`; returns the position after it.
    @inline(__always)
    public static func writeHeader(_ type: UInt8, _ n: Int, at: UnsafeMutablePointer<UInt8>) -> UnsafeMutablePointer<UInt8> {
        at[0] = type
        var digits = at + 1
        if n < 0 {
            digits[0] = UInt8(ascii: "-")
            digits += 1
        }
        // The magnitude: -(Int.min) would overflow.
        let end = writeDecimal(n.magnitude, at: digits)
        end[0] = 13
        end[1] = 10
        return end + 2
    }

    /// Writes a bulk string `$<len>\r\n<bytes>\r\n` at `at` (its length + at most 25 bytes).
    @inline(__always)
    public static func writeBulk(_ bytes: UnsafeRawBufferPointer, at: UnsafeMutablePointer<UInt8>) -> UnsafeMutablePointer<UInt8> {
        var end = writeHeader(UInt8(ascii: "$"), bytes.count, at: at)
        if let source = bytes.baseAddress, bytes.count > 0 {
            UnsafeMutableRawPointer(end).copyMemory(from: source, byteCount: bytes.count)
            end += bytes.count
        }
        end[0] = 13
        end[1] = 10
        return end + 2
    }

    /// Appends `<type><n>\r\n` to `out` (no allocation once `out` has the capacity).
    @inline(__always)
    public static func appendHeader(_ type: UInt8, _ n: Int, to out: inout [UInt8]) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: maxHeaderLength) { buffer in
            let start = buffer.baseAddress!
            let end = writeHeader(type, n, at: start)
            out.append(contentsOf: UnsafeBufferPointer(start: start, count: end - start))
        }
    }

    /// How many decimal digits `n` has.
    @inline(__always)
    static func decimalDigits(_ n: UInt) -> Int {
        var digits = 1
        var v = n / 10
        while v > 0 { digits += 1; v /= 10 }
        return digits
    }

    /// Writes the decimal digits of `n` at `at`.
    @inline(__always)
    static func writeDecimal(_ n: UInt, at: UnsafeMutablePointer<UInt8>) -> UnsafeMutablePointer<UInt8> {
        let digits = decimalDigits(n)
        var v = n
        for i in stride(from: digits - 1, through: 0, by: -1) {
            at[i] = UInt8(ascii: "0") &+ UInt8(v % 10)
            v /= 10
        }
        return at + digits
    }
}
