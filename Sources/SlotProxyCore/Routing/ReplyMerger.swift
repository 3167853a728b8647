// Puts the replies of a split or fanned-out request back together into the one reply the
// client expects, by the command's merge rule. Parts arrive as complete RESP replies (bytes);
// elements are located with ReplyScanner and copied, never decoded and re-encoded.
//
//   MGET parts  [*2 va vc] [*1 vb] [*1 vd]  + key ordinals [0,2] [1] [3]  ─▶  *4 va vb vc vd
//   DEL parts   [:1] [:0] [:2]                                          ─▶  :3
//
// A part that failed is never hidden behind a reply that looks whole: if any part is an
// error the client gets one error saying how many parts failed and the first reason. The one
// exception is `.oneSucceeded` (SCRIPT KILL), where every primary but one is expected to refuse.

public enum ReplyMerger {
    /// Merges `parts` (one complete reply each, in plan order) by `rule`.
    /// - Parameters:
    ///   - keyOrdinals: for `.keyOrder`, each part's key positions (SplitPlan.Part.keyOrdinals).
    ///   - keyCount: for `.keyOrder`, how many keys the request had.
    ///   - partName: what a part is, for the error text ("slots", "primaries").
    public static func merge(_ rule: ReplyMerge, parts: [[UInt8]], keyOrdinals: [[Int]] = [], keyCount: Int = 0,
                             partName: String = "parts") -> [UInt8] {
        if rule == .oneSucceeded {
            // Errors are the expected answer of all but one part here, not a failure.
            return parts.first { errorText($0) == nil } ?? parts.first ?? RESPReply.error("ERR slotproxy: no reply")
        }
        if let failure = failureReply(parts, partName: partName) { return failure }
        switch rule {
        case .none, .first, .oneSucceeded, .custom:
            return parts.first ?? RESPReply.error("ERR slotproxy: no reply")
        case .sum:
            var total: Int64 = 0
            for p in parts {
                guard let n = integer(p) else { return unexpected(p) }
                total &+= n
            }
            return RESPReply.integer(Int(total))
        case .allOK:
            for p in parts where p != RESPReply.ok { return p }
            return RESPReply.ok
        case .keyOrder:
            var slots = [ArraySlice<UInt8>?](repeating: nil, count: keyCount)
            for (i, p) in parts.enumerated() {
                guard let elements = elements(p), i < keyOrdinals.count, elements.count == keyOrdinals[i].count else {
                    return unexpected(p)
                }
                for (j, e) in elements.enumerated() where keyOrdinals[i][j] < keyCount {
                    slots[keyOrdinals[i][j]] = e
                }
            }
            var out = RESPReply.arrayHeader(keyCount)
            for s in slots {
                guard let s else { return RESPReply.error("ERR slotproxy: a key's reply is missing") }
                out.append(contentsOf: s)
            }
            return out
        case .union:
            var all: [ArraySlice<UInt8>] = []
            var seen = Set<ArraySlice<UInt8>>()
            for p in parts {
                guard let e = elements(p) else { return unexpected(p) }
                for x in e where seen.insert(x).inserted { all.append(x) }
            }
            var out = RESPReply.arrayHeader(all.count)
            for e in all { out.append(contentsOf: e) }
            return out
        case .pairSum:
            var order: [ArraySlice<UInt8>] = []
            var totals: [ArraySlice<UInt8>: Int64] = [:]
            for p in parts {
                guard let e = elements(p), e.count % 2 == 0 else { return unexpected(p) }
                for i in stride(from: 0, to: e.count, by: 2) {
                    guard let n = integer(Array(e[i + 1])) else { return unexpected(p) }
                    if totals[e[i]] == nil { order.append(e[i]) }
                    // Wrapping, as for .sum: a node's count must never trap the proxy.
                    totals[e[i], default: 0] &+= n
                }
            }
            var out = RESPReply.arrayHeader(order.count * 2)
            for name in order {
                out.append(contentsOf: name)
                out += RESPReply.integer(Int(totals[name]!))
            }
            return out
        case .logicalAnd:
            var result: [Int64]?
            for p in parts {
                guard let e = elements(p) else { return unexpected(p) }
                let values = e.compactMap { integer(Array($0)) }
                guard values.count == e.count else { return unexpected(p) }
                if let r = result {
                    guard r.count == values.count else { return unexpected(p) }
                    result = zip(r, values).map { $0 != 0 && $1 != 0 ? 1 : 0 }
                } else {
                    result = values
                }
            }
            var out = RESPReply.arrayHeader(result?.count ?? 0)
            for v in result ?? [] { out += RESPReply.integer(Int(v)) }
            return out
        }
    }

