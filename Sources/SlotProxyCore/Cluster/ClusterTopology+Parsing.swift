// Reading CLUSTER SHARDS (Redis 7.0+) and CLUSTER SLOTS (every version) into a ClusterTopology.
// Both arrive as a decoded RESPValue, in RESP2 (map-like replies are flat key/value arrays) or
// RESP3 (real maps); RESPValue.pairs reads either. Both parsers normalise their result the same
// way (ranges sorted and merged, shards ordered by lowest slot), so equal clusters compare equal.
//
// Which address to use for a node: Redis reports a preferred "endpoint" (the IP, the host name
// or "?"/"" depending on cluster-preferred-endpoint-type), plus "hostname" and "ip". We take the
// endpoint when it is usable, else the host name, else the IP.

extension ClusterTopology {
    /// Parses a CLUSTER SHARDS reply: an array of shards, each a map-like list with "slots"
    /// (a flat array of start, end integers) and "nodes" (map-like node descriptions with "id",
    /// "port", "tls-port", "ip", "endpoint", "hostname", "role", "replication-offset", "health").
    ///
    /// A failed primary is kept as the shard's primary with `health == .failed`: deciding what
    /// to do about it is the failover logic's job, not the parser's.
    /// - Throws: `TopologyError` for an error reply or a reply without the documented shape.
    public static func fromClusterShards(_ reply: RESPValue) throws -> ClusterTopology {
        let shardValues = try topLevelArray(reply, command: "CLUSTER SHARDS")
        var shards: [ClusterShard] = []
        shards.reserveCapacity(shardValues.count)
        for (shardIndex, shardValue) in shardValues.enumerated() {
            let context = "CLUSTER SHARDS: shard \(shardIndex)"
            guard let fields = shardValue.pairs else { throw TopologyError("\(context) is not a map") }
            guard let slotsValue = field(fields, "slots"), let slotNumbers = slotsValue.elements else {
                throw TopologyError("\(context) has no \"slots\" array")
            }
            guard slotNumbers.count % 2 == 0 else {
                throw TopologyError("\(context): \"slots\" has an odd number of entries (\(slotNumbers.count))")
            }
            var ranges: [ClosedRange<Int>] = []
            var i = 0
            while i < slotNumbers.count {
                ranges.append(try slotRange(slotNumbers[i], slotNumbers[i + 1], context: context))
                i += 2
            }
            guard let nodeValues = field(fields, "nodes")?.elements else {
                throw TopologyError("\(context) has no \"nodes\" array")
            }
            let nodes = try nodeValues.enumerated().map { nodeIndex, value in
                try shardsNode(value, context: "\(context), node \(nodeIndex)")
            }
            // Redis lists one primary per shard; should a reply ever carry two, the one that
            // has not failed is the one serving the slots.
            let primaries = nodes.filter { $0.role == .primary }
            let primary = primaries.first(where: { $0.health != .failed }) ?? primaries.first
            shards.append(ClusterShard(slotRanges: normalised(ranges), primary: primary,
                                       replicas: nodes.filter { $0.role == .replica }))
        }
        return ClusterTopology(shards: ordered(shards))
    }

    /// Parses a CLUSTER SLOTS reply: an array of `[start, end, primary, replica...]` where each
    /// node is `[endpoint, port, id, metadata]` (id since 4.0, metadata map since 7.0). Ranges
    /// served by the same primary are merged into one shard. CLUSTER SLOTS says nothing about
    /// health, so every node is `.unknown`; Redis already leaves failed replicas out.
    /// - Throws: `TopologyError` for an error reply or a reply without the documented shape.
    public static func fromClusterSlots(_ reply: RESPValue) throws -> ClusterTopology {
        let entries = try topLevelArray(reply, command: "CLUSTER SLOTS")
        var shards: [ClusterShard] = []
        var shardByPrimary: [String: Int] = [:]
        for (entryIndex, entry) in entries.enumerated() {
            let context = "CLUSTER SLOTS: entry \(entryIndex)"
            guard let items = entry.elements, items.count >= 3 else {
                throw TopologyError("\(context) is not an array of start, end and at least one node")
            }
            let range = try slotRange(items[0], items[1], context: context)
            let primary = try slotsNode(items[2], role: .primary, context: "\(context), primary")
            let replicas = try items[3...].enumerated().map { n, value in
                try slotsNode(value, role: .replica, context: "\(context), replica \(n)")
            }
            // Node ids identify a primary across entries; very old servers send none.
            let key = primary.id.isEmpty ? primary.address.description : primary.id
            if let index = shardByPrimary[key] {
                shards[index].slotRanges.append(range)
                for replica in replicas where !shards[index].replicas.contains(replica) {
                    shards[index].replicas.append(replica)
                }
            } else {
                shardByPrimary[key] = shards.count
                shards.append(ClusterShard(slotRanges: [range], primary: primary, replicas: replicas))
            }
        }
        for index in shards.indices {
            shards[index].slotRanges = normalised(shards[index].slotRanges)
        }
        return ClusterTopology(shards: ordered(shards))
    }

