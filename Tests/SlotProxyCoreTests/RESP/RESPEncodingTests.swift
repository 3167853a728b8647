// RESPEncoding: headers and bulk strings written without String, exactly as Redis spells them.

import Testing
@testable import SlotProxyCore

@Suite("RESPEncoding")
struct RESPEncodingTests {
    @Test("decimal encoding of lengths and counts, including 0, multi-digit and negative numbers")
    func decimals() {
        for n in [0, 7, 10, 99, 12345, 1 << 40, -1, -42, Int.max, Int.min] {
            var out: [UInt8] = []
            RESPEncoding.appendHeader(UInt8(ascii: ":"), n, to: &out)
            #expect(out == Array(":\(n)\r\n".utf8))
        }
        let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: 64)
        defer { buffer.deallocate() }
        for n in [0, 9, 10, 100, 65535, Int.max, -1, -42, Int.min] {
            let end = RESPEncoding.writeHeader(UInt8(ascii: "$"), n, at: buffer)
            #expect(Array(UnsafeBufferPointer(start: buffer, count: end - buffer)) == Array("$\(n)\r\n".utf8))
        }
    }

    @Test("a bulk string is its length, CRLF, the bytes (binary, empty), CRLF")
    func bulk() {
        let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: 64)
        defer { buffer.deallocate() }
        for value in [[], Array("key".utf8), [0, 13, 10, 255]] as [[UInt8]] {
            let end = value.withUnsafeBytes { RESPEncoding.writeBulk($0, at: buffer) }
            #expect(Array(UnsafeBufferPointer(start: buffer, count: end - buffer))
                    == Array("$\(value.count)\r\n".utf8) + value + [13, 10])
        }
    }
}
