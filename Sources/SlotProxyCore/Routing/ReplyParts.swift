// The replies of one split or fanned-out request, collected as they arrive from different
// primaries (in any order) into one reusable byte buffer, with the key ordinals that put an
// MGET's values back in the client's order. A worker reuses these between requests, so
// collecting and merging the common multi-key replies allocates nothing once warm.
//
//   part 2 arrives  ─▶ bytes: [*1 vd]            length: [-1, -1, 7]
//   part 0 arrives  ─▶ bytes: [*1 vd][*2 va vc]  length: [13, -1, 7]   … last part ─▶ merge

public struct ReplyParts {
    /// Parts expected.
    public private(set) var count = 0
    /// Parts not arrived yet.
    public private(set) var remaining = 0
    /// For `.keyOrder`: how many keys the request named.
    public private(set) var keyCount = 0

    private var bytes: [UInt8] = []
    private var start: [Int] = []
    /// Per part: its length, -1 until it arrives.
    private var length: [Int] = []
    /// Key ordinals of every part, flattened, part `p`'s at `ordinalStart[p]..<ordinalStart[p+1]`.
    private var ordinals: [Int32] = []
    private var ordinalStart: [Int32] = []
    /// Merge scratch: where each key's value sits in `bytes` (`.keyOrder`).
    private var keyStart: [Int] = []
    private var keyLength: [Int] = []

    public init() {}

    /// Bytes the reply buffer holds on to (a pool drops parts that grew large).
    public var bufferCapacity: Int { bytes.capacity }

    /// Starts collecting `parts` replies (keeping every buffer's capacity).
    public mutating func reset(parts: Int) {
        count = parts
        remaining = parts
        keyCount = 0
        bytes.removeAll(keepingCapacity: true)
        start.removeAll(keepingCapacity: true)
        start.append(contentsOf: repeatElement(0, count: parts))
        length.removeAll(keepingCapacity: true)
        length.append(contentsOf: repeatElement(-1, count: parts))
        ordinals.removeAll(keepingCapacity: true)
        ordinalStart.removeAll(keepingCapacity: true)
    }

    /// Takes the key ordinals of the plan `planner` holds (MGET's merge needs them).
    public mutating func setKeyOrdinals(from planner: SplitPlanner) {
        keyCount = planner.keyCount
        for p in 0..<planner.partCount {
            ordinalStart.append(Int32(ordinals.count))
            for j in 0..<planner.keyCount(ofPart: p) { ordinals.append(Int32(planner.keyOrdinal(ofPart: p, j))) }
        }
        ordinalStart.append(Int32(ordinals.count))
    }

    /// Takes key ordinals given per part (tests, cold paths).
    public mutating func setKeyOrdinals(_ perPart: [[Int]], keyCount: Int) {
        self.keyCount = keyCount
        for part in perPart {
            ordinalStart.append(Int32(ordinals.count))
            for o in part { ordinals.append(Int32(o)) }
        }
        ordinalStart.append(Int32(ordinals.count))
    }

    /// Records part `index`; true when it was the last one missing. A part that is already
    /// in, or out of range, is ignored.
    public mutating func add(_ index: Int, _ reply: UnsafeRawBufferPointer) -> Bool {
        guard index >= 0, index < count, length[index] < 0 else { return false }
        start[index] = bytes.count
        length[index] = reply.count
        bytes.append(contentsOf: reply)
        remaining -= 1
        return remaining == 0
    }

    /// Every part as its own array (missing ones empty): for the merge rules that are not
    /// on the hot path.
    public var collected: [[UInt8]] {
        (0..<count).map { length[$0] < 0 ? [] : Array(bytes[start[$0]..<(start[$0] + length[$0])]) }
    }

    /// The key ordinals per part.
    public var keyOrdinals: [[Int]] {
        guard !ordinalStart.isEmpty else { return [] }
        return (0..<(ordinalStart.count - 1)).map { p in
            ordinals[Int(ordinalStart[p])..<Int(ordinalStart[p + 1])].map { Int($0) }
        }
    }

