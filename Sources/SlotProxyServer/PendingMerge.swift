// The parts of one split or fanned-out request, collected as they arrive from different
// primaries (in any order) until the last one completes the client's reply. A worker keeps
// finished ones in a pool (MergePool) and reuses them with their buffers, so a cross-slot
// MGET/MSET/DEL allocates nothing per request once warm.

import SlotProxyCore

final class PendingMerge {
    /// What becomes of the parts once they are all in.
    enum Finish {
        /// The command's merge rule, through ReplyParts (MGET, MSET, DEL, DBSIZE, KEYS…).
        case rule(ReplyMerge)
        /// A reply the client session builds from the parts itself.
        case custom(Custom)
    }

    enum Custom {
        /// SCAN: the node's reply with its cursor re-encoded for the client.
        case scan(HashSlot)
        /// RANDOMKEY: one non-nil key among the primaries' answers.
        case randomKey
        /// INFO: the proxy's own sections, then the keyspace summed over primaries.
        case info(String)
        /// SCRIPT LOAD: the SHA every primary returned; the script is remembered for healing.
        case scriptLoad([UInt8])
    }

    private(set) var finish: Finish = .rule(.none)
    /// What a part is, for error texts ("slots", "primaries").
    private(set) var partName = "parts"
    var parts = ReplyParts()
    /// The request's bytes for the slow log (one copy, parsed only if it turns out slow),
    /// kept only while the slow log is on; the buffer is reused with the merge.
    private(set) var slowlogFrame: [UInt8] = []
    private(set) var hasSlowlogFrame = false

    /// Starts collecting `count` parts (a pooled object is reset with its buffers kept).
    func reset(_ finish: Finish, parts count: Int, partName: String) {
        self.finish = finish
        self.partName = partName
        parts.reset(parts: count)
        hasSlowlogFrame = false
    }

    /// Keeps a copy of the request for the slow log.
    func keepSlowlogFrame(_ frame: UnsafeRawBufferPointer) {
        slowlogFrame.removeAll(keepingCapacity: true)
        slowlogFrame.append(contentsOf: frame)
        hasSlowlogFrame = true
    }

    /// Records part `index`; true when it was the last one missing.
    func add(_ index: Int, _ reply: UnsafeRawBufferPointer) -> Bool {
        parts.add(index, reply)
    }
}

/// A worker's finished PendingMerges, kept for reuse. Bounded in count (enough for every
/// client pipelining deeply at once) and in the buffer each keeps, so a burst of huge MGETs
/// does not pin its memory forever.
struct MergePool {
    private var free: [PendingMerge] = []
    private let limit = 1024
    private let largestKeptBuffer = 16 * 1024

    mutating func take(_ finish: PendingMerge.Finish, parts: Int, partName: String) -> PendingMerge {
        let merge = free.popLast() ?? PendingMerge()
        merge.reset(finish, parts: parts, partName: partName)
        return merge
    }

    /// Returns a merge whose reply was delivered. Only called once the client's ReplyQueue
    /// no longer names it, so a late duplicate part can never reach the next user.
    mutating func recycle(_ merge: PendingMerge) {
        if free.count < limit && merge.parts.bufferCapacity <= largestKeptBuffer
            && merge.slowlogFrame.capacity <= largestKeptBuffer {
            free.append(merge)
        }
    }
}
