// What changed between two topology reads, as the events an operator wants one log line
// each for: nodes that joined or left, and replicas that took over a primary's slots.
//
//   old ClusterTopology ─┐
//                        ├─▶ TopologyDiff(from:to:) ─▶ added / removed / failovers ─▶ log lines, counters
//   new ClusterTopology ─┘
//
// Pure, so the rules are unit-tested without a cluster; the topology thread turns each entry
// into one log line.

/// The differences between two reads of the cluster's topology.
public struct TopologyDiff: Equatable, Sendable {
    /// A replica of the old topology that now serves slots as a primary (an automatic or a
    /// manual failover).
    public struct Failover: Equatable, Sendable {
        /// The node that was the shard's primary before, when the old read named one.
        public var formerPrimary: NodeAddress?
        /// The replica now serving the slots.
        public var newPrimary: NodeAddress
        /// How many slots it serves now.
        public var slots: Int
    }

    /// Nodes in the new read that the old one did not list, in the new read's order.
    public var added: [ClusterNode] = []
    /// Nodes the old read listed that the new one does not, in the old read's order.
    public var removed: [ClusterNode] = []
    public var failovers: [Failover] = []

    public var isEmpty: Bool { added.isEmpty && removed.isEmpty && failovers.isEmpty }

    /// Compares two reads; nodes are told apart by address (what the proxy connects to).
    public init(from old: ClusterTopology, to new: ClusterTopology) {
        let oldNodes = Self.unique(old.nodes)
        let newNodes = Self.unique(new.nodes)
        let oldAddresses = Set(oldNodes.map(\.address))
        let newAddresses = Set(newNodes.map(\.address))
        added = newNodes.filter { !oldAddresses.contains($0.address) }
        removed = oldNodes.filter { !newAddresses.contains($0.address) }

        var formerPrimaryOf: [NodeAddress: NodeAddress?] = [:]
        for shard in old.shards {
            for replica in shard.replicas { formerPrimaryOf[replica.address] = shard.primary?.address }
        }
        for shard in new.shards where !shard.slotRanges.isEmpty {
            guard let primary = shard.primary?.address, let former = formerPrimaryOf[primary] else { continue }
            failovers.append(Failover(formerPrimary: former, newPrimary: primary, slots: shard.slotCount))
        }
    }

    private static func unique(_ nodes: [ClusterNode]) -> [ClusterNode] {
        var seen = Set<NodeAddress>()
        return nodes.filter { seen.insert($0.address).inserted }
    }
}