    /// One error for the client when any part failed: `ERR slotproxy: 2 of 5 slots failed: <first error>`.
    /// A request that failed the same way everywhere (a bad argument every node rejects, a
    /// single part) gets the node's own error unchanged, as from one Redis server.
    public static func failureReply(_ parts: [[UInt8]], partName: String) -> [UInt8]? {
        let errors = parts.compactMap(errorText)
        guard let first = errors.first else { return nil }
        if errors.count == parts.count && errors.allSatisfy({ $0 == first }) {
            return RESPReply.error(first)
        }
        return RESPReply.error("ERR slotproxy: \(errors.count) of \(parts.count) \(partName) failed: \(first)")
    }

    /// The text of an error reply (`-…` or RESP3 `!…`), nil for any other reply.
    public static func errorText(_ reply: [UInt8]) -> String? {
        guard let type = reply.first else { return nil }
        if type == UInt8(ascii: "-") {
            return String(decoding: reply.dropFirst().prefix { $0 != 13 }, as: UTF8.self)
        }
        if type == UInt8(ascii: "!"), let v = try? RESPValueDecoder.decode(reply), case .error(let s) = v.value {
            return s
        }
        return nil
    }

    /// The value of an integer reply.
    public static func integer(_ reply: [UInt8]) -> Int64? {
        reply.withUnsafeBufferPointer { integer(in: $0) }
    }

    /// The value of the integer reply in `reply` (no copy: the allocation-free merges use it).
    static func integer(in reply: UnsafeBufferPointer<UInt8>) -> Int64? {
        guard reply.first == UInt8(ascii: ":"), let cr = reply.firstIndex(of: 13) else { return nil }
        return parseInteger(reply.baseAddress! + 1, cr - 1)
    }

    /// The elements of an array, set or push reply, each as its complete bytes.
    public static func elements(_ reply: [UInt8]) -> [ArraySlice<UInt8>]? {
        var out: [ArraySlice<UInt8>] = []
        let count = reply.withUnsafeBufferPointer { buf in
            forEachElement(in: buf) { offset, length in out.append(reply[offset..<(offset + length)]) }
        }
        return count == nil ? nil : out
    }

    /// Walks the elements of the array, set or push reply in `reply`, giving each one's offset
    /// and length, without copying. Returns how many there are (a nil array has none); nil when
    /// `reply` is not such a reply or an element is cut short.
    static func forEachElement(in reply: UnsafeBufferPointer<UInt8>,
                               _ body: (_ offset: Int, _ length: Int) -> Void) -> Int? {
        guard let type = reply.first, type == UInt8(ascii: "*") || type == UInt8(ascii: "~") || type == UInt8(ascii: ">"),
              let cr = reply.firstIndex(of: 13), let n = parseInteger(reply.baseAddress! + 1, cr - 1) else { return nil }
        if n < 0 { return 0 }
        var offset = cr + 2
        var scanner = ReplyScanner()
        for _ in 0..<n {
            guard case .complete(let length) = scanner.scan(reply.baseAddress! + offset, count: reply.count - offset) else {
                return nil
            }
            body(offset, length)
            offset += length
        }
        return Int(n)
    }

    private static func unexpected(_ part: [UInt8]) -> [UInt8] {
        let shown = String(decoding: part.prefix(40), as: UTF8.self)
        return RESPReply.error("ERR slotproxy: unexpected reply from a node while merging: \(shown)")
    }
}
