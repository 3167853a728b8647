// The routing table the workers read on every request: slot -> primary index, one UInt16 per
// slot in a flat 16384-entry table (32 KiB, no dictionary, no pointer chasing), plus the list
// of primaries the indices point into. It is compiled from a ClusterTopology after each
// refresh, patched one slot at a time on MOVED, and published to workers as an immutable
// snapshot. Node indices are stable within one map: a patch only ever appends primaries.
//
//   HashSlot(key:) ──▶ owners[slot] ──▶ index ──▶ primaries[index] / replicas[index]
//                         0xFFFF = unassigned

/// Slot -> primary routing table. Lookups are allocation-free.
public struct SlotMap: Sendable, Equatable {
    /// The table value of a slot no primary serves.
    public static let unassigned: UInt16 = 0xFFFF

    /// Known primaries; a node index is a position in this array.
    public private(set) var primaries: [NodeAddress]
    /// Replicas per primary index (same count as `primaries`): the ones reported online or of
    /// unknown health (CLUSTER SLOTS reports no health); failed and loading replicas are left out.
    public private(set) var replicas: [[NodeAddress]]
    /// 16384 entries: the primary index serving each slot, or `unassigned`.
    @usableFromInline
    private(set) var owners: ContiguousArray<UInt16>

    /// An empty map: no primaries, every slot unassigned.
    public init() {
        primaries = []
        replicas = []
        owners = ContiguousArray(repeating: SlotMap.unassigned, count: HashSlot.count)
    }

    /// Compiles a topology. Every shard with a primary maps its slots to that primary, also
    /// when the primary is reported failed: holding and rerouting requests during a failover
    /// is decided elsewhere, from the topology's health fields. Shards without a primary leave
    /// their slots unassigned. Should two shards claim the same slot, the later one wins.
    public init(topology: ClusterTopology) {
        self.init()
        for shard in topology.shards {
            guard let primary = shard.primary, !shard.slotRanges.isEmpty else { continue }
            let index = indexAdding(primary.address)
            for replica in shard.replicas where replica.health == .online || replica.health == .unknown {
                if !replicas[Int(index)].contains(replica.address) {
                    replicas[Int(index)].append(replica.address)
                }
            }
            for range in shard.slotRanges {
                for slot in range.clamped(to: 0...(HashSlot.count - 1)) {
                    owners[slot] = index
                }
            }
        }
    }

    // MARK: - Hot path

    /// The index into `primaries` of the node serving `slot`, nil if the slot is unassigned.
    ///
    /// Optional rather than a raw sentinel: once inlined it compiles to one unchecked load and
    /// one compare against `unassigned`, the same cost as returning the sentinel.
    @inlinable @inline(__always)
    public func primaryIndex(for slot: HashSlot) -> UInt16? {
        // HashSlot guarantees rawValue < 16384 == owners.count, so skip the bounds check.
        let index = owners.withUnsafeBufferPointer { $0[Int(slot.rawValue)] }
        return index == SlotMap.unassigned ? nil : index
    }

    // MARK: - Cold path

    /// True when every slot is assigned to a primary.
    public var isComplete: Bool { assignedSlotCount == HashSlot.count }

    /// Number of slots assigned to some primary.
    public var assignedSlotCount: Int {
        owners.reduce(0) { $0 + ($1 == SlotMap.unassigned ? 0 : 1) }
    }

    /// The index of the primary at `address`, nil if it is not in the map.
    public func index(of address: NodeAddress) -> UInt16? {
        primaries.firstIndex(of: address).map { UInt16(truncatingIfNeeded: $0) }
    }

    /// Applies a MOVED redirection: `slot` now lives on `address`. A primary not yet known is
    /// appended (existing indices never change).
    /// - Returns: the index of `address`.
    @discardableResult
    public mutating func assign(_ slot: HashSlot, to address: NodeAddress) -> UInt16 {
        let index = indexAdding(address)
        owners[Int(slot.rawValue)] = index
        return index
    }

    /// The slots served by primary `index`, as sorted, merged ranges.
    public func slots(ownedBy index: UInt16) -> [ClosedRange<Int>] {
        var ranges: [ClosedRange<Int>] = []
        var start: Int? = nil
        for slot in 0...HashSlot.count {
            let owned = slot < HashSlot.count && owners[slot] == index
            if owned, start == nil {
                start = slot
            } else if !owned, let first = start {
                ranges.append(first...(slot - 1))
                start = nil
            }
        }
        return ranges
    }

    /// The lowest slot served by primary `index`, nil if it serves none. Handy to address a
    /// node through the router, e.g. for a fan-out command.
    public func firstSlot(ownedBy index: UInt16) -> HashSlot? {
        owners.firstIndex(of: index).map { HashSlot(rawValue: UInt16(truncatingIfNeeded: $0)) }
    }

    /// The index of `address`, appending it as a new primary with no replicas if unknown.
    private mutating func indexAdding(_ address: NodeAddress) -> UInt16 {
        if let index = index(of: address) { return index }
        precondition(primaries.count < Int(SlotMap.unassigned), "too many primaries for a UInt16 index")
        primaries.append(address)
        replicas.append([])
        return UInt16(truncatingIfNeeded: primaries.count - 1)
    }
}
