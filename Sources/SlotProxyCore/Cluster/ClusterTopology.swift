// The cluster as discovered: which shards exist, which slot ranges each serves, and its primary
// and replicas with their health. The topology manager sends CLUSTER SHARDS to a seed (falling
// back to CLUSTER SLOTS on servers older than 7.0), decodes the reply into a RESPValue and
// parses it here (ClusterTopology+Parsing.swift); SlotMap(topology:) then compiles it into the
// flat routing table the workers read. Cold path: Strings and Arrays are fine.

/// One node of the cluster as reported by CLUSTER SHARDS or CLUSTER SLOTS.
public struct ClusterNode: Hashable, Sendable {
    public enum Role: String, Hashable, Sendable {
        case primary
        case replica
    }

    public enum Health: String, Hashable, Sendable {
        case online
        case failed
        /// A replica still loading its data set; it cannot serve reads yet.
        case loading
        /// Not reported (CLUSTER SLOTS carries no health) or a value this version does not know.
        case unknown
    }

    /// The 40-character node id; "" when the reply did not carry one.
    public var id: String
    /// Where to connect: the node's preferred endpoint, host name or IP (see the parsers).
    public var address: NodeAddress
    public var role: Role
    public var health: Health

    public init(id: String, address: NodeAddress, role: Role, health: Health) {
        self.id = id
        self.address = address
        self.role = role
        self.health = health
    }
}

/// A primary, its replicas and the slots they serve.
public struct ClusterShard: Sendable, Equatable {
    /// Sorted, non-overlapping, adjacent ranges merged. Empty for a shard that serves no slot
    /// (for example a failed primary whose slots were taken over).
    public var slotRanges: [ClosedRange<Int>]
    /// The shard's primary; kept when it has failed (its `health` says so), nil when the
    /// reply named none.
    public var primary: ClusterNode?
    public var replicas: [ClusterNode]

    public init(slotRanges: [ClosedRange<Int>], primary: ClusterNode?, replicas: [ClusterNode]) {
        self.slotRanges = slotRanges
        self.primary = primary
        self.replicas = replicas
    }

    /// Number of slots in `slotRanges`.
    public var slotCount: Int { slotRanges.reduce(0) { $0 + $1.count } }
}

/// The whole cluster as one node described it.
public struct ClusterTopology: Sendable, Equatable {
    /// Ordered by their lowest slot; shards without slots come last.
    public var shards: [ClusterShard]

    public init(shards: [ClusterShard]) {
        self.shards = shards
    }

    /// True when every one of the 16384 slots is served by some shard with a primary.
    public var coversAllSlots: Bool {
        var covered = [Bool](repeating: false, count: HashSlot.count)
        var count = 0
        for shard in shards where shard.primary != nil {
            for range in shard.slotRanges {
                for slot in range.clamped(to: 0...(HashSlot.count - 1)) where !covered[slot] {
                    covered[slot] = true
                    count += 1
                }
            }
        }
        return count == HashSlot.count
    }

    /// Every node of every shard, primaries first within each shard.
    public var nodes: [ClusterNode] {
        shards.flatMap { shard in (shard.primary.map { [$0] } ?? []) + shard.replicas }
    }
}

/// A CLUSTER SHARDS or CLUSTER SLOTS reply that does not have the documented shape.
public struct TopologyError: Error, Equatable, CustomStringConvertible {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}
