// A materialised RESP value, for the cold paths only: topology discovery (CLUSTER SHARDS,
// CLUSTER SLOTS), the command table (COMMAND) and tests. The request and reply hot paths
// never build one: they locate frames in place and forward bytes (RequestParser, ReplyScanner).
//
// Covers RESP2 and RESP3. Maps keep their pairs in order as a flat key, value list.

public indirect enum RESPValue: Equatable, Sendable {
    case simpleString(String)
    case error(String)
    case integer(Int64)
    /// `$-1` in RESP2 decodes as `.null`, like RESP3's `_`.
    case bulkString([UInt8])
    case array([RESPValue])
    case null
    case double(Double)
    case boolean(Bool)
    case bigNumber(String)
    case verbatimString(format: String, text: [UInt8])
    /// Pairs in order: key, value, key, value…
    case map([RESPValue])
    case set([RESPValue])
    case push([RESPValue])
    case attribute([RESPValue])
}

extension RESPValue {
    /// The text of a simple, bulk or verbatim string; nil for any other type.
    public var string: String? {
        switch self {
        case .simpleString(let s), .bigNumber(let s): return s
        case .bulkString(let b): return String(decoding: b, as: UTF8.self)
        case .verbatimString(_, let t): return String(decoding: t, as: UTF8.self)
        default: return nil
        }
    }

    /// The integer value of an integer reply or of a string holding a decimal integer.
    public var int: Int? {
        switch self {
        case .integer(let i): return Int(i)
        default: return string.flatMap { Int($0) }
        }
    }

    /// Elements of an array, set or push; the flat key/value list of a map.
    /// RESP2 answers maps as arrays, so readers of map-like replies accept both.
    public var elements: [RESPValue]? {
        switch self {
        case .array(let a), .set(let a), .push(let a), .map(let a): return a
        default: return nil
        }
    }

    /// Reads a map-like reply (a RESP3 map, or a RESP2 flat array of pairs) as
    /// (key, value) pairs with string keys.
    public var pairs: [(String, RESPValue)]? {
        guard let e = elements, e.count % 2 == 0 else { return nil }
        var out: [(String, RESPValue)] = []
        out.reserveCapacity(e.count / 2)
        var i = 0
        while i < e.count {
            guard let k = e[i].string else { return nil }
            out.append((k, e[i + 1]))
            i += 2
        }
        return out
    }

    /// Value of the first pair whose key equals `key` (case-sensitive) in a map-like reply.
    public subscript(key: String) -> RESPValue? {
        pairs?.first(where: { $0.0 == key })?.1
    }

    public var isError: Bool {
        if case .error = self { return true }
        return false
    }
}
