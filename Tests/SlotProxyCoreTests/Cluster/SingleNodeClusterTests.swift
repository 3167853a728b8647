import Testing
@testable import SlotProxyCore

@Suite("SingleNodeCluster")
struct SingleNodeClusterTests {
    let cluster = SingleNodeCluster(nodeID: SingleNodeCluster.nodeID(seed: "127.0.0.1 7777"), host: "127.0.0.1", port: 7777)

    @Test("the node id is 40 hex digits, the same for the same seed, different for another")
    func nodeID() {
        let id = SingleNodeCluster.nodeID(seed: "127.0.0.1 7777")
        #expect(id.count == 40)
        #expect(id.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) })
        #expect(id == SingleNodeCluster.nodeID(seed: "127.0.0.1 7777"))
        #expect(id != SingleNodeCluster.nodeID(seed: "127.0.0.1 7778"))
    }

    @Test("CLUSTER INFO: ok, every slot, one node, when the slot map is complete")
    func infoComplete() {
        let info = cluster.info()
        #expect(info.hasPrefix("cluster_state:ok\r\ncluster_slots_assigned:16384\r\ncluster_slots_ok:16384\r\n"))
        #expect(info.contains("\r\ncluster_known_nodes:1\r\ncluster_size:1\r\n"))
        #expect(info.hasSuffix("\r\n"))
    }

    @Test("CLUSTER INFO: fail, with the slots that cannot be routed, while the slot map is incomplete")
    func infoIncomplete() {
        var partial = cluster
        partial.routableSlots = 10000
        let info = partial.info()
        #expect(info.hasPrefix("cluster_state:fail\r\ncluster_slots_assigned:16384\r\ncluster_slots_ok:10000\r\n"))
        #expect(info.contains("cluster_slots_fail:6384\r\n"))
    }

    @Test("CLUSTER SLOTS: one range served by the proxy, encoded like Redis 7.0's")
    func slots() {
        #expect(RESPReply.encode(cluster.slots(), protocolVersion: 2) == Array(
            "*1\r\n*3\r\n:0\r\n:16383\r\n*4\r\n$9\r\n127.0.0.1\r\n:7777\r\n$40\r\n\(cluster.nodeID)\r\n*0\r\n".utf8))
        // RESP3: the (empty) networking metadata is a map, as in Redis 7.0.
        #expect(RESPReply.encode(cluster.slots(), protocolVersion: 3).suffix(4) == Array("%0\r\n".utf8)[...])
    }

    @Test("CLUSTER SHARDS: one shard, all slots, the proxy as its online primary")
    func shards() throws {
        let shards = try #require(cluster.shards().elements)
        #expect(shards.count == 1)
        #expect(shards[0]["slots"] == .array([.integer(0), .integer(16383)]))
        let nodes = try #require(shards[0]["nodes"]?.elements)
        #expect(nodes.count == 1)
        #expect(nodes[0]["id"]?.string == cluster.nodeID)
        #expect(nodes[0]["port"] == .integer(7777))
        #expect(nodes[0]["ip"]?.string == "127.0.0.1")
        #expect(nodes[0]["role"]?.string == "master")
        #expect(nodes[0]["health"]?.string == "online")
        // What the proxy's own topology parser reads from it: one primary owning every slot.
        let topology = try ClusterTopology.fromClusterShards(cluster.shards())
        #expect(topology.coversAllSlots)
        #expect(topology.shards.count == 1)
    }

    @Test("CLUSTER NODES: one line, myself,master, connected, 0-16383")
    func nodes() {
        #expect(cluster.nodes() == "\(cluster.nodeID) 127.0.0.1:7777@0 myself,master - 0 0 0 connected 0-16383\n")
    }
}
