// The SCAN cursor the proxy hands out: one plain unsigned integer that names both the
// primary being walked and that node's own cursor, so clients parse it like Redis's.
//
//   cursor = nodeCursor << 14 | slot        slot: the lowest slot the node owns (14 bits)
//
// A node is named by a slot it owns, not by its place in a list, so the cursor stays
// meaningful when nodes come and go mid-iteration: the walk continues at whichever primary
// owns that slot now. Primaries are walked in the order of their lowest slot; cursor 0 starts
// at the owner of slot 0 and, as in Redis, a returned 0 means the walk is complete.

public struct ScanCursor: Equatable, Sendable {
    /// A slot owned by the node being walked (its lowest when the walk entered it).
    public var slot: HashSlot
    /// The node's own SCAN cursor.
    public var nodeCursor: UInt64

    public static let slotBits: UInt64 = 14

    public init(slot: HashSlot, nodeCursor: UInt64) {
        self.slot = slot
        self.nodeCursor = nodeCursor
    }

    /// Decodes a client's cursor; nil when the node part does not fit.
    public init(encoded: UInt64) {
        slot = HashSlot(rawValue: UInt16(encoded & ((1 << Self.slotBits) - 1)))
        nodeCursor = encoded >> Self.slotBits
    }

    /// The integer for the client; nil when the node's cursor is too large to encode.
    public var encoded: UInt64? {
        guard nodeCursor < (1 << (64 - Self.slotBits)) else { return nil }
        return nodeCursor << Self.slotBits | UInt64(slot.rawValue)
    }

    /// Where the walk goes after the node owning `slot` returned `nextNodeCursor`: the same
    /// node, or the next primary (by lowest owned slot), or nil when every primary is done.
    public static func next(after slot: HashSlot, nextNodeCursor: UInt64, in slotMap: SlotMap) -> ScanCursor? {
        if nextNodeCursor != 0 {
            let node = slotMap.primaryIndex(for: slot)
            let lowest = node.flatMap { slotMap.firstSlot(ownedBy: $0) } ?? slot
            return ScanCursor(slot: lowest, nodeCursor: nextNodeCursor)
        }
        // The next node is the one whose lowest slot comes first after this node's lowest.
        let current = slotMap.primaryIndex(for: slot)
        let currentLowest = current.flatMap { slotMap.firstSlot(ownedBy: $0) }?.rawValue ?? slot.rawValue
        var best: HashSlot?
        for index in 0..<slotMap.primaries.count {
            guard let lowest = slotMap.firstSlot(ownedBy: UInt16(index)), lowest.rawValue > currentLowest else { continue }
            if best == nil || lowest.rawValue < best!.rawValue { best = lowest }
        }
        return best.map { ScanCursor(slot: $0, nodeCursor: 0) }
    }
}
