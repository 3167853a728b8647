// Key extraction: which arguments of one request are keys. Runs for every request, so it walks
// the flattened key specs and the argument view directly: no String, no Array, no allocation.
//
// The interpreter is a port of Redis 7.0's getKeysUsingKeySpecs (src/db.c), wrapped the way
// getKeysFromCommandWithSpecs wraps it, which is what a cluster node itself uses to route:
//   1. walk the specs in order; a spec flagged not_key (sharded channels) is skipped unless asked;
//   2. begin_search: a fixed index, or the argument after a keyword found scanning forwards from
//      startfrom (never looking at the last argument) or backwards from count+startfrom (never
//      looking at argument 1); a keyword that is absent means the spec has no keys;
//   3. find_keys: range (lastkey >= 0 relative to the start, < 0 relative to the end; a limit
//      keeps 1/limit of what remains, for XREAD's keys-then-IDs), or keynum (a strict decimal
//      count argument, then that many keys);
//   4. a first/last key outside the arguments is a syntax error: the whole extraction is
//      `.invalid` and the caller lets a node answer with Redis's own error;
//   5. a spec Redis cannot interpret (`unknown`, or flagged `incomplete` once it is reached) also
//      makes getKeysUsingKeySpecs fail; Redis then runs C code of its own. For the built-in
//      commands where that happens (SORT, SORT_RO, MIGRATE in Redis 7.0) the same logic is
//      ported here (NativeKeyFinder); for any other command (a module's) the result is `.invalid`.
// Two deliberate differences, both only on requests the node rejects or answers without keys:
//   - keynum with numkeys 0 gives no keys from that spec and is `.ok` (EVAL s 0 is a normal,
//     keyless call; Redis reaches the same "no keys" through its fallback);
//   - keynum with keystep > 1 visits numkeys keys (first + (numkeys-1)*keystep); 7.0 computes
//     first + numkeys-1. No built-in command has such a spec.

/// Outcome of key extraction for one request.
public enum KeyExtraction: Sendable, Equatable {
    /// Every key was reported (possibly none).
    case ok
    /// The arguments do not fit the key specs (bad numkeys, too few arguments, a spec Redis
    /// cannot interpret). Keys already reported must be ignored; a node will answer the request
    /// with Redis's own error (or a redirection).
    case invalid
}

/// The C key finders Redis runs when a built-in command's key specs are not enough.
enum NativeKeyFinder: Sendable {
    case none
    /// sortGetKeys: the key, then the argument after the last STORE (skipping LIMIT/GET/BY values).
    case sort
    /// sortROGetKeys: argument 1 only.
    case sortReadOnly
    /// migrateGetKeys: argument 3, or the arguments after KEYS when argument 3 is empty.
    case migrate

    init(commandName: String, hasIncompleteKeySpecs: Bool) {
        guard hasIncompleteKeySpecs else { self = .none; return }
        switch commandName {
        case "sort": self = .sort
        case "sort_ro": self = .sortReadOnly
        case "migrate": self = .migrate
        default: self = .none
        }
    }
}

extension CommandSpec {
    /// Calls `body` with the argument index of each key of the request, in Redis's order.
    /// Sharded channels (key specs flagged not_key, as in SPUBLISH) are not keys and are skipped.
    /// Does not allocate.
    ///
    /// - Parameters:
    ///   - args: the whole request, argument 0 being the command name.
    ///   - body: receives each key's argument index; the same index can come twice (EXISTS a a).
    /// - Returns: `.ok`, or `.invalid` when the arguments do not fit the key specs; on `.invalid`
    ///   any keys already given to `body` must be ignored.
    @inline(__always)
    public func forEachKey(in args: RequestArguments, _ body: (Int) -> Void) -> KeyExtraction {
        forEachKey(in: args, includingNotKeys: false) { index, _ in body(index) }
    }

