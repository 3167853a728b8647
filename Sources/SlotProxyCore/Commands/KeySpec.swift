// Redis 7 key specifications as values: where a command's keys sit among its arguments.
//
// A key spec has two steps, exactly as Redis declares them in its command table and publishes
// them in the reply to COMMAND:
//   begin_search  where the search starts: a fixed argument index, or the argument after a
//                 keyword found by scanning forwards (startfrom > 0) or backwards (< 0).
//   find_keys     which arguments from there are keys: a range (last key relative to the start,
//                 or to the end of the arguments when negative, with a step), or a count argument
//                 ("numkeys") followed by that many keys.
// CommandTable builds these from COMMAND (cold path). CommandSpec+Keys interprets them for each
// request over a compact, allocation-free form (`CompiledKeySpec`) built once here.

/// The access flags Redis attaches to a key spec (`RO`, `RW`, `OW`, `RM`, `access`, …).
public struct KeySpecFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// Read-only: the command reads the key's value but does not change it.
    public static let ro = KeySpecFlags(rawValue: 1 << 0)
    /// Read-write: the command may read and change the key's value.
    public static let rw = KeySpecFlags(rawValue: 1 << 1)
    /// Overwrite: the command replaces the key's value without reading it.
    public static let ow = KeySpecFlags(rawValue: 1 << 2)
    /// Remove: the command deletes the key.
    public static let rm = KeySpecFlags(rawValue: 1 << 3)
    /// The command returns or copies the value to the user.
    public static let access = KeySpecFlags(rawValue: 1 << 4)
    /// The command updates part of the value.
    public static let update = KeySpecFlags(rawValue: 1 << 5)
    /// The command only adds data to the value.
    public static let insert = KeySpecFlags(rawValue: 1 << 6)
    /// The command deletes data from the value.
    public static let delete = KeySpecFlags(rawValue: 1 << 7)
    /// Not a key but hashed like one (sharded pub/sub channels: SPUBLISH, SSUBSCRIBE).
    public static let notKey = KeySpecFlags(rawValue: 1 << 8)
    /// The spec may miss keys or report non-keys; Redis falls back to code of its own.
    public static let incomplete = KeySpecFlags(rawValue: 1 << 9)
    /// The access flags depend on the arguments (SET … GET, BITFIELD); positions are exact.
    public static let variableFlags = KeySpecFlags(rawValue: 1 << 10)

    /// Parses Redis's flag words; unknown words are ignored.
    public init(words: [String]) {
        var f: KeySpecFlags = []
        for w in words {
            switch w.lowercased() {
            case "ro": f.insert(.ro)
            case "rw": f.insert(.rw)
            case "ow": f.insert(.ow)
            case "rm": f.insert(.rm)
            case "access": f.insert(.access)
            case "update": f.insert(.update)
            case "insert": f.insert(.insert)
            case "delete": f.insert(.delete)
            case "not_key": f.insert(.notKey)
            case "incomplete": f.insert(.incomplete)
            case "variable_flags": f.insert(.variableFlags)
            default: break
            }
        }
        self = f
    }
}

/// One Redis 7 key specification.
public struct KeySpec: Sendable, Equatable {
    /// Where the search for keys starts.
    public enum BeginSearch: Sendable, Equatable {
        /// The search starts at this argument index (0 is the command name).
        case index(Int)
        /// The search starts after the first argument equal to `keyword` (ASCII case-insensitive;
        /// stored lower case), scanning forwards from `startFrom` when it is positive, or
        /// backwards from `count + startFrom` when it is negative.
        case keyword(keyword: [UInt8], startFrom: Int)
        /// Redis cannot say (e.g. SORT … STORE); it uses code of its own for these keys.
        case unknown
    }

