// How a multi-key command whose keys span slots becomes one sub-command per slot (never
// one per key). Each part carries the command name and, for every key of its slot, the key
// and the arguments that travel with it (MSET's value), in the request's order. The plan
// remembers where each key came from, so MGET's replies can be put back in key order.
//
//   MGET a b c d      slot(a)=slot(c)=1, slot(b)=2, slot(d)=3
//   part 0: MGET a c  keys 0, 2   part 1: MGET b  key 1   part 2: MGET d  key 3
//
// This value is what tests and fuzzers inspect; the proxy itself runs the same SplitPlanner
// directly (no allocation per request). The single-slot case never gets here and forwards
// the original bytes.

public struct SplitPlan: Equatable, Sendable {
    public struct Part: Equatable, Sendable {
        public var slot: HashSlot
        /// The sub-command, RESP-encoded.
        public var request: [UInt8]
        /// For each key in this part, its position among the request's keys (0-based).
        public var keyOrdinals: [Int]
    }

    public var parts: [Part]
    /// How many keys the request named (duplicates included).
    public var keyCount: Int

    /// Plans the split of `args` by the keys `spec` finds. Each key takes the arguments up to
    /// the next key with it (its `keyStep`). Nil when the keys cannot be found, or when a key
    /// lacks the arguments that travel with it (MSET a 1 b: a cluster node answers CROSSSLOT).
    public static func make(_ spec: CommandSpec, _ args: RequestArguments) -> SplitPlan? {
        let planner = SplitPlanner()
        guard planner.plan(spec, args) else { return nil }
        let parts = (0..<planner.partCount).map { p -> Part in
            return Part(slot: planner.slot(ofPart: p), request: Array(planner.encode(part: p, args)),
                        keyOrdinals: (0..<planner.keyCount(ofPart: p)).map { planner.keyOrdinal(ofPart: p, $0) })
        }
        return SplitPlan(parts: parts, keyCount: planner.keyCount)
    }
}

extension CommandSpec {
    /// How many arguments each key takes with it (MSET: key and value), from the first
    /// range key spec; 1 when the spec does not say.
    public var keyStep: Int {
        for spec in keySpecs {
            if case .range(_, let step, _) = spec.findKeys, step >= 1 { return step }
        }
        return 1
    }
}
