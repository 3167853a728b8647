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
        var slot = SlotMap.unassigned
        var cross = false
        let extraction = forEachKey(in: args) { i in
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
