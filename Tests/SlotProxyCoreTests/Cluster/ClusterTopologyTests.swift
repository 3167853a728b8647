import Testing
@testable import SlotProxyCore

@Suite("ClusterTopology")
struct ClusterTopologyTests {
    typealias F = ClusterFixtures

    private func primary(_ id: String, _ host: String, _ port: Int, _ health: ClusterNode.Health) -> ClusterNode {
        ClusterNode(id: id, address: NodeAddress(host: host, port: port), role: .primary, health: health)
    }

    /// The captured three-primary cluster, with `host(port)` as each node's address.
    private func expected(health: ClusterNode.Health, host: (Int) -> String = { _ in "127.0.0.1" }) -> ClusterTopology {
        ClusterTopology(shards: [
            ClusterShard(slotRanges: [0...5460], primary: primary(F.id36001, host(36001), 36001, health), replicas: []),
            ClusterShard(slotRanges: [5461...10922], primary: primary(F.id36002, host(36002), 36002, health), replicas: []),
            ClusterShard(slotRanges: [10923...16383], primary: primary(F.id36003, host(36003), 36003, health), replicas: []),
        ])
    }

    private let exampleHost: (Int) -> String = { "node-\($0).example" }

    // MARK: - Captured CLUSTER SHARDS

    @Test("parses CLUSTER SHARDS captured in RESP2")
    func shardsResp2() throws {
        let topology = try ClusterTopology.fromClusterShards(F.reply("cluster-shards-resp2.resp"))
        #expect(topology.shards.count == 3)
        #expect(topology.coversAllSlots)
        #expect(topology.shards.map(\.slotCount) == [5461, 5462, 5461])
        #expect(topology.nodes.map(\.address.description) == ["127.0.0.1:36001", "127.0.0.1:36002", "127.0.0.1:36003"])
        #expect(topology == expected(health: .online))
    }

    @Test("parses CLUSTER SHARDS captured in RESP3 the same as in RESP2")
    func shardsResp3() throws {
        let resp3 = try F.reply("cluster-shards-resp3.resp")
        guard case .array(let shards) = resp3, case .map = shards.first else {
            Issue.record("fixture is not RESP3 maps")
            return
        }
        #expect(try ClusterTopology.fromClusterShards(resp3) == expected(health: .online))
    }

