import Testing
@testable import SlotProxyCore

/// Feeds `input` to a parser the way a connection does: bytes arrive in chunks, complete
/// frames are consumed from the front, and a partial frame stays at the front of the buffer.
private func parseAll(_ input: [UInt8], chunks: [Int], parser: RequestParser = RequestParser()) -> ([[String]], ProtocolError?) {
    var buffer: [UInt8] = []
    var frames: [[String]] = []
    var fed = 0
    for size in chunks + [input.count] {
        let end = min(input.count, fed + size)
        buffer.append(contentsOf: input[fed..<end])
        fed = end
        while true {
            let result = buffer.withUnsafeBufferPointer { b -> (RequestParser.Result, [String]?) in
                guard let base = b.baseAddress else { return (.needMore, nil) }
                let r = parser.parse(base, count: b.count)
                guard case .frame(_, let inline) = r else { return (r, nil) }
                let args: [String]
                if inline {
                    args = parser.inlineFrame.withUnsafeBufferPointer { f in
                        let a = parser.arguments(base: f.baseAddress!)
                        return (0..<a.count).map { a.string($0) }
                    }
                } else {
                    let a = parser.arguments(base: base)
                    args = (0..<a.count).map { a.string($0) }
                }
                return (r, args)
            }
            switch result.0 {
            case .frame(let length, _):
                frames.append(result.1!)
                buffer.removeFirst(length)
            case .empty(let length):
                buffer.removeFirst(length)
            case .needMore:
                break
            case .error(let e):
                return (frames, e)
            }
            if case .needMore = result.0 { break }
        }
        if fed == input.count { break }
    }
    return (frames, nil)
}

private func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

@Suite("RequestParser")
struct RequestParserTests {
    static let pipeline = bytes("*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nva\r\nl\r\n*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n"
        + "PING\r\n*0\r\n*1\r\n$4\r\nPING\r\nset  \"a b\"  'c d'\n*2\r\n$4\r\nECHO\r\n$0\r\n\r\n")
    static let expected = [["SET", "key", "va\r\nl"], ["GET", "key"], ["PING"], ["PING"], ["set", "a b", "c d"], ["ECHO", ""]]

    @Test("parses a pipeline in one read")
    func wholePipeline() {
        let (frames, error) = parseAll(Self.pipeline, chunks: [])
        #expect(error == nil)
        #expect(frames == Self.expected)
    }

    @Test("parses the same pipeline split at every byte position")
    func everySplit() {
        for cut in 0...Self.pipeline.count {
            let (frames, error) = parseAll(Self.pipeline, chunks: [cut])
            #expect(error == nil, "cut at \(cut)")
            #expect(frames == Self.expected, "cut at \(cut)")
        }
    }

    @Test("parses the pipeline fed one byte at a time")
    func byteByByte() {
        let (frames, error) = parseAll(Self.pipeline, chunks: Array(repeating: 1, count: Self.pipeline.count))
        #expect(error == nil)
        #expect(frames == Self.expected)
    }

    @Test("waits for a large value without rescanning it")
    func largeValue() {
        let parser = RequestParser()
        let value = String(repeating: "x", count: 100_000)
        let input = bytes("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100000\r\n\(value)\r\n")
        input.withUnsafeBufferPointer { b in
            #expect(parser.parse(b.baseAddress!, count: 40) == .needMore)
            #expect(parser.bytesNeeded == input.count)
            #expect(parser.parse(b.baseAddress!, count: input.count - 1) == .needMore)
            #expect(parser.parse(b.baseAddress!, count: input.count) == .frame(length: input.count, inline: false))
            #expect(parser.arguments(base: b.baseAddress!)[2].count == 100_000)
        }
    }

    @Test("inline commands follow sdssplitargs", arguments: [
        ("GET key\r\n", ["GET", "key"]),
        ("  SET   a    b  \n", ["SET", "a", "b"]),
        ("SET k \"a\\x41\\n\\\"\"\r\n", ["SET", "k", "aA\n\""]),
        ("SET k 'it\\'s'\r\n", ["SET", "k", "it's"]),
        ("ECHO \"\"\r\n", ["ECHO", ""]),
    ])
    func inline(input: String, expected: [String]) {
        let (frames, error) = parseAll(bytes(input), chunks: [])
        #expect(error == nil)
        #expect(frames == [expected])
    }

    @Test("an empty inline line and *0 / *-1 are skipped")
    func emptyRequests() {
        let (frames, error) = parseAll(bytes("\r\n\n*0\r\n*-1\r\nPING\r\n"), chunks: [])
        #expect(error == nil)
        #expect(frames == [["PING"]])
    }

    @Test("protocol errors carry Redis's texts", arguments: [
        ("*abc\r\n", "ERR Protocol error: invalid multibulk length"),
        ("*1\r\n$abc\r\n", "ERR Protocol error: invalid bulk length"),
        ("*1\r\n$-5\r\n", "ERR Protocol error: invalid bulk length"),
        ("*1\r\n+x\r\n", "ERR Protocol error: expected '$', got '+'"),
        ("SET \"a b\r\n", "ERR Protocol error: unbalanced quotes in request"),
        ("SET \"a\"b c\r\n", "ERR Protocol error: unbalanced quotes in request"),
        ("*99999999999999999999999\r\n", "ERR Protocol error: invalid multibulk length"),
        ("*2000000\r\n", "ERR Protocol error: invalid multibulk length"),
        ("*1\r\n$600000000\r\n", "ERR Protocol error: invalid bulk length"),
    ])
    func protocolErrors(input: String, message: String) {
        let (_, error) = parseAll(bytes(input), chunks: [])
        #expect(error?.message == message)
    }

