// The parts of one split or fanned-out request, collected as they arrive from different
// primaries (in any order) until the last one completes the client's reply.

import SlotProxyCore

final class PendingMerge {
    /// What becomes of the parts once they are all in.
    enum Finish {
        /// ReplyMerger with the command's rule (MGET, MSET, DEL, DBSIZE, KEYS…).
        case rule(ReplyMerge)
        /// SCAN: the node's reply with its cursor re-encoded for the client.
        case scan(HashSlot)
        /// RANDOMKEY: one non-nil key among the primaries' answers.
        case randomKey
        /// INFO: the proxy's own sections, then the keyspace summed over primaries.
        case info(String)
        /// SCRIPT LOAD: the SHA every primary returned; the script is remembered for healing.
        case scriptLoad([UInt8])
    }

    let finish: Finish
    let partName: String
    let keyOrdinals: [[Int]]
    let keyCount: Int
    private(set) var parts: [[UInt8]?]
    /// The request's bytes for the slow log (one copy, parsed only if it turns out slow),
    /// kept only while the slow log is on.
    var slowlogFrame: [UInt8]?
    private var remaining: Int

    init(_ finish: Finish, parts: Int, partName: String, keyOrdinals: [[Int]] = [], keyCount: Int = 0) {
        self.finish = finish
        self.partName = partName
        self.keyOrdinals = keyOrdinals
        self.keyCount = keyCount
        self.parts = Array(repeating: nil, count: parts)
        self.remaining = parts
    }

    /// Records part `index`; true when it was the last one missing.
    func add(_ index: Int, _ reply: [UInt8]) -> Bool {
        guard index < parts.count, parts[index] == nil else { return false }
        parts[index] = reply
        remaining -= 1
        return remaining == 0
    }

    var collected: [[UInt8]] { parts.map { $0 ?? [] } }
}