    /// Like `forEachKey(in:_:)`, also giving each key's spec flags. With `includingNotKeys`,
    /// arguments of not_key specs (sharded pub/sub channels, which hash to slots like keys) are
    /// reported too, with `.notKey` in their flags.
    public func forEachKey(in args: RequestArguments, includingNotKeys: Bool,
                           _ body: (_ index: Int, _ flags: KeySpecFlags) -> Void) -> KeyExtraction {
        if case .none = keyFinder {
            return interpretKeySpecs(args, includingNotKeys: includingNotKeys, report: true, body)
        }
        // Redis prefers the specs whenever they succeed and only then runs its own finder, so
        // try them silently first (three commands only; the rest take the branch above).
        if interpretKeySpecs(args, includingNotKeys: includingNotKeys, report: false, body) == .ok {
            return interpretKeySpecs(args, includingNotKeys: includingNotKeys, report: true, body)
        }
        findKeysNatively(args, body)
        return .ok
    }

    /// getKeysUsingKeySpecs over the flattened specs. With `report` false it only validates.
    private func interpretKeySpecs(_ args: RequestArguments, includingNotKeys: Bool, report: Bool,
                                   _ body: (Int, KeySpecFlags) -> Void) -> KeyExtraction {
        let argc = args.count
        return compiledKeySpecs.withUnsafeBufferPointer { specs in
            keywordPool.withUnsafeBufferPointer { pool in
                for spec in specs {
                    if spec.flags.contains(.notKey) && !includingNotKeys { continue }

                    var first = 0
                    switch spec.begin {
                    case .index:
                        first = Int(spec.beginValue)
                    case .keyword:
                        let startFrom = Int(spec.beginValue)
                        let startIndex = startFrom > 0 ? startFrom : argc + startFrom
                        let endIndex = startFrom > 0 ? argc - 1 : 1
                        let forwards = startIndex <= endIndex
                        var i = startIndex
                        while i != endIndex {
                            if i >= argc || i < 1 { break }
                            if keywordMatches(args[i], pool, spec) { first = i + 1; break }
                            i = forwards ? i + 1 : i - 1
                        }
                        // No keyword, no keys from this spec.
                        if first == 0 { continue }
                    case .unknown:
                        return .invalid
                    }

                    var last = 0
                    var step = 1
                    switch spec.find {
                    case .range:
                        let lastKey = Int(spec.a)
                        let limit = Int(spec.c)
                        step = Int(spec.b)
                        if lastKey >= 0 {
                            last = first + lastKey
                        } else if limit == 0 {
                            last = argc + lastKey
                        } else {
                            // XREAD … STREAMS k1 k2 id1 id2: half of what remains are keys.
                            last = first + ((argc - first) / limit + lastKey)
                        }
                    case .keynum:
                        step = Int(spec.c)
                        let numkeysIndex = first + Int(spec.a)
                        guard numkeysIndex < argc,
                              let numkeys = redisStrictInteger(args[numkeysIndex]), numkeys >= 0 else {
                            return .invalid
                        }
                        if numkeys == 0 { continue }
                        // More keys than arguments can never fit; also keeps the arithmetic small.
                        guard numkeys <= Int64(argc) else { return .invalid }
                        first += Int(spec.b)
                        last = first + (Int(numkeys) - 1) * step
                    case .unknown:
                        return .invalid
                    }

                    // First or last out of bounds: a syntax error for the node to report.
                    if last >= argc || last < first || first >= argc { return .invalid }

                    if report {
                        var i = first
                        while i <= last {
                            body(i, spec.flags)
                            i += step
                        }
                    }
                    // Redis reports an incomplete spec's keys, then gives up on the request.
                    if spec.flags.contains(.incomplete) { return .invalid }
                }
                return .ok
            }
        }
    }

    @inline(__always)
    private func keywordMatches(_ arg: UnsafeRawBufferPointer, _ pool: UnsafeBufferPointer<UInt8>,
                                _ spec: CompiledKeySpec) -> Bool {
        let length = Int(spec.keywordLength)
        guard arg.count == length else { return false }
        let start = Int(spec.keywordStart)
        for j in 0..<length where asciiLower(arg[j]) != pool[start + j] {
            return false
        }
        return true
    }

