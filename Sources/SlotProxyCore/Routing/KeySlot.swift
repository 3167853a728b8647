// Which slot a request's keys are in, found through the command's key specs without
// allocating: the one decision the hot path makes for every keyed command.

public enum KeySlot: Equatable, Sendable {
    /// The command names no key.
    case none
    /// Every key hashes to this slot.
    case single(HashSlot)
    /// The keys are in more than one slot.
    case crossSlot
    /// The key positions cannot be read (a bad numkeys…): let a node answer with its error.
    case invalid
}

extension CommandSpec {
    @inline(__always)
    public func keySlot(in args: RequestArguments) -> KeySlot {
        if singleKeyIndex > 0 {
            // What the spec walk below finds for such a command, without the walk.
            return singleKeyIndex < args.count ? .single(HashSlot(key: args[singleKeyIndex])) : .invalid
        }
        var slot = SlotMap.unassigned
        var cross = false
        let extraction = forEachKey(in: args) { i in
            // Past a second slot the answer is CROSSSLOT (or invalid, which the walk still
            // finds): no need to hash the rest (a split hashes every key again anyway).
            guard !cross else { return }
            let s = HashSlot(key: args[i]).rawValue
            if slot == SlotMap.unassigned {
                slot = s
            } else if s != slot {
                cross = true
            }
        }
        if extraction == .invalid { return .invalid }
        if cross { return .crossSlot }
        return slot == SlotMap.unassigned ? .none : .single(HashSlot(rawValue: slot))
    }
}

extension CommandSpec {
    /// `singleKeyIndex` for these specs: the index when they name exactly one key at a fixed
    /// position, else 0.
    static func singleKeyIndex(_ specs: [CompiledKeySpec], _ finder: NativeKeyFinder) -> Int {
        guard case .none = finder, specs.count == 1 else { return 0 }
        let spec = specs[0]
        guard spec.begin == .index, spec.find == .range, spec.a == 0, spec.beginValue >= 1,
              !spec.flags.contains(.notKey), !spec.flags.contains(.incomplete) else { return 0 }
        return Int(spec.beginValue)
    }
}