    /// Which arguments, from where the search began, are keys.
    public enum FindKeys: Sendable, Equatable {
        /// Keys from the start up to `lastKey` (relative to the start when >= 0; relative to the
        /// end of the arguments when negative), every `keyStep` arguments. A non-zero `limit`
        /// (with lastKey -1) means only 1/limit of the remaining arguments are keys (XREAD).
        case range(lastKey: Int, keyStep: Int, limit: Int)
        /// The argument at start + `keyNumIndex` says how many keys follow; the first key is at
        /// start + `firstKey`, then every `keyStep` arguments.
        case keynum(keyNumIndex: Int, firstKey: Int, keyStep: Int)
        /// Redis cannot say.
        case unknown
    }

    public var beginSearch: BeginSearch
    public var findKeys: FindKeys
    public var flags: KeySpecFlags
    /// Redis's free-text note on the spec, if any.
    public var notes: String?

    public init(beginSearch: BeginSearch, findKeys: FindKeys, flags: KeySpecFlags = [], notes: String? = nil) {
        self.beginSearch = beginSearch
        self.findKeys = findKeys
        self.flags = flags
        self.notes = notes
    }

    /// True when Redis itself cannot find every key from this spec alone (an unknown step or
    /// the `incomplete` flag); `getKeysUsingKeySpecs` fails on such a spec when it is reached.
    public var isIncomplete: Bool {
        if flags.contains(.incomplete) { return true }
        if case .unknown = beginSearch { return true }
        if case .unknown = findKeys { return true }
        return false
    }
}

// MARK: - Compact form for the hot path

/// A key spec flattened into plain integers, so the per-request interpreter reads it without
/// reference counting or enum payload copies. Keywords live in the owning CommandSpec's byte
/// pool at `keywordStart ..< keywordStart + keywordLength`.
struct CompiledKeySpec: Sendable {
    enum Begin: UInt8, Sendable { case index, keyword, unknown }
    enum Find: UInt8, Sendable { case range, keynum, unknown }

    var begin: Begin
    var find: Find
    var flags: KeySpecFlags
    /// `.index`: the index; `.keyword`: startfrom.
    var beginValue: Int32
    var keywordStart: Int32
    var keywordLength: Int32
    /// `.range`: lastkey, keystep, limit; `.keynum`: keynumidx, firstkey, keystep.
    var a: Int32
    var b: Int32
    var c: Int32

    /// Flattens `spec`, appending its keyword to `pool`. Values Redis would never publish (a step
    /// below 1, a negative index or limit, numbers beyond Int32) become `.unknown`, so a strange
    /// reply can never make the interpreter loop forever or index out of range.
    init(_ spec: KeySpec, pool: inout [UInt8]) {
        func small(_ v: Int) -> Int32? { Int32(exactly: v) }
        flags = spec.flags
        beginValue = 0
        keywordStart = 0
        keywordLength = 0
        switch spec.beginSearch {
        case .index(let i):
            if i >= 0, let v = small(i) { begin = .index; beginValue = v } else { begin = .unknown }
        case .keyword(let keyword, let startFrom):
            if !keyword.isEmpty, let v = small(startFrom), let start = small(pool.count),
               let length = small(keyword.count) {
                begin = .keyword
                beginValue = v
                keywordStart = start
                keywordLength = length
                pool.append(contentsOf: keyword.map(asciiLower))
            } else {
                begin = .unknown
            }
        case .unknown:
            begin = .unknown
        }
        a = 0; b = 0; c = 0
        switch spec.findKeys {
        case .range(let lastKey, let keyStep, let limit):
            if keyStep >= 1, limit >= 0, let x = small(lastKey), let y = small(keyStep), let z = small(limit) {
                find = .range; a = x; b = y; c = z
            } else {
                find = .unknown
            }
        case .keynum(let keyNumIndex, let firstKey, let keyStep):
            if keyNumIndex >= 0, firstKey >= 0, keyStep >= 1,
               let x = small(keyNumIndex), let y = small(firstKey), let z = small(keyStep) {
                find = .keynum; a = x; b = y; c = z
            } else {
                find = .unknown
            }
        case .unknown:
            find = .unknown
        }
    }
}