    /// Redis's own key finders for the built-in commands whose specs are not enough
    /// (sortGetKeys, sortROGetKeys, migrateGetKeys in src/db.c of Redis 7.0).
    private func findKeysNatively(_ args: RequestArguments, _ body: (Int, KeySpecFlags) -> Void) {
        let argc = args.count
        switch keyFinder {
        case .none:
            return
        case .sortReadOnly:
            if argc > 1 { body(1, .readAccess) }
        case .sort:
            guard argc > 1 else { return }
            body(1, .readAccess)
            // Options take no value unless listed; the last STORE wins, as in SORT itself.
            var store = 0
            var i = 2
            while i < argc {
                let arg = args[i]
                if asciiCaseInsensitiveEquals(arg, "limit") {
                    i += 2
                } else if asciiCaseInsensitiveEquals(arg, "store") && i + 1 < argc {
                    store = i + 1
                } else if asciiCaseInsensitiveEquals(arg, "get") || asciiCaseInsensitiveEquals(arg, "by") {
                    i += 1
                }
                i += 1
            }
            if store != 0 { body(store, .overwriteUpdate) }
        case .migrate:
            // MIGRATE host port key|"" destination-db timeout [COPY] [REPLACE] [AUTH pw]
            //         [AUTH2 user pw] [KEYS key …]
            var first = 3
            var count = argc > 3 ? 1 : 0
            if argc > 6 {
                var i = 6
                while i < argc {
                    let arg = args[i]
                    if asciiCaseInsensitiveEquals(arg, "keys") {
                        if args[3].count > 0 {
                            // A key and KEYS together: a syntax error for MIGRATE to report.
                            count = 0
                        } else {
                            first = i + 1
                            count = argc - first
                        }
                        break
                    }
                    if asciiCaseInsensitiveEquals(arg, "auth") {
                        i += 1
                    } else if asciiCaseInsensitiveEquals(arg, "auth2") {
                        i += 2
                    }
                    i += 1
                }
            }
            for k in 0..<count { body(first + k, .readWriteAccessDelete) }
        }
    }
}

// The flags Redis's own finders give their keys, as constants: an array literal of options
// would build an Array per call in unoptimised builds.
extension KeySpecFlags {
    fileprivate static let readAccess: KeySpecFlags = [.ro, .access]
    fileprivate static let overwriteUpdate: KeySpecFlags = [.ow, .update]
    fileprivate static let readWriteAccessDelete: KeySpecFlags = [.rw, .access, .delete]
}

/// Parses a decimal integer the way Redis's string2ll does: optional '-', no '+', no spaces,
/// no leading zeros, within Int64. Returns nil for anything else.
@inline(__always)
func redisStrictInteger(_ bytes: UnsafeRawBufferPointer) -> Int64? {
    let n = bytes.count
    guard n > 0, n <= 20 else { return nil }
    if n == 1 && bytes[0] == UInt8(ascii: "0") { return 0 }
    var i = 0
    let negative = bytes[0] == UInt8(ascii: "-")
    if negative { i = 1 }
    guard i < n, bytes[i] >= UInt8(ascii: "1"), bytes[i] <= UInt8(ascii: "9") else { return nil }
    var value: UInt64 = 0
    while i < n {
        let d = bytes[i] &- UInt8(ascii: "0")
        guard d < 10 else { return nil }
        let (m, o1) = value.multipliedReportingOverflow(by: 10)
        let (s, o2) = m.addingReportingOverflow(UInt64(d))
        guard !o1, !o2 else { return nil }
        value = s
        i += 1
    }
    if negative {
        guard value <= UInt64(Int64.max) + 1 else { return nil }
        return value == UInt64(Int64.max) + 1 ? Int64.min : -Int64(value)
    }
    guard value <= UInt64(Int64.max) else { return nil }
    return Int64(value)
}