    /// Merges the collected parts by `rule`, appending the client's reply to `out`. MGET
    /// (`.keyOrder`), DEL/EXISTS (`.sum`) and MSET (`.allOK`) whose parts all succeeded as
    /// expected take a path that allocates nothing; anything else (errors, unexpected
    /// shapes, the cluster-wide rules) goes through `ReplyMerger.merge`.
    public mutating func merge(_ rule: ReplyMerge, partName: String, into out: inout [UInt8]) {
        if remaining == 0, !hasError, mergeDirectly(rule, into: &out) { return }
        out.append(contentsOf: ReplyMerger.merge(rule, parts: collected, keyOrdinals: keyOrdinals, keyCount: keyCount,
                                                 partName: partName))
    }

    private var hasError: Bool {
        for p in 0..<count {
            let type = bytes[start[p]]
            if type == UInt8(ascii: "-") || type == UInt8(ascii: "!") { return true }
        }
        return false
    }

    private mutating func mergeDirectly(_ rule: ReplyMerge, into out: inout [UInt8]) -> Bool {
        switch rule {
        case .sum:
            var total: Int64 = 0
            let ok = bytes.withUnsafeBufferPointer { buf -> Bool in
                for p in 0..<count {
                    guard let n = ReplyMerger.integer(in: part(p, of: buf)) else { return false }
                    total &+= n
                }
                return true
            }
            guard ok else { return false }
            RESPEncoding.appendHeader(UInt8(ascii: ":"), Int(total), to: &out)
            return true
        case .allOK:
            for p in 0..<count where !isOK(p) { return false }
            out.append(contentsOf: RESPReply.ok)
            return true
        case .keyOrder:
            guard locateKeys() else { return false }
            RESPEncoding.appendHeader(UInt8(ascii: "*"), keyCount, to: &out)
            bytes.withUnsafeBytes { buf in
                for k in 0..<keyCount {
                    out.append(contentsOf: UnsafeRawBufferPointer(rebasing: buf[keyStart[k]..<(keyStart[k] + keyLength[k])]))
                }
            }
            return true
        default:
            return false
        }
    }

    private func isOK(_ p: Int) -> Bool {
        guard length[p] == 5 else { return false }
        let s = start[p]
        return bytes[s] == UInt8(ascii: "+") && bytes[s + 1] == UInt8(ascii: "O") && bytes[s + 2] == UInt8(ascii: "K")
    }

    /// Finds every key's value in the parts (array replies, one element per key of the part).
    /// False when a part is not such an array or a key is left without a value.
    private mutating func locateKeys() -> Bool {
        guard ordinalStart.count == count + 1 else { return false }
        // Work on the scratch tables as locals (moved out, not copied) while `bytes` is read.
        var keyStart: [Int] = [], keyLength: [Int] = []
        swap(&keyStart, &self.keyStart)
        swap(&keyLength, &self.keyLength)
        defer {
            swap(&keyStart, &self.keyStart)
            swap(&keyLength, &self.keyLength)
        }
        keyStart.removeAll(keepingCapacity: true)
        keyStart.append(contentsOf: repeatElement(-1, count: keyCount))
        keyLength.removeAll(keepingCapacity: true)
        keyLength.append(contentsOf: repeatElement(0, count: keyCount))
        let found = bytes.withUnsafeBufferPointer { buf -> Bool in
            for p in 0..<count {
                let first = Int(ordinalStart[p]), keys = Int(ordinalStart[p + 1]) - first
                var j = 0, fits = true
                let elements = ReplyMerger.forEachElement(in: part(p, of: buf)) { offset, size in
                    guard fits, j < keys, Int(ordinals[first + j]) < keyCount else {
                        fits = false
                        return
                    }
                    let ordinal = Int(ordinals[first + j])
                    keyStart[ordinal] = start[p] + offset
                    keyLength[ordinal] = size
                    j += 1
                }
                guard fits, elements == keys else { return false }
            }
            return true
        }
        guard found else { return false }
        for k in 0..<keyCount where keyStart[k] < 0 { return false }
        return true
    }

    /// Part `p`'s bytes within `buf` (the collected bytes).
    private func part(_ p: Int, of buf: UnsafeBufferPointer<UInt8>) -> UnsafeBufferPointer<UInt8> {
        UnsafeBufferPointer(rebasing: buf[start[p]..<(start[p] + length[p])])
    }
}
