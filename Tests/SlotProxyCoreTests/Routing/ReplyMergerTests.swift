// ReplyMerger: the parts of a split or fanned-out request become the client's one reply, by
// rule. Replies are written out as the exact bytes a node sends (RESP2 and RESP3).

import Testing
@testable import SlotProxyCore

@Suite("ReplyMerger")
struct ReplyMergerTests {
    private func b(_ s: String) -> [UInt8] { Array(s.utf8) }
    private func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    // MARK: - keyOrder

    @Test("MGET parts are put back in key order (RESP2, nils as $-1)")
    func keyOrderResp2() {
        let parts = [b("*2\r\n$2\r\nva\r\n$-1\r\n"), b("*1\r\n$2\r\nvb\r\n"), b("*1\r\n$-1\r\n")]
        let merged = ReplyMerger.merge(.keyOrder, parts: parts, keyOrdinals: [[0, 2], [1], [3]], keyCount: 4)
        #expect(text(merged) == "*4\r\n$2\r\nva\r\n$2\r\nvb\r\n$-1\r\n$-1\r\n")
    }

    @Test("MGET parts are put back in key order (RESP3, nils as _)")
    func keyOrderResp3() {
        let parts = [b("*2\r\n_\r\n$2\r\nvc\r\n"), b("*1\r\n_\r\n")]
        let merged = ReplyMerger.merge(.keyOrder, parts: parts, keyOrdinals: [[1, 2], [0]], keyCount: 3)
        #expect(text(merged) == "*3\r\n_\r\n_\r\n$2\r\nvc\r\n")
    }

    @Test("a key named twice gets its value twice, at both places")
    func keyOrderDuplicates() {
        let parts = [b("*3\r\n$1\r\na\r\n$1\r\na\r\n$1\r\na\r\n"), b("*1\r\n$1\r\nb\r\n")]
        let merged = ReplyMerger.merge(.keyOrder, parts: parts, keyOrdinals: [[0, 2, 3], [1]], keyCount: 4)
        #expect(text(merged) == "*4\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\na\r\n$1\r\na\r\n")
    }

    @Test("values holding CRLF and RESP-looking bytes are copied whole")
    func keyOrderBinary() {
        let parts = [b("*1\r\n$9\r\n*1\r\n$1\r\nx\r\n"), b("*1\r\n$0\r\n\r\n")]
        let merged = ReplyMerger.merge(.keyOrder, parts: parts, keyOrdinals: [[1], [0]], keyCount: 2)
        #expect(text(merged) == "*2\r\n$0\r\n\r\n$9\r\n*1\r\n$1\r\nx\r\n")
    }

    @Test("a part with the wrong number of elements or not an array is an unexpected reply")
    func keyOrderUnexpected() {
        let short = ReplyMerger.merge(.keyOrder, parts: [b("*1\r\n$1\r\na\r\n"), b("*1\r\n$1\r\nb\r\n")],
                                      keyOrdinals: [[0, 2], [1]], keyCount: 3)
        #expect(text(short).hasPrefix("-ERR slotproxy: unexpected reply from a node while merging: *1"))
        let notArray = ReplyMerger.merge(.keyOrder, parts: [b(":1\r\n"), b("*1\r\n$1\r\nb\r\n")],
                                         keyOrdinals: [[0], [1]], keyCount: 2)
        #expect(text(notArray) == "-ERR slotproxy: unexpected reply from a node while merging: :1  \r\n")
        let missingPlan = ReplyMerger.merge(.keyOrder, parts: [b("*1\r\n$1\r\na\r\n")], keyOrdinals: [], keyCount: 1)
        #expect(text(missingPlan).hasPrefix("-ERR slotproxy: unexpected reply"))
    }

    // MARK: - sum

    @Test("integer replies are added up")
    func sum() {
        #expect(text(ReplyMerger.merge(.sum, parts: [b(":1\r\n"), b(":0\r\n"), b(":2\r\n")])) == ":3\r\n")
        #expect(text(ReplyMerger.merge(.sum, parts: [b(":0\r\n")])) == ":0\r\n")
        #expect(text(ReplyMerger.merge(.sum, parts: [b(":-5\r\n"), b(":7\r\n")])) == ":2\r\n")
        #expect(text(ReplyMerger.merge(.sum, parts: [b(":1000000000000\r\n"), b(":1\r\n")])) == ":1000000000001\r\n")
    }

    @Test("a part that is not an integer makes the sum an unexpected reply")
    func sumUnexpected() {
        let merged = ReplyMerger.merge(.sum, parts: [b(":1\r\n"), b("+OK\r\n")])
        #expect(text(merged).hasPrefix("-ERR slotproxy: unexpected reply from a node while merging: +OK"))
    }

