// The cluster as the proxy describes it to clients that ask (CLUSTER INFO, SLOTS, SHARDS,
// NODES, MYID): ONE primary, the proxy itself, owning all 16384 slots. A cluster-aware
// client that discovers its topology through the proxy then sends every command back to
// the proxy, which does the real routing; nothing about the nodes behind it leaks out.
//
//   proxy's address + port + slot map state ──▶ SingleNodeCluster ──▶ the replies' text / values

/// The one-node cluster the proxy presents.
public struct SingleNodeCluster: Equatable, Sendable {
    /// The 40-hex-digit node id (`CLUSTER MYID`).
    public var nodeID: String
    /// The address clients reach the proxy at (the address the asking client connected to).
    public var host: String
    public var port: Int
    /// Slots the proxy can route now (those with a known primary behind it).
    public var routableSlots: Int

    public init(nodeID: String, host: String, port: Int, routableSlots: Int = HashSlot.count) {
        self.nodeID = nodeID
        self.host = host
        self.port = port
        self.routableSlots = routableSlots
    }

    /// A node id that stays the same across restarts of a proxy with the same listeners, as
    /// a Redis node's does (it keeps its id in nodes.conf): 160 bits of FNV-1a over `seed`.
    public static func nodeID(seed: String) -> String {
        let hex = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for round in 0..<5 {
            var hash: UInt64 = 0xcbf2_9ce4_8422_2325 ^ UInt64(round &* 0x9E37_79B9)
            for b in "slotproxy \(round) \(seed)".utf8 {
                hash ^= UInt64(b)
                hash = hash &* 0x0000_0100_0000_01B3
            }
            let word = UInt32(truncatingIfNeeded: hash ^ (hash >> 32))
            for shift in stride(from: 28, through: 0, by: -4) {
                out.append(hex[Int((word >> UInt32(shift)) & 0xF)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    public var isComplete: Bool { routableSlots == HashSlot.count }

    /// CLUSTER INFO's text (`\r\n`-separated fields, like Redis 7.0's).
    public func info() -> String {
        let fields: [(String, String)] = [
            ("cluster_state", isComplete ? "ok" : "fail"),
            ("cluster_slots_assigned", "\(HashSlot.count)"),
            ("cluster_slots_ok", "\(routableSlots)"),
            ("cluster_slots_pfail", "0"),
            ("cluster_slots_fail", "\(HashSlot.count - routableSlots)"),
            ("cluster_known_nodes", "1"),
            ("cluster_size", "1"),
            ("cluster_current_epoch", "0"),
            ("cluster_my_epoch", "0"),
            ("cluster_stats_messages_sent", "0"),
            ("cluster_stats_messages_received", "0"),
            ("total_cluster_links_buffer_limit_exceeded", "0"),
        ]
        return fields.map { "\($0):\($1)\r\n" }.joined()
    }

    /// CLUSTER SLOTS: one range, 0-16383, served by this node alone.
    public func slots() -> RESPValue {
        .array([.array([
            .integer(0), .integer(Int64(HashSlot.count - 1)),
            .array([.bulkString(Array(host.utf8)), .integer(Int64(port)), .bulkString(Array(nodeID.utf8)), .map([])]),
        ])])
    }

    /// CLUSTER SHARDS: one shard with every slot and this node as its primary.
    public func shards() -> RESPValue {
        let node: RESPValue = .map([
            .bulkString(Array("id".utf8)), .bulkString(Array(nodeID.utf8)),
            .bulkString(Array("port".utf8)), .integer(Int64(port)),
            .bulkString(Array("ip".utf8)), .bulkString(Array(host.utf8)),
            .bulkString(Array("endpoint".utf8)), .bulkString(Array(host.utf8)),
            .bulkString(Array("role".utf8)), .bulkString(Array("master".utf8)),
            .bulkString(Array("replication-offset".utf8)), .integer(0),
            .bulkString(Array("health".utf8)), .bulkString(Array("online".utf8)),
        ])
        return .array([.map([
            .bulkString(Array("slots".utf8)), .array([.integer(0), .integer(Int64(HashSlot.count - 1))]),
            .bulkString(Array("nodes".utf8)), .array([node]),
        ])])
    }

    /// CLUSTER NODES: one line, `myself,master`, connected, slots 0-16383. The proxy has
    /// no cluster bus, so the bus port reads 0. Like Redis, no brackets around IPv6.
    public func nodes() -> String {
        "\(nodeID) \(host):\(port)@0 myself,master - 0 0 0 connected 0-\(HashSlot.count - 1)\n"
    }
}
