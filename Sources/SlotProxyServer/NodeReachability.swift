// Which cluster nodes the proxy currently cannot reach, over all workers and connections, so a
// node going away and coming back is one log line each however many connections notice it.
//
//   BackendConnection.fail ──lost(node)──▶ first to report it? ─▶ "connection to node lost"
//   BackendConnection connected ──restored(node)──▶ was it lost? ─▶ "connection to node restored"
//
// Cold path only (failures and connects), so a lock is fine here.

import Synchronization
import SlotProxyCore

final class NodeReachability: Sendable {
    /// Unreachable nodes, with when they were first reported (monotonic seconds).
    private let lostSince = Mutex<[NodeAddress: Double]>([:])

    /// Records that a connection to `node` failed; true for the first report since the node
    /// was last reachable (the caller logs it).
    func lost(_ node: NodeAddress, at now: Double) -> Bool {
        lostSince.withLock { lost in
            guard lost[node] == nil else { return false }
            lost[node] = now
            return true
        }
    }

    /// Records that a connection to `node` succeeded; the seconds it was unreachable when it
    /// had been reported lost (the caller logs it), nil otherwise.
    func restored(_ node: NodeAddress, at now: Double) -> Double? {
        lostSince.withLock { lost in lost.removeValue(forKey: node).map { now - $0 } }
    }

    /// The nodes reported lost and not reached since.
    var unreachable: [NodeAddress] {
        lostSince.withLock { Array($0.keys) }
    }
}
