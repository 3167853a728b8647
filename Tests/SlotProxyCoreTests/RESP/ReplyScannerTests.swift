import Testing
@testable import SlotProxyCore

@Suite("ReplyScanner")
struct ReplyScannerTests {
    static let replies: [String] = [
        "+OK\r\n", "-MOVED 3999 127.0.0.1:7002\r\n", ":42\r\n", "$5\r\nhe\r\no\r\n", "$-1\r\n", "$0\r\n\r\n",
        "$10\r\n0123456789\r\n", "$064\r\n" + String(repeating: "v", count: 64) + "\r\n",
        "*-1\r\n", "*0\r\n", "*3\r\n$1\r\na\r\n*2\r\n:1\r\n*0\r\n$-1\r\n",
        "%2\r\n+a\r\n:1\r\n+b\r\n*1\r\n_\r\n", "~2\r\n#t\r\n,3.14\r\n", "(12345678901234567890\r\n",
        "=15\r\ntxt:Some string\r\n", "!9\r\nERR oops!\r\n", "|1\r\n+ttl\r\n:3\r\n$1\r\nv\r\n",
        ">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n", "_\r\n",
    ]

    private func scanAll(_ input: [UInt8], cut: Int) -> [Int] {
        var scanner = ReplyScanner()
        var lengths: [Int] = []
        var start = 0
        var available = min(cut, input.count)
        input.withUnsafeBufferPointer { b in
            while start < input.count {
                switch scanner.scan(b.baseAddress! + start, count: available - start) {
                case .complete(let n):
                    lengths.append(n)
                    start += n
                case .needMore:
                    guard available < input.count else { return }
                    available = input.count
                case .malformed:
                    return
                }
            }
        }
        return lengths
    }

    @Test("finds the end of every RESP2 and RESP3 reply, split at every position")
    func everySplit() {
        let input = Array(Self.replies.joined().utf8)
        let expected = Self.replies.map { $0.utf8.count }
        for cut in 0...input.count {
            #expect(scanAll(input, cut: cut) == expected, "cut at \(cut)")
        }
    }

    @Test("a count or length too large for any reply is malformed, not a crash", arguments: [
        "%9223372036854775807\r\n", "|9223372036854775807\r\n", "*9223372036854775807\r\n*9223372036854775807\r\n",
        "$9223372036854775807\r\n", "=9223372036854775806\r\n", "*2\r\n%4611686018427387904\r\n",
    ])
    func hugeCounts(input: String) {
        // Found by FuzzReplyParser: `%9223372036854775807` overflowed the value counter and trapped.
        var scanner = ReplyScanner()
        #expect(scan(input, with: &scanner) == .malformed)
    }

    @Test("an 18-digit bulk length waits for its body (the one-pass length line)")
    func longBulkLength() {
        var scanner = ReplyScanner()
        #expect(scan("$999999999999999999\r\nabc", with: &scanner) == .needMore)
        #expect(scanner.bytesNeeded == 21 + 999_999_999_999_999_999 + 2)   // "$…\r\n", the body, CRLF
    }

    @Test("rejects bytes that are not RESP")
    func malformed() {
        var scanner = ReplyScanner()
        #expect(scan("?what\r\n", with: &scanner) == .malformed)
    }

    /// One `scan` over all of `text`.
    private func scan(_ text: String, with scanner: inout ReplyScanner) -> ReplyScanner.Result {
        Array(text.utf8).withUnsafeBufferPointer { scanner.scan($0.baseAddress!, count: $0.count) }
    }
}
