import Testing
@testable import SlotProxyCore

@Suite("TopologyDiff")
struct TopologyDiffTests {
    private func node(_ port: Int, _ role: ClusterNode.Role, _ health: ClusterNode.Health = .online) -> ClusterNode {
        ClusterNode(id: "id\(port)", address: NodeAddress(host: "127.0.0.1", port: port), role: role, health: health)
    }

    private func address(_ port: Int) -> NodeAddress { NodeAddress(host: "127.0.0.1", port: port) }

    /// Three shards, primaries 7000-7002 with replicas 7003-7005.
    private var threeByThree: ClusterTopology {
        ClusterTopology(shards: [
            ClusterShard(slotRanges: [0...5460], primary: node(7000, .primary), replicas: [node(7003, .replica)]),
            ClusterShard(slotRanges: [5461...10922], primary: node(7001, .primary), replicas: [node(7004, .replica)]),
            ClusterShard(slotRanges: [10923...16383], primary: node(7002, .primary), replicas: [node(7005, .replica)]),
        ])
    }

    @Test("the same topology read twice differs in nothing")
    func unchanged() {
        #expect(TopologyDiff(from: threeByThree, to: threeByThree).isEmpty)
    }

    @Test("a health flap is no event: nodes are told apart by address")
    func healthFlap() {
        var flapped = threeByThree
        flapped.shards[0].replicas[0].health = .failed
        #expect(TopologyDiff(from: threeByThree, to: flapped).isEmpty)
    }

    @Test("a replica promoted after its primary died is a failover naming both, and no node leaves")
    func failover() {
        var after = threeByThree
        after.shards[1] = ClusterShard(slotRanges: [5461...10922], primary: node(7004, .primary), replicas: [])
        after.shards.append(ClusterShard(slotRanges: [], primary: node(7001, .primary, .failed), replicas: []))
        let diff = TopologyDiff(from: threeByThree, to: after)
        #expect(diff.failovers == [.init(formerPrimary: address(7001), newPrimary: address(7004), slots: 5462)])
        #expect(diff.added.isEmpty)
        #expect(diff.removed.isEmpty)
    }

    @Test("a failed primary that returns as a replica is no failover of its own")
    func formerPrimaryRejoins() {
        var during = threeByThree
        during.shards[1] = ClusterShard(slotRanges: [5461...10922], primary: node(7004, .primary), replicas: [node(7001, .replica, .failed)])
        var after = during
        after.shards[1].replicas[0].health = .online
        #expect(TopologyDiff(from: during, to: after).isEmpty)
    }

    @Test("a node that joins is added and a node forgotten is removed, with its role")
    func addedAndRemoved() {
        var after = threeByThree
        after.shards[0].replicas.append(node(7006, .replica))
        after.shards[2].replicas = []
        let diff = TopologyDiff(from: threeByThree, to: after)
        #expect(diff.added.map(\.address) == [address(7006)])
        #expect(diff.added.first?.role == .replica)
        #expect(diff.removed.map(\.address) == [address(7005)])
        #expect(diff.failovers.isEmpty)
    }

    @Test("the first read of an empty topology adds every node once")
    func firstRead() {
        let diff = TopologyDiff(from: ClusterTopology(shards: []), to: threeByThree)
        #expect(diff.added.map(\.address.port) == [7000, 7003, 7001, 7004, 7002, 7005])
        #expect(diff.removed.isEmpty && diff.failovers.isEmpty)
    }
}
