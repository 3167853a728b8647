// ScanCursor: the proxy's SCAN cursor names a primary by a slot it owns plus that node's own
// cursor; next() walks the primaries in the order of their lowest slot and ends with nil.

import Testing
@testable import SlotProxyCore

@Suite("ScanCursor")
struct ScanCursorTests {
    private let a = NodeAddress(host: "127.0.0.1", port: 7001)
    private let b = NodeAddress(host: "127.0.0.1", port: 7002)
    private let c = NodeAddress(host: "127.0.0.1", port: 7003)

    private func shard(_ address: NodeAddress, _ ranges: [ClosedRange<Int>]) -> ClusterShard {
        ClusterShard(slotRanges: ranges, primary: ClusterNode(id: "", address: address, role: .primary, health: .online),
                     replicas: [])
    }

    /// Three primaries; listed out of slot order so node indices differ from the walk order.
    private func threePrimaries() -> SlotMap {
        SlotMap(topology: ClusterTopology(shards: [shard(c, [10923...16383]), shard(a, [0...5460]), shard(b, [5461...10922])]))
    }

    private func s(_ n: UInt16) -> HashSlot { HashSlot(rawValue: n) }

    @Test("encode and decode are inverse; cursor 0 is the start (slot 0, node cursor 0)")
    func roundTrip() throws {
        for (slot, nodeCursor) in [(UInt16(0), UInt64(0)), (5461, 0), (10923, 1), (16383, 123_456_789), (1, (1 << 50) - 1)] {
            let cursor = ScanCursor(slot: s(slot), nodeCursor: nodeCursor)
            let encoded = try #require(cursor.encoded)
            #expect(ScanCursor(encoded: encoded) == cursor)
        }
        #expect(ScanCursor(slot: s(0), nodeCursor: 0).encoded == 0)
        #expect(ScanCursor(slot: s(5461), nodeCursor: 3).encoded == 3 << 14 | 5461)
        #expect(ScanCursor(encoded: 0) == ScanCursor(slot: s(0), nodeCursor: 0))
        #expect(ScanCursor(encoded: UInt64.max) == ScanCursor(slot: s(16383), nodeCursor: UInt64.max >> 14))
    }

    @Test("a node cursor too large for 50 bits has no encoding")
    func tooLarge() {
        #expect(ScanCursor(slot: s(7), nodeCursor: 1 << 50).encoded == nil)
        #expect(ScanCursor(slot: s(7), nodeCursor: UInt64.max).encoded == nil)
    }

    @Test("next() walks three primaries in slot order and ends in nil")
    func walk() throws {
        let map = threePrimaries()
        var cursor = ScanCursor(encoded: 0)
        var visited: [NodeAddress] = []
        var steps = 0
        // Each node answers twice: first a non-zero cursor (stay), then 0 (move on).
        while steps < 20 {
            let node = try #require(map.primaryIndex(for: cursor.slot))
            if visited.last != map.primaries[Int(node)] { visited.append(map.primaries[Int(node)]) }
            let nodeReply: UInt64 = cursor.nodeCursor == 0 ? 99 : 0
            guard let next = ScanCursor.next(after: cursor.slot, nextNodeCursor: nodeReply, in: map) else { break }
            #expect(next.encoded != 0, "a cursor in the middle of the walk must not read as the end")
            cursor = next
            steps += 1
        }
        #expect(visited == [a, b, c])
        #expect(steps == 5)
        #expect(ScanCursor.next(after: s(0), nextNodeCursor: 99, in: map) == ScanCursor(slot: s(0), nodeCursor: 99))
        #expect(ScanCursor.next(after: s(0), nextNodeCursor: 0, in: map) == ScanCursor(slot: s(5461), nodeCursor: 0))
        #expect(ScanCursor.next(after: s(5461), nextNodeCursor: 0, in: map) == ScanCursor(slot: s(10923), nodeCursor: 0))
        #expect(ScanCursor.next(after: s(10923), nextNodeCursor: 0, in: map) == nil)
    }

    @Test("a cursor naming any slot of a node continues at that node's lowest slot")
    func anySlotOfNode() {
        let map = threePrimaries()
        #expect(ScanCursor.next(after: s(7000), nextNodeCursor: 5, in: map) == ScanCursor(slot: s(5461), nodeCursor: 5))
        #expect(ScanCursor.next(after: s(7000), nextNodeCursor: 0, in: map) == ScanCursor(slot: s(10923), nodeCursor: 0))
    }

    @Test("a primary owning scattered ranges is walked once")
    func scatteredRanges() {
        // a: 0-99 and 9000-9099; b: 100-8999; c: 9100-16383.
        let map = SlotMap(topology: ClusterTopology(shards: [
            shard(a, [0...99, 9000...9099]), shard(b, [100...8999]), shard(c, [9100...16383]),
        ]))
        #expect(ScanCursor.next(after: s(0), nextNodeCursor: 0, in: map) == ScanCursor(slot: s(100), nodeCursor: 0))
        #expect(ScanCursor.next(after: s(100), nextNodeCursor: 0, in: map) == ScanCursor(slot: s(9100), nodeCursor: 0))
        #expect(ScanCursor.next(after: s(9100), nextNodeCursor: 0, in: map) == nil)
        #expect(ScanCursor.next(after: s(9050), nextNodeCursor: 4, in: map) == ScanCursor(slot: s(0), nodeCursor: 4))
    }

    @Test("when the slot a cursor names moved to another node, the walk continues there")
    func nodesChange() throws {
        let before = threePrimaries()
        let cursor = try #require(ScanCursor.next(after: s(0), nextNodeCursor: 0, in: before))
        #expect(cursor == ScanCursor(slot: s(5461), nodeCursor: 0))
        // b's slots went to c; a client still holds a cursor naming slot 5461.
        let after = SlotMap(topology: ClusterTopology(shards: [shard(a, [0...5460]), shard(c, [5461...16383])]))
        let c = try #require(after.index(of: self.c))
        #expect(after.primaryIndex(for: cursor.slot) == c)
        #expect(ScanCursor.next(after: cursor.slot, nextNodeCursor: 8, in: after) == ScanCursor(slot: s(5461), nodeCursor: 8))
        #expect(ScanCursor.next(after: cursor.slot, nextNodeCursor: 0, in: after) == nil)
        // A MOVED patch gives slot 5461 to a, whose lowest slot is 0: the walk goes on after a.
        var patched = before
        patched.assign(s(5461), to: a)
        #expect(ScanCursor.next(after: s(5461), nextNodeCursor: 2, in: patched) == ScanCursor(slot: s(0), nodeCursor: 2))
        #expect(ScanCursor.next(after: s(5461), nextNodeCursor: 0, in: patched) == ScanCursor(slot: s(5462), nodeCursor: 0))
    }

    @Test("a single primary: the walk is that node's own")
    func onePrimary() {
        let map = SlotMap(topology: ClusterTopology(shards: [shard(a, [0...16383])]))
        #expect(ScanCursor.next(after: s(0), nextNodeCursor: 12, in: map) == ScanCursor(slot: s(0), nodeCursor: 12))
        #expect(ScanCursor.next(after: s(0), nextNodeCursor: 0, in: map) == nil)
    }
}
