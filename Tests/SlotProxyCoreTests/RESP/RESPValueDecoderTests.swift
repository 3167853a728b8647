import Testing
@testable import SlotProxyCore

@Suite("RESPValueDecoder")
struct RESPValueDecoderTests {
    @Test("decodes RESP2 and RESP3 types")
    func decodesTypes() throws {
        let input = Array("+OK\r\n-ERR x\r\n:42\r\n$3\r\nfoo\r\n$-1\r\n*2\r\n:1\r\n$0\r\n\r\n%1\r\n+a\r\n#t\r\n_\r\n,1.5\r\n".utf8)
        let values = try RESPValueDecoder.decodeAll(input)
        #expect(values == [.simpleString("OK"), .error("ERR x"), .integer(42), .bulkString(Array("foo".utf8)),
                           .null, .array([.integer(1), .bulkString([])]), .map([.simpleString("a"), .boolean(true)]),
                           .null, .double(1.5)])
    }

    @Test("returns nil for every incomplete prefix")
    func incomplete() throws {
        let input = Array("*2\r\n$3\r\nfoo\r\n%1\r\n+k\r\n:7\r\n".utf8)
        for n in 0..<input.count {
            #expect(try RESPValueDecoder.decode(Array(input[0..<n])) == nil)
        }
        #expect(try RESPValueDecoder.decode(input)?.length == input.count)
    }

    @Test("a count or length too large for any reply is refused, not a crash")
    func hugeLengths() throws {
        // Found by FuzzReplyParser: `|9223372036854775807` overflowed n * 2 and trapped.
        #expect(throws: RESPDecodingError.self) { try RESPValueDecoder.decode(Array("|9223372036854775807\r\n".utf8)) }
        #expect(throws: RESPDecodingError.self) { try RESPValueDecoder.decode(Array("%9223372036854775807\r\n".utf8)) }
        #expect(try RESPValueDecoder.decode(Array("$9223372036854775807\r\nabc\r\n".utf8)) == nil)
        #expect(try RESPValueDecoder.decode(Array("*9223372036854775807\r\n:1\r\n".utf8)) == nil)
    }

    @Test("values nested deeper than maxDepth are refused instead of overflowing the stack")
    func deepNesting() throws {
        let deep = Array((String(repeating: "*1\r\n", count: 200_000) + ":1\r\n").utf8)
        #expect(throws: RESPDecodingError.self) { try RESPValueDecoder.decode(deep) }
        let fine = Array((String(repeating: "*1\r\n", count: RESPValueDecoder.maxDepth) + ":1\r\n").utf8)
        #expect(try RESPValueDecoder.decode(fine)?.length == fine.count)
    }
}
