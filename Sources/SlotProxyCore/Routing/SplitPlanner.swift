// The reusable workspace that splits a multi-key request whose keys span slots into one
// sub-command per slot. One planner per worker: its tables keep their capacity between
// requests, so planning and encoding a split allocate nothing once warm (a 10-key MSET used
// to cost ~30 allocations and ~55,000 instructions here, mostly string interpolation).
//
//   MGET a b c d   slot(a)=slot(c)=1, slot(b)=2, slot(d)=3
//   plan ─▶ keys grouped by part, parts in order of first appearance:
//           part 0 slot 1 ordinals [0, 2]   part 1 slot 2 [1]   part 2 slot 3 [3]
//   encode(part: 0) ─▶ *3 $4 MGET $1 a $1 c   (written into `request`, reused)
//
// SplitPlan (the value the tests and fuzzers look at) is built from the same planner.

public final class SplitPlanner {
    /// Parts in the current plan.
    public private(set) var partCount = 0
    /// Keys the current request named (duplicates included).
    public private(set) var keyCount = 0
    /// Where parts are encoded (grown as needed, never shrunk, freed with the planner).
    private var buffer: UnsafeMutablePointer<UInt8>
    private var capacity = 4096

    /// How many arguments travel with each key (MSET: key and value).
    private var step = 1
    /// Per key ordinal: the argument index of the key.
    private var keyArgument: [Int32] = []
    /// Per key ordinal: its part.
    private var keyPart: [Int32] = []
    /// Per part: its slot, and where its ordinals start in `grouped` (plus one end entry).
    private var partSlot: [UInt16] = []
    private var partStart: [Int32] = []
    /// Key ordinals grouped by part, each group in request order.
    private var grouped: [Int32] = []
    /// Scratch for the counting sort: the next free position of each part in `grouped`.
    private var fill: [Int32] = []
    /// Per slot: its part + 1 in the current plan, 0 when none (reset after each plan). Made
    /// on the first request with many keys; a few keys find their part by a linear search.
    private var partOfSlot: [Int32] = []
    private static let linearSearchLimit = 32

    public init() {
        buffer = .allocate(capacity: capacity)
    }

    deinit { buffer.deallocate() }

    /// Plans the split of `args` by the keys `spec` finds. False when the keys cannot be found,
    /// or when a key lacks the arguments that travel with it (MSET a 1 b: a cluster node
    /// answers CROSSSLOT), which the caller answers with CROSSSLOT too.
    public func plan(_ spec: CommandSpec, _ args: RequestArguments) -> Bool {
        partCount = 0
        keyCount = 0
        keyArgument.removeAll(keepingCapacity: true)
        guard spec.forEachKey(in: args, { keyArgument.append(Int32($0)) }) == .ok, !keyArgument.isEmpty else {
            return false
        }
        step = spec.keyStep
        // Each part's header counts `step` arguments per key: a short last group would send a
        // request the node keeps waiting to complete, swallowing the next one on the connection.
        for index in keyArgument where Int(index) + step > args.count { return false }
        keyCount = keyArgument.count

        keyPart.removeAll(keepingCapacity: true)
        partSlot.removeAll(keepingCapacity: true)
        partStart.removeAll(keepingCapacity: true)
        let indexed = keyCount > Self.linearSearchLimit
        if indexed && partOfSlot.isEmpty { partOfSlot = [Int32](repeating: 0, count: HashSlot.count) }
        for index in keyArgument {
            let slot = HashSlot(key: args[Int(index)]).rawValue
            var part: Int32 = -1
            if indexed {
                part = partOfSlot[Int(slot)] - 1
            } else if let p = partSlot.firstIndex(of: slot) {
                part = Int32(p)
            }
            if part < 0 {
                part = Int32(partSlot.count)
                partSlot.append(slot)
                partStart.append(0)
                if indexed { partOfSlot[Int(slot)] = part + 1 }
            }
            keyPart.append(part)
            partStart[Int(part)] += 1
        }
        if indexed {
            for slot in partSlot { partOfSlot[Int(slot)] = 0 }
        }
        partCount = partSlot.count

        // Counting sort of the ordinals by part: counts become start offsets.
        var offset: Int32 = 0
        for p in 0..<partCount {
            let n = partStart[p]
            partStart[p] = offset
            offset += n
        }
        partStart.append(offset)
        grouped.removeAll(keepingCapacity: true)
        grouped.append(contentsOf: repeatElement(0, count: keyCount))
        fill.removeAll(keepingCapacity: true)
        fill.append(contentsOf: partStart)
        for (ordinal, part) in keyPart.enumerated() {
            grouped[Int(fill[Int(part)])] = Int32(ordinal)
            fill[Int(part)] += 1
        }
        return true
    }

    /// The slot of part `p` of the current plan.
    public func slot(ofPart p: Int) -> HashSlot { HashSlot(rawValue: partSlot[p]) }

    /// How many keys part `p` carries.
    public func keyCount(ofPart p: Int) -> Int { Int(partStart[p + 1] - partStart[p]) }

    /// The `j`-th key ordinal of part `p` (its position among the request's keys).
    public func keyOrdinal(ofPart p: Int, _ j: Int) -> Int { Int(grouped[Int(partStart[p]) + j]) }

    /// Encodes part `p` of the current plan: the command name as the client spelt it, then
    /// each of the part's keys with the arguments that travel with it. The bytes stay valid
    /// until the next `encode`.
    public func encode(part p: Int, _ args: RequestArguments) -> UnsafeRawBufferPointer {
        let keys = keyCount(ofPart: p)
        // Every argument takes at most its length + 25 bytes ($, 20 digits, two CRLFs).
        var needed = 25 + args[0].count + 25
        for j in 0..<keys {
            let first = Int(keyArgument[keyOrdinal(ofPart: p, j)])
            for i in first..<(first + step) { needed += args[i].count + 25 }
        }
        if needed > capacity {
            buffer.deallocate()
            capacity = max(needed, capacity * 2)
            buffer = .allocate(capacity: capacity)
        }
        var at = RESPEncoding.writeHeader(UInt8(ascii: "*"), 1 + keys * step, at: buffer)
        at = RESPEncoding.writeBulk(args[0], at: at)
        for j in 0..<keys {
            let first = Int(keyArgument[keyOrdinal(ofPart: p, j)])
            for i in first..<(first + step) { at = RESPEncoding.writeBulk(args[i], at: at) }
        }
        return UnsafeRawBufferPointer(start: buffer, count: at - buffer)
    }
}