    @Test("prefers the endpoint over the host name, the host name over an unknown endpoint")
    func shardsEndpoints() throws {
        // cluster-preferred-endpoint-type ip, hostnames announced: endpoint is the IP.
        #expect(try ClusterTopology.fromClusterShards(F.reply("cluster-shards-hostnames-resp2.resp")) == expected(health: .online))
        // cluster-preferred-endpoint-type hostname: endpoint is the host name.
        #expect(try ClusterTopology.fromClusterShards(F.reply("cluster-shards-preferred-hostname-resp3.resp"))
                == expected(health: .online, host: exampleHost))
        // unknown-endpoint: endpoint is "", so the host name is used.
        #expect(try ClusterTopology.fromClusterShards(F.reply("cluster-shards-unknown-endpoint-resp2.resp"))
                == expected(health: .online, host: exampleHost))
    }

    // MARK: - Captured CLUSTER SLOTS

    @Test("parses CLUSTER SLOTS captured in RESP2 and RESP3")
    func slots() throws {
        let topology = try ClusterTopology.fromClusterSlots(F.reply("cluster-slots.resp"))
        #expect(topology.coversAllSlots)
        #expect(topology == expected(health: .unknown))
        #expect(try ClusterTopology.fromClusterSlots(F.reply("cluster-slots-resp3.resp")) == topology)
    }

    @Test("CLUSTER SLOTS falls back to the host name when the endpoint is null")
    func slotsEndpoints() throws {
        #expect(try ClusterTopology.fromClusterSlots(F.reply("cluster-slots-unknown-endpoint-resp2.resp"))
                == expected(health: .unknown, host: exampleHost))
        #expect(try ClusterTopology.fromClusterSlots(F.reply("cluster-slots-preferred-hostname-resp3.resp"))
                == expected(health: .unknown, host: exampleHost))
    }

    // MARK: - Replicas, failures, merging (constructed in the captured shape)

    private func bulk(_ s: String) -> RESPValue { .bulkString(Array(s.utf8)) }

    /// A CLUSTER SHARDS node description, RESP2 style (flat array).
    private func shardsNode(_ id: String, port: Int, role: String, health: String,
                            endpoint: String = "10.0.0.1", hostname: String? = nil) -> RESPValue {
        var items: [RESPValue] = [bulk("id"), bulk(id), bulk("port"), .integer(Int64(port)), bulk("ip"), bulk("10.0.0.1"),
                                  bulk("endpoint"), bulk(endpoint)]
        if let hostname { items += [bulk("hostname"), bulk(hostname)] }
        items += [bulk("role"), bulk(role), bulk("replication-offset"), .integer(0), bulk("health"), bulk(health)]
        return .array(items)
    }

    private func shard(_ slots: [Int], _ nodes: [RESPValue]) -> RESPValue {
        .array([bulk("slots"), .array(slots.map { .integer(Int64($0)) }), bulk("nodes"), .array(nodes)])
    }

    @Test("keeps a failed primary, sorts replicas out, orders shards by slot")
    func shardsWithReplicasAndFailure() throws {
        let reply = RESPValue.array([
            shard([8192, 16383], [
                shardsNode("b1", port: 7001, role: "master", health: "failed"),
                shardsNode("b2", port: 7004, role: "replica", health: "online"),
            ]),
            shard([0, 99, 100, 8191], [
                shardsNode("a2", port: 7003, role: "replica", health: "loading", endpoint: "?", hostname: "a2.example"),
                shardsNode("a1", port: 7000, role: "master", health: "online", hostname: "ignored.example"),
                shardsNode("a3", port: 7005, role: "replica", health: "online", endpoint: ""),
            ]),
            shard([], [shardsNode("c1", port: 7009, role: "master", health: "online")]),
        ])
        let topology = try ClusterTopology.fromClusterShards(reply)
        #expect(topology.shards.map(\.slotRanges) == [[0...8191], [8192...16383], []])
        #expect(topology.shards[0].primary?.id == "a1")
        #expect(topology.shards[0].primary?.address == NodeAddress(host: "10.0.0.1", port: 7000))
        #expect(topology.shards[0].replicas.map(\.id) == ["a2", "a3"])
        #expect(topology.shards[0].replicas[0].address == NodeAddress(host: "a2.example", port: 7003))
        #expect(topology.shards[0].replicas[0].health == .loading)
        #expect(topology.shards[0].replicas[1].address == NodeAddress(host: "10.0.0.1", port: 7005))
        #expect(topology.shards[1].primary?.health == .failed)
        #expect(topology.shards[1].replicas.map(\.role) == [.replica])
        #expect(topology.shards[2].primary?.id == "c1")
        #expect(topology.coversAllSlots)
    }

    @Test("reads health \"fail\", the spelling Redis sends for a failed node, as failed")
    func shardsFailSpelling() throws {
        let reply = RESPValue.array([
            shard([0, 16383], [
                shardsNode("a1", port: 7000, role: "master", health: "online"),
                shardsNode("a2", port: 7003, role: "replica", health: "fail"),
                shardsNode("a3", port: 7004, role: "replica", health: "failed"),
                shardsNode("a4", port: 7005, role: "replica", health: "online"),
            ]),
        ])
        let topology = try ClusterTopology.fromClusterShards(reply)
        #expect(topology.shards[0].replicas.map(\.health) == [.failed, .failed, .online])
        #expect(SlotMap(topology: topology).replicas == [[NodeAddress(host: "10.0.0.1", port: 7005)]])
    }

    @Test("CLUSTER SLOTS merges ranges of one primary and collects its replicas")
    func slotsMerging() throws {
        func node(_ port: Int, _ id: String) -> RESPValue { .array([bulk("10.0.0.1"), .integer(Int64(port)), bulk(id), .array([])]) }
        let reply = RESPValue.array([
            .array([.integer(0), .integer(99), node(7000, "a"), node(7003, "a-r")]),
            .array([.integer(100), .integer(199), node(7001, "b")]),
            .array([.integer(200), .integer(16383), node(7000, "a"), node(7003, "a-r"), node(7006, "a-r2")]),
        ])
        let topology = try ClusterTopology.fromClusterSlots(reply)
        #expect(topology.shards.count == 2)
        #expect(topology.shards[0].slotRanges == [0...99, 200...16383])
        #expect(topology.shards[0].replicas.map(\.address.port) == [7003, 7006])
        #expect(topology.shards[0].replicas.allSatisfy { $0.role == .replica && $0.health == .unknown })
        #expect(topology.shards[1].slotRanges == [100...199])
        #expect(topology.coversAllSlots)
        // Pre-4.0 shape: no id, no metadata; the address identifies the primary.
        let old = RESPValue.array([
            .array([.integer(0), .integer(10), .array([bulk("h"), .integer(1)])]),
            .array([.integer(11), .integer(20), .array([bulk("h"), .integer(1)])]),
        ])
        #expect(try ClusterTopology.fromClusterSlots(old).shards.map(\.slotRanges) == [[0...20]])
        #expect(try !ClusterTopology.fromClusterSlots(old).coversAllSlots)
    }

    @Test("an empty cluster covers nothing")
    func empty() throws {
        #expect(try !ClusterTopology.fromClusterShards(.array([])).coversAllSlots)
        #expect(try ClusterTopology.fromClusterSlots(.array([])).shards.isEmpty)
    }

    // MARK: - Malformed replies

    @Test("rejects malformed CLUSTER SHARDS replies with a clear error")
    func malformedShards() {
        let good = shardsNode("a", port: 7000, role: "master", health: "online")
        let cases: [(RESPValue, String)] = [
            (.error("ERR This instance has cluster support disabled"), "cluster support disabled"),
            (.simpleString("OK"), "expected an array"),
            (.array([.integer(1)]), "is not a map"),
            (.array([.array([bulk("nodes"), .array([good])])]), "no \"slots\""),
            (.array([shard([0], [good])]), "odd number"),
            (.array([shard([5, 4], [good])]), "reversed"),
            (.array([shard([0, 16384], [good])]), "outside"),
            (.array([.array([bulk("slots"), .array([]), bulk("nodes"), .integer(3)])]), "no \"nodes\""),
            (.array([shard([0, 1], [.array([bulk("id"), bulk("x"), bulk("role"), bulk("master")])])]), "port"),
            (.array([shard([0, 1], [shardsNode("a", port: 7000, role: "witness", health: "online")])]), "unknown role"),
            (.array([shard([0, 1], [shardsNode("a", port: 70000, role: "master", health: "online")])]), "port"),
            (.array([shard([0, 1], [.array([bulk("id"), bulk("x"), bulk("port"), .integer(1), bulk("role"), bulk("master")])])]),
             "no usable"),
        ]
        for (reply, fragment) in cases {
            #expect {
                try ClusterTopology.fromClusterShards(reply)
            } throws: { error in
                String(describing: error).contains(fragment)
            }
        }
    }

    @Test("rejects malformed CLUSTER SLOTS replies with a clear error")
    func malformedSlots() {
        let cases: [(RESPValue, String)] = [
            (.error("CLUSTERDOWN Hash slot not served"), "CLUSTERDOWN"),
            (.null, "expected an array"),
            (.array([.array([.integer(0), .integer(1)])]), "at least one node"),
            (.array([.array([bulk("a"), .integer(1), .array([bulk("h"), .integer(1)])])]), "not two integers"),
            (.array([.array([.integer(0), .integer(1), .array([bulk("h")])])]), "endpoint and port"),
            (.array([.array([.integer(0), .integer(1), .array([bulk("h"), bulk("port")])])]), "no valid port"),
            (.array([.array([.integer(0), .integer(1), .array([.null, .integer(1), bulk("id"), .array([])])])]), "no usable"),
        ]
        for (reply, fragment) in cases {
            #expect {
                try ClusterTopology.fromClusterSlots(reply)
            } throws: { error in
                String(describing: error).contains(fragment)
            }
        }
    }
}