    @Test("an inline line past 64 KB without a newline is too big")
    func tooBigInline() {
        let (_, error) = parseAll(Array(repeating: UInt8(ascii: "a"), count: 64 * 1024 + 1), chunks: [1000])
        #expect(error == .tooBigInlineRequest)
        let (_, error2) = parseAll(bytes("*1\r\n$") + Array(repeating: UInt8(ascii: "1"), count: 70_000), chunks: [])
        #expect(error2 == .tooBigBulkCountString)
    }

    @Test("a whole inline line past the limit is too big, however it arrived")
    func tooBigTerminatedInline() {
        let line = bytes("ECHO ") + Array(repeating: UInt8(ascii: "a"), count: 5000) + bytes("\r\n")
        let parser = RequestParser(maxInlineLength: 4096)
        let result = line.withUnsafeBufferPointer { parser.parse($0.baseAddress!, count: $0.count) }
        #expect(result == .error(.tooBigInlineRequest))
        let short = bytes("ECHO ") + Array(repeating: UInt8(ascii: "a"), count: 4000) + bytes("\r\n")
        let ok = short.withUnsafeBufferPointer { parser.parse($0.baseAddress!, count: $0.count) }
        #expect(ok == .frame(length: short.count, inline: true))
    }

    @Test("the multibulk count limit is configurable")
    func multibulkLimit() {
        let parser = RequestParser(maxMultibulkCount: 2)
        let ok = bytes("*2\r\n$4\r\nECHO\r\n$1\r\na\r\n")
        #expect(ok.withUnsafeBufferPointer { parser.parse($0.baseAddress!, count: $0.count) } == .frame(length: ok.count, inline: false))
        let tooMany = bytes("*3\r\n")
        #expect(tooMany.withUnsafeBufferPointer { parser.parse($0.baseAddress!, count: $0.count) } == .error(.invalidMultibulkLength))
    }

    @Test("expected '$' shows the byte as Redis does: CR and LF as spaces, others raw")
    func expectedDollarBytes() {
        #expect(ProtocolError.expectedDollar(got: 13).reply == bytes("-ERR Protocol error: expected '$', got ' '\r\n"))
        #expect(ProtocolError.expectedDollar(got: 10).message == "ERR Protocol error: expected '$', got ' '")
        #expect(ProtocolError.expectedDollar(got: 0xFF).reply
                == bytes("-ERR Protocol error: expected '$', got '") + [0xFF] + bytes("'\r\n"))
        #expect(ProtocolError.invalidBulkLength.reply == bytes("-ERR Protocol error: invalid bulk length\r\n"))
    }

    @Test("a line longer than the inline limit is refused however the bytes arrive", arguments: [[], [5], [40]])
    func tooBigLineInOneRead(chunks: [Int]) {
        // Found by FuzzRequestParser: the limit held only when a read ended inside the line.
        let parser = { RequestParser(maxInlineLength: 32) }
        let long = String(repeating: "v", count: 40)
        #expect(parseAll(bytes("SET k \(long)\r\n"), chunks: chunks, parser: parser()).1 == .tooBigInlineRequest)
        #expect(parseAll(bytes("*1\(String(repeating: "0", count: 40))\r\n"), chunks: chunks, parser: parser()).1
                == .tooBigMultibulkCountString)
        #expect(parseAll(bytes("*1\r\n$\(String(repeating: "0", count: 40))3\r\nGET\r\n"), chunks: chunks,
                         parser: parser()).1 == .tooBigBulkCountString)
        // At the limit exactly, still a request.
        let (frames, error) = parseAll(bytes("SET k \(String(repeating: "v", count: 25))\r\n"), chunks: chunks,
                                       parser: parser())
        #expect(error == nil && frames.count == 1)
    }

    @Test("many arguments grow the offset tables")
    func manyArguments() {
        var s = "*2001\r\n$4\r\nMSET\r\n"
        for i in 0..<2000 { let v = "k\(i)"; s += "$\(v.utf8.count)\r\n\(v)\r\n" }
        let (frames, error) = parseAll(bytes(s), chunks: [7])
        #expect(error == nil)
        #expect(frames.first?.count == 2001)
        #expect(frames.first?.last == "k1999")
    }

    @Test("the one-pass length reader agrees with memchr + parseInteger wherever it answers")
    func shortLengthAgrees() {
        let lines = ["3\r\n", "0\r", "16\r\n", "007\r", "-1\r", "+3\r", "\r", "12", "1a\r", "3 \r",
                     "999999999999999999\r", "1000000000000000000\r", "99999999999999999999\r", "5\n", ""]
        for line in lines {
            let bytes = Array(line.utf8)
            bytes.withUnsafeBufferPointer { b in
                guard let base = b.baseAddress else { return }
                let fast = shortLength(base, from: 0, count: b.count)
                let cr = findByte(13, base, from: 0, count: b.count)
                if let fast {
                    #expect(fast.cr == cr, "\(line)")
                    #expect(fast.value == parseInteger(base, cr!), "\(line)")
                } else {
                    // Declined: only lines the general path must judge (not plain short digits then CR).
                    let digits = cr.map { bytes[0..<$0].allSatisfy { $0 >= 48 && $0 <= 57 } && $0 > 0 && $0 <= 18 } ?? false
                    #expect(!digits, "\(line) should have been read in one pass")
                }
            }
        }
    }
}