    // MARK: - Nodes

    private static func shardsNode(_ value: RESPValue, context: String) throws -> ClusterNode {
        guard let fields = value.pairs else { throw TopologyError("\(context) is not a map") }
        let id = field(fields, "id")?.string ?? ""
        // A TLS-only cluster reports only "tls-port".
        guard let port = (field(fields, "port") ?? field(fields, "tls-port"))?.int, (0...65535).contains(port) else {
            throw TopologyError("\(context) (id \(id)) has no valid \"port\"")
        }
        guard let host = preferredHost(endpoint: field(fields, "endpoint"), hostname: field(fields, "hostname"),
                                       ip: field(fields, "ip")) else {
            throw TopologyError("\(context) (id \(id)) has no usable \"endpoint\", \"hostname\" or \"ip\"")
        }
        let role: ClusterNode.Role
        switch field(fields, "role")?.string {
        case "master", "primary": role = .primary
        case "replica", "slave": role = .replica
        case let other: throw TopologyError("\(context) (id \(id)) has unknown role \(other.map { "\"\($0)\"" } ?? "(none)")")
        }
        let health: ClusterNode.Health
        switch field(fields, "health")?.string {
        case "online": health = .online
        // Redis sends "fail" for a node flagged FAIL (7.0.15 does; its documentation says
        // "failed"): both mean failed.
        case "fail", "failed": health = .failed
        case "loading": health = .loading
        default: health = .unknown
        }
        return ClusterNode(id: id, address: NodeAddress(host: host, port: port), role: role, health: health)
    }

    private static func slotsNode(_ value: RESPValue, role: ClusterNode.Role, context: String) throws -> ClusterNode {
        guard let items = value.elements, items.count >= 2 else {
            throw TopologyError("\(context) is not an array of endpoint and port")
        }
        guard let port = items[1].int, (0...65535).contains(port) else {
            throw TopologyError("\(context) has no valid port")
        }
        let id = items.count > 2 ? (items[2].string ?? "") : ""
        // Since 7.0 the fourth item is a map-like list with "ip" and/or "hostname".
        let metadata = items.count > 3 ? (items[3].pairs ?? []) : []
        guard let host = preferredHost(endpoint: items[0], hostname: field(metadata, "hostname"),
                                       ip: field(metadata, "ip")) else {
            throw TopologyError("\(context) (id \(id)) has no usable endpoint, hostname or ip")
        }
        return ClusterNode(id: id, address: NodeAddress(host: host, port: port), role: role, health: .unknown)
    }

    /// The endpoint unless it is missing, null, empty or "?" (unknown), then the host name,
    /// then the IP.
    private static func preferredHost(endpoint: RESPValue?, hostname: RESPValue?, ip: RESPValue?) -> String? {
        if let endpoint = endpoint?.string, !endpoint.isEmpty, endpoint != "?" { return endpoint }
        if let hostname = hostname?.string, !hostname.isEmpty { return hostname }
        if let ip = ip?.string, !ip.isEmpty, ip != "?" { return ip }
        return nil
    }

    // MARK: - Shape helpers

    private static func topLevelArray(_ reply: RESPValue, command: String) throws -> [RESPValue] {
        switch reply {
        case .array(let items): return items
        case .error(let message): throw TopologyError("\(command) failed: \(message)")
        default: throw TopologyError("\(command): expected an array, got \(reply)")
        }
    }

    private static func field(_ pairs: [(String, RESPValue)], _ name: String) -> RESPValue? {
        pairs.first(where: { $0.0 == name })?.1
    }

    private static func slotRange(_ start: RESPValue, _ end: RESPValue, context: String) throws -> ClosedRange<Int> {
        guard let first = start.int, let last = end.int else {
            throw TopologyError("\(context): slot range \(start) \(end) is not two integers")
        }
        guard 0 <= first, first <= last, last < HashSlot.count else {
            throw TopologyError("\(context): slot range \(first)-\(last) is outside 0-16383 or reversed")
        }
        return first...last
    }

    /// Sorts ranges and merges overlapping or adjacent ones.
    static func normalised(_ ranges: [ClosedRange<Int>]) -> [ClosedRange<Int>] {
        var merged: [ClosedRange<Int>] = []
        for range in ranges.sorted(by: { $0.lowerBound < $1.lowerBound }) {
            if let last = merged.last, range.lowerBound <= last.upperBound + 1 {
                merged[merged.count - 1] = last.lowerBound...max(last.upperBound, range.upperBound)
            } else {
                merged.append(range)
            }
        }
        return merged
    }

    /// Shards by lowest slot; shards without slots keep their reply order at the end.
    private static func ordered(_ shards: [ClusterShard]) -> [ClusterShard] {
        let withSlots = shards.filter { !$0.slotRanges.isEmpty }
            .sorted { $0.slotRanges[0].lowerBound < $1.slotRanges[0].lowerBound }
        return withSlots + shards.filter { $0.slotRanges.isEmpty }
    }
}
