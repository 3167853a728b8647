// ReplyParts: parts collected in any order into one reusable buffer; the allocation-free
// merges (MGET key order, DEL sum, MSET all-OK) must give exactly what ReplyMerger gives, and
// anything unusual (an error, a wrong shape) must fall back to it.

import Testing
@testable import SlotProxyCore

@Suite("ReplyParts")
struct ReplyPartsTests {
    private func b(_ s: String) -> [UInt8] { Array(s.utf8) }

    private func merged(_ rule: ReplyMerge, _ replies: [[UInt8]], order: [Int]? = nil, ordinals: [[Int]] = [],
                        keyCount: Int = 0, into parts: inout ReplyParts) -> [UInt8] {
        parts.reset(parts: replies.count)
        if !ordinals.isEmpty { parts.setKeyOrdinals(ordinals, keyCount: keyCount) }
        var last = false
        for i in order ?? Array(replies.indices) {
            last = replies[i].withUnsafeBytes { parts.add(i, $0) }
        }
        #expect(last)
        var out: [UInt8] = []
        parts.merge(rule, partName: "slots", into: &out)
        return out
    }

    private func check(_ rule: ReplyMerge, _ replies: [[UInt8]], ordinals: [[Int]] = [], keyCount: Int = 0) {
        var parts = ReplyParts()
        let expected = ReplyMerger.merge(rule, parts: replies, keyOrdinals: ordinals, keyCount: keyCount, partName: "slots")
        // In order, reversed, and reusing the same storage twice.
        #expect(merged(rule, replies, ordinals: ordinals, keyCount: keyCount, into: &parts) == expected)
        #expect(merged(rule, replies, order: Array(replies.indices.reversed()), ordinals: ordinals, keyCount: keyCount,
                       into: &parts) == expected)
    }

    @Test("MGET values go back to their keys' positions, nils kept, whatever the arrival order")
    func keyOrder() {
        check(.keyOrder, [b("*2\r\n$1\r\na\r\n$-1\r\n"), b("*1\r\n$2\r\nbb\r\n"), b("*1\r\n*1\r\n:5\r\n")],
              ordinals: [[0, 2], [1], [3]], keyCount: 4)
        check(.keyOrder, [b("*1\r\n$1\r\na\r\n"), b("*2\r\n$1\r\nb\r\n$1\r\nc\r\n")], ordinals: [[2], [0, 1]], keyCount: 3)
        // Wrong element count, not an array, an error: ReplyMerger's own answers.
        check(.keyOrder, [b("*2\r\n$1\r\na\r\n$1\r\nb\r\n"), b("*1\r\n$1\r\nc\r\n")], ordinals: [[0], [1]], keyCount: 2)
        check(.keyOrder, [b(":1\r\n"), b("*1\r\n$1\r\nc\r\n")], ordinals: [[0], [1]], keyCount: 2)
        check(.keyOrder, [b("*1\r\n$1\r\na\r\n"), b("-MOVED 5 127.0.0.1:7001\r\n")], ordinals: [[0], [1]], keyCount: 2)
    }

    @Test("sums and all-OK, with errors and unexpected replies handled by ReplyMerger")
    func sumAndOK() {
        check(.sum, [b(":1\r\n"), b(":0\r\n"), b(":-2\r\n"), b(":1000000000000\r\n")])
        check(.sum, [b(":1\r\n"), b("+OK\r\n")])
        check(.sum, [b(":1\r\n"), b("-ERR x\r\n")])
        check(.allOK, [RESPReply.ok, RESPReply.ok, RESPReply.ok])
        check(.allOK, [RESPReply.ok, b("+QUEUED\r\n")])
        check(.allOK, [b("-OOM no\r\n"), b("-OOM no\r\n")])
    }

    @Test("a part already in, or out of range, is ignored")
    func duplicates() {
        var parts = ReplyParts()
        parts.reset(parts: 2)
        #expect(b(":1\r\n").withUnsafeBytes { parts.add(0, $0) } == false)
        #expect(b(":9\r\n").withUnsafeBytes { parts.add(0, $0) } == false)
        #expect(b(":9\r\n").withUnsafeBytes { parts.add(5, $0) } == false)
        #expect(b(":2\r\n").withUnsafeBytes { parts.add(1, $0) } == true)
        var out: [UInt8] = []
        parts.merge(.sum, partName: "slots", into: &out)
        #expect(out == b(":3\r\n"))
    }
}
