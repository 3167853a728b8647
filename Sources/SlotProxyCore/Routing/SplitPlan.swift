// How a multi-key command whose keys span slots becomes one sub-command per slot (never
// one per key). Each part carries the command name and, for every key of its slot, the key
// and the arguments that travel with it (MSET's value), in the request's order. The plan
// remembers where each key came from, so MGET's replies can be put back in key order.
//
//   MGET a b c d      slot(a)=slot(c)=1, slot(b)=2, slot(d)=3
//   part 0: MGET a c  keys 0, 2   part 1: MGET b  key 1   part 2: MGET d  key 3
//
// Cold-ish path: it only runs when the keys really are in several slots; the single-slot
// case never gets here and forwards the original bytes.

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
        var keyIndices: [Int] = []
        guard spec.forEachKey(in: args, { keyIndices.append($0) }) == .ok, !keyIndices.isEmpty else { return nil }
        let step = spec.keyStep
        // Each part's header counts `step` arguments per key: a short last group would send a
        // request the node keeps waiting to complete, swallowing the next one on the connection.
        guard keyIndices.allSatisfy({ $0 + step <= args.count }) else { return nil }
        var partOfSlot: [UInt16: Int] = [:]
        var groups: [(slot: HashSlot, keys: [Int], ordinals: [Int])] = []
        for (ordinal, index) in keyIndices.enumerated() {
            let slot = HashSlot(key: args[index])
            if let p = partOfSlot[slot.rawValue] {
                groups[p].keys.append(index)
                groups[p].ordinals.append(ordinal)
            } else {
                partOfSlot[slot.rawValue] = groups.count
                groups.append((slot, [index], [ordinal]))
            }
        }
        let parts = groups.map { group -> Part in
            var request: [UInt8] = []
            let argumentCount = 1 + group.keys.count * step
            request.append(contentsOf: "*\(argumentCount)\r\n".utf8)
            appendBulk(args[0], to: &request)
            for index in group.keys {
                for j in index..<(index + step) { appendBulk(args[j], to: &request) }
            }
            return Part(slot: group.slot, request: request, keyOrdinals: group.ordinals)
        }
        return SplitPlan(parts: parts, keyCount: keyIndices.count)
    }

    private static func appendBulk(_ bytes: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        out.append(contentsOf: "$\(bytes.count)\r\n".utf8)
        out.append(contentsOf: bytes)
        out.append(13)
        out.append(10)
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