    // MARK: - allOK, first

    @Test("+OK only when every part said OK")
    func allOK() {
        #expect(ReplyMerger.merge(.allOK, parts: [RESPReply.ok, RESPReply.ok, RESPReply.ok]) == RESPReply.ok)
        #expect(text(ReplyMerger.merge(.allOK, parts: [RESPReply.ok, b("+QUEUED\r\n"), RESPReply.ok])) == "+QUEUED\r\n")
        let failed = ReplyMerger.merge(.allOK, parts: [RESPReply.ok, b("-OOM no memory\r\n")], partName: "slots")
        #expect(text(failed) == "-ERR slotproxy: 1 of 2 slots failed: OOM no memory\r\n")
    }

    @Test("the first part's reply, as it is")
    func first() {
        let sha = b("$40\r\ne0e1f9fabfc9d4800c877a703b823ac0578ff8db\r\n")
        #expect(ReplyMerger.merge(.first, parts: [sha, sha, sha]) == sha)
        #expect(ReplyMerger.merge(.none, parts: [b(":5\r\n")]) == b(":5\r\n"))
        #expect(text(ReplyMerger.merge(.first, parts: [])) == "-ERR slotproxy: no reply\r\n")
    }

    // MARK: - oneSucceeded

    @Test("the first reply that is not an error wins (SCRIPT KILL); all failed: the first error as it is")
    func oneSucceeded() {
        let notBusy = b("-NOTBUSY No scripts in execution right now.\r\n")
        #expect(ReplyMerger.merge(.oneSucceeded, parts: [notBusy, RESPReply.ok, notBusy], partName: "primaries") == RESPReply.ok)
        #expect(ReplyMerger.merge(.oneSucceeded, parts: [notBusy, notBusy, notBusy], partName: "primaries") == notBusy)
        let down = b("-ERR slotproxy: connection to 127.0.0.1:7002 failed (Connection refused)\r\n")
        #expect(ReplyMerger.merge(.oneSucceeded, parts: [down, notBusy]) == down)
        #expect(text(ReplyMerger.merge(.oneSucceeded, parts: [])) == "-ERR slotproxy: no reply\r\n")
    }

    // MARK: - union

