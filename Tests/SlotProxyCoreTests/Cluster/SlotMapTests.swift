import Testing
@testable import SlotProxyCore

@Suite("SlotMap")
struct SlotMapTests {
    private let a = NodeAddress(host: "127.0.0.1", port: 36001)
    private let b = NodeAddress(host: "127.0.0.1", port: 36002)
    private let c = NodeAddress(host: "127.0.0.1", port: 36003)

    private func captured() throws -> SlotMap {
        SlotMap(topology: try ClusterTopology.fromClusterShards(ClusterFixtures.reply("cluster-shards-resp2.resp")))
    }

    @Test("an empty map assigns nothing")
    func empty() {
        let map = SlotMap()
        #expect(map.primaries.isEmpty)
        #expect(map.replicas.isEmpty)
        #expect(!map.isComplete)
        #expect(map.assignedSlotCount == 0)
        #expect(map.primaryIndex(for: HashSlot(rawValue: 0)) == nil)
        #expect(map.primaryIndex(for: HashSlot(rawValue: 16383)) == nil)
        #expect(map.slots(ownedBy: 0).isEmpty)
        #expect(map.firstSlot(ownedBy: 0) == nil)
        #expect(map.slots(ownedBy: SlotMap.unassigned) == [0...16383])
    }

    @Test("compiles the captured topology")
    func fromTopology() throws {
        let map = try captured()
        #expect(map.primaries == [a, b, c])
        #expect(map.replicas == [[], [], []])
        #expect(map.isComplete)
        #expect(map.assignedSlotCount == 16384)
        #expect(map.primaryIndex(for: HashSlot(rawValue: 0)) == 0)
        #expect(map.primaryIndex(for: HashSlot(rawValue: 5460)) == 0)
        #expect(map.primaryIndex(for: HashSlot(rawValue: 5461)) == 1)
        #expect(map.primaryIndex(for: HashSlot(rawValue: 16383)) == 2)
        #expect(map.primaryIndex(for: HashSlot(key: "foo")) == 2)  // the captured cluster said MOVED 12182 → 36003
        #expect(map.slots(ownedBy: 1) == [5461...10922])
        #expect(map.firstSlot(ownedBy: 2) == HashSlot(rawValue: 10923))
        #expect(map.index(of: b) == 1)
        #expect(map.index(of: NodeAddress(host: "127.0.0.1", port: 1)) == nil)
    }

    @Test("every fixture key routes to the primary serving its slot")
    func everySlot() throws {
        let map = try captured()
        for slot in 0..<HashSlot.count {
            let expected: UInt16 = slot <= 5460 ? 0 : (slot <= 10922 ? 1 : 2)
            #expect(map.primaryIndex(for: HashSlot(rawValue: UInt16(slot))) == expected)
        }
    }

    @Test("MOVED patches one slot, adding an unknown primary at the end")
    func movedPatch() throws {
        var map = try captured()
        let slot = HashSlot(rawValue: 3999)
        #expect(map.assign(slot, to: c) == 2)
        #expect(map.primaryIndex(for: slot) == 2)
        #expect(map.slots(ownedBy: 0) == [0...3998, 4000...5460])
        #expect(map.slots(ownedBy: 2) == [3999...3999, 10923...16383])
        #expect(map.firstSlot(ownedBy: 2) == slot)

        let d = NodeAddress(host: "::1", port: 36004)
        #expect(map.assign(HashSlot(rawValue: 0), to: d) == 3)
        #expect(map.primaries == [a, b, c, d])
        #expect(map.replicas.count == 4)
        #expect(map.index(of: d) == 3)
        #expect(map.primaryIndex(for: HashSlot(rawValue: 0)) == 3)
        #expect(map.firstSlot(ownedBy: 0) == HashSlot(rawValue: 1))
        #expect(map.isComplete)
    }

    @Test("completeness follows the assigned slots")
    func completeness() {
        var map = SlotMap()
        for slot in 0..<(HashSlot.count - 1) { map.assign(HashSlot(rawValue: UInt16(slot)), to: a) }
        #expect(map.assignedSlotCount == 16383)
        #expect(!map.isComplete)
        #expect(map.slots(ownedBy: SlotMap.unassigned) == [16383...16383])
        map.assign(HashSlot(rawValue: 16383), to: b)
        #expect(map.isComplete)
        #expect(map.slots(ownedBy: 0) == [0...16382])
        #expect(map.slots(ownedBy: 1) == [16383...16383])
    }

    @Test("maps failed primaries, keeps only usable replicas, leaves primary-less shards unassigned")
    func healthHandling() {
        func node(_ port: Int, _ role: ClusterNode.Role, _ health: ClusterNode.Health) -> ClusterNode {
            ClusterNode(id: "n\(port)", address: NodeAddress(host: "10.0.0.1", port: port), role: role, health: health)
        }
        let topology = ClusterTopology(shards: [
            ClusterShard(slotRanges: [0...99], primary: node(7000, .primary, .online),
                         replicas: [node(7003, .replica, .online), node(7004, .replica, .loading),
                                    node(7005, .replica, .failed), node(7006, .replica, .unknown)]),
            ClusterShard(slotRanges: [100...199], primary: node(7001, .primary, .failed), replicas: [node(7007, .replica, .online)]),
            ClusterShard(slotRanges: [200...299], primary: nil, replicas: [node(7008, .replica, .online)]),
            ClusterShard(slotRanges: [], primary: node(7002, .primary, .failed), replicas: []),
        ])
        let map = SlotMap(topology: topology)
        #expect(map.primaries.map(\.port) == [7000, 7001])
        #expect(map.replicas.map { $0.map(\.port) } == [[7003, 7006], [7007]])
        #expect(map.primaryIndex(for: HashSlot(rawValue: 150)) == 1)
        #expect(map.primaryIndex(for: HashSlot(rawValue: 250)) == nil)
        #expect(map.assignedSlotCount == 200)
        #expect(!map.isComplete)
    }
}