    @Test("arrays are concatenated in part order; empty arrays add nothing")
    func union() {
        let merged = ReplyMerger.merge(.union, parts: [b("*2\r\n$1\r\na\r\n$1\r\nb\r\n"), b("*0\r\n"), b("*1\r\n$1\r\nc\r\n")])
        #expect(text(merged) == "*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n")
        #expect(text(ReplyMerger.merge(.union, parts: [b("*0\r\n"), b("*0\r\n"), b("*0\r\n")])) == "*0\r\n")
        #expect(text(ReplyMerger.merge(.union, parts: [b("~1\r\n$1\r\na\r\n"), b("~1\r\n$1\r\nb\r\n")]))
                == "*2\r\n$1\r\na\r\n$1\r\nb\r\n")
        #expect(text(ReplyMerger.merge(.union, parts: [b("*0\r\n"), b(":3\r\n")])).hasPrefix("-ERR slotproxy: unexpected reply"))
    }

    // MARK: - logicalAnd

    @Test("integer arrays are ANDed element by element (SCRIPT EXISTS)")
    func logicalAnd() {
        let merged = ReplyMerger.merge(.logicalAnd, parts: [b("*3\r\n:1\r\n:1\r\n:0\r\n"), b("*3\r\n:1\r\n:0\r\n:0\r\n"),
                                                            b("*3\r\n:1\r\n:1\r\n:1\r\n")])
        #expect(text(merged) == "*3\r\n:1\r\n:0\r\n:0\r\n")
        #expect(text(ReplyMerger.merge(.logicalAnd, parts: [b("*1\r\n:1\r\n")])) == "*1\r\n:1\r\n")
        #expect(text(ReplyMerger.merge(.logicalAnd, parts: [b("*2\r\n:5\r\n:1\r\n"), b("*2\r\n:1\r\n:0\r\n")]))
                == "*2\r\n:1\r\n:0\r\n")
    }

    @Test("arrays of different lengths or non-integers are unexpected")
    func logicalAndUnexpected() {
        let lengths = ReplyMerger.merge(.logicalAnd, parts: [b("*2\r\n:1\r\n:1\r\n"), b("*1\r\n:1\r\n")])
        #expect(text(lengths).hasPrefix("-ERR slotproxy: unexpected reply"))
        let strings = ReplyMerger.merge(.logicalAnd, parts: [b("*1\r\n$1\r\n1\r\n")])
        #expect(text(strings).hasPrefix("-ERR slotproxy: unexpected reply"))
    }

    // MARK: - failures

    @Test("any failed part turns the whole reply into one error with counts and the first reason")
    func failures() {
        let parts = [b(":1\r\n"), b("-ERR slotproxy: connection to 127.0.0.1:7002 failed (Connection refused)\r\n"),
                     b(":2\r\n"), b("-CLUSTERDOWN The cluster is down\r\n")]
        #expect(text(ReplyMerger.merge(.sum, parts: parts, partName: "primaries"))
                == "-ERR slotproxy: 2 of 4 primaries failed: ERR slotproxy: connection to 127.0.0.1:7002 failed (Connection refused)\r\n")
        let mget = ReplyMerger.merge(.keyOrder, parts: [b("*1\r\n$1\r\na\r\n"), b("-MOVED 5 127.0.0.1:1\r\n")],
                                     keyOrdinals: [[0], [1]], keyCount: 2, partName: "slots")
        #expect(text(mget) == "-ERR slotproxy: 1 of 2 slots failed: MOVED 5 127.0.0.1:1\r\n")
        #expect(ReplyMerger.failureReply([b(":1\r\n"), b("*0\r\n")], partName: "slots") == nil)
    }

    @Test("RESP3 blob errors count as failures")
    func resp3Errors() {
        let blob = b("!21\r\nSYNTAX invalid syntax\r\n")
        #expect(ReplyMerger.errorText(blob) == "SYNTAX invalid syntax")
        #expect(text(ReplyMerger.merge(.union, parts: [b("*0\r\n"), blob], partName: "primaries"))
                == "-ERR slotproxy: 1 of 2 primaries failed: SYNTAX invalid syntax\r\n")
    }

    // MARK: - helpers

    @Test("errorText, integer and elements read single replies")
    func helpers() throws {
        #expect(ReplyMerger.errorText(b("-ERR x y\r\n")) == "ERR x y")
        #expect(ReplyMerger.errorText(b("+OK\r\n")) == nil)
        #expect(ReplyMerger.errorText([]) == nil)
        #expect(ReplyMerger.integer(b(":42\r\n")) == 42)
        #expect(ReplyMerger.integer(b(":-1\r\n")) == -1)
        #expect(ReplyMerger.integer(b("$2\r\n42\r\n")) == nil)
        #expect(ReplyMerger.elements(b("*-1\r\n"))?.isEmpty == true)
        #expect(ReplyMerger.elements(b("$1\r\na\r\n")) == nil)
        // A SCAN reply: a cursor and a nested array, each element whole.
        let scan = try #require(ReplyMerger.elements(b("*2\r\n$2\r\n17\r\n*2\r\n$1\r\na\r\n$1\r\nb\r\n")))
        #expect(scan.map { text(Array($0)) } == ["$2\r\n17\r\n", "*2\r\n$1\r\na\r\n$1\r\nb\r\n"])
        // A truncated array is not read past its end.
        #expect(ReplyMerger.elements(b("*2\r\n$1\r\na\r\n")) == nil)
    }

    @Test("union lists each element once (PUBSUB CHANNELS seen on several nodes)")
    func unionDistinct() {
        let merged = ReplyMerger.merge(.union, parts: [b("*2\r\n$1\r\na\r\n$1\r\nb\r\n"), b("*2\r\n$1\r\nb\r\n$1\r\nc\r\n"), b("*0\r\n")])
        #expect(text(merged) == "*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n")
    }

    @Test("pairSum adds counts per name in first-seen order (PUBSUB NUMSUB)")
    func pairSum() {
        let merged = ReplyMerger.merge(.pairSum, parts: [b("*4\r\n$2\r\nch\r\n:2\r\n$1\r\nx\r\n:0\r\n"),
                                                        b("*4\r\n$2\r\nch\r\n:3\r\n$1\r\nx\r\n:1\r\n")])
        #expect(text(merged) == "*4\r\n$2\r\nch\r\n:5\r\n$1\r\nx\r\n:1\r\n")
        #expect(text(ReplyMerger.merge(.pairSum, parts: [b("*1\r\n:1\r\n")])).hasPrefix("-ERR slotproxy: unexpected reply"))
    }

    @Test("pairSum wraps a count past Int64 instead of trapping")
    func pairSumOverflow() {
        // Seen while writing FuzzSplitPlan: `+=` trapped on two counts of Int64.max.
        let part = b("*2\r\n$2\r\nch\r\n:9223372036854775807\r\n")
        #expect(text(ReplyMerger.merge(.pairSum, parts: [part, part])) == "*2\r\n$2\r\nch\r\n:-2\r\n")
    }
}
