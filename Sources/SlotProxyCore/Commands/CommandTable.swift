// The command table: every command the cluster knows, found by name for each request.
//
//   COMMAND reply ──parse (CommandTable+Parsing)──▶ [CommandSpec] ──▶ open-addressing index
//   request args  ──resolve──▶ lookup(arg 0) ─▶ subcommand(arg 1) ─▶ arity ─▶ Resolution
//
// Built once (cold path) from a node's reply to COMMAND, or from the committed snapshot of a
// real server's reply when no node answers. `lookup` and `resolve` run for every request: they
// hash the lower-cased name bytes straight from the request buffer into a flat table of
// indices and compare against a byte pool, so the hot path allocates nothing. Only the error
// results build a String, with Redis 7.0's exact texts.

/// Every command of the cluster, by name. Immutable, so one table is shared by all workers.
public final class CommandTable: Sendable {
    /// What a request's first arguments name.
    public enum Resolution: Sendable {
        /// The command, or its subcommand when it has subcommands and argument 1 names one.
        /// The argument count fits its arity.
        case command(CommandSpec)
        /// Redis's text, e.g. `ERR unknown command 'foo', with args beginning with: 'a' 'b' `.
        case unknownCommand(error: String)
        /// Redis's text, e.g. `ERR unknown subcommand 'x'. Try OBJECT HELP.`.
        case unknownSubcommand(error: String)
        /// Redis's text, e.g. `ERR wrong number of arguments for 'get' command`.
        case wrongArity(error: String)

        /// Redis's error text; nil for `.command`.
        public var error: String? {
            switch self {
            case .command: return nil
            case .unknownCommand(let error), .unknownSubcommand(let error), .wrongArity(let error): return error
            }
        }
    }

    /// The top-level commands, in the order the reply listed them.
    public let commands: [CommandSpec]
    /// Commands and subcommands ("object|encoding"), indexed by `buckets`.
    private let entries: [CommandSpec]
    /// Open addressing, linear probing: an index into `entries`, or -1 for an empty bucket.
    private let buckets: [Int32]
    private let bucketMask: Int
    /// Lower-case full names back to back; entry i is `namePool[nameStarts[i] ..< nameStarts[i+1]]`.
    private let namePool: [UInt8]
    private let nameStarts: [Int32]
    private let longestName: Int

    /// Number of top-level commands (subcommands not counted).
    public var count: Int { commands.count }

    /// Builds a table over `commands` and all their subcommands. A repeated name keeps the first.
    public init(commands: [CommandSpec]) {
        var top: [CommandSpec] = []
        var all: [CommandSpec] = []
        var seen = Set<String>()
        for c in commands where seen.insert(c.name).inserted {
            top.append(c)
            all.append(c)
            for sub in c.subcommands where seen.insert(sub.name).inserted {
                all.append(sub)
            }
        }
        var pool: [UInt8] = []
        var starts: [Int32] = [0]
        var longest = 0
        for spec in all {
            let bytes = Array(spec.name.utf8)
            pool.append(contentsOf: bytes)
            starts.append(Int32(pool.count))
            longest = max(longest, bytes.count)
        }
        // At most a quarter full: probes stay short and misses end fast.
        var capacity = 16
        while capacity < all.count * 4 { capacity <<= 1 }
        var table = [Int32](repeating: -1, count: capacity)
        for (index, spec) in all.enumerated() {
            var slot = Int(CommandTable.hash(Array(spec.name.utf8))) & (capacity - 1)
            while table[slot] >= 0 { slot = (slot + 1) & (capacity - 1) }
            table[slot] = Int32(index)
        }
        self.commands = top
        self.entries = all
        self.buckets = table
        self.bucketMask = capacity - 1
        self.namePool = pool
        self.nameStarts = starts
        self.longestName = longest
    }

    // MARK: - Lookup

    /// FNV-1a over the ASCII-lower-cased bytes.
    @inline(__always)
    private static func hash<C: Collection>(_ bytes: C) -> UInt32 where C.Element == UInt8 {
        var h: UInt32 = 2_166_136_261
        for b in bytes { h = (h ^ UInt32(asciiLower(b))) &* 16_777_619 }
        return h
    }

    /// The command (or subcommand, by its full name "object|encoding") called `name`, ignoring
    /// ASCII case. Does not allocate.
    public func lookup(_ name: UnsafeRawBufferPointer) -> CommandSpec? {
        guard let index = entryIndex(name) else { return nil }
        return entries[index]
    }

    /// Where the command called `name` is in `entries` (the lookup without a reference).
    @inline(__always)
    private func entryIndex(_ name: UnsafeRawBufferPointer) -> Int? {
        guard name.count > 0, name.count <= longestName else { return nil }
        let h = CommandTable.hash(name)
        return buckets.withUnsafeBufferPointer { buckets in
            namePool.withUnsafeBufferPointer { pool in
                nameStarts.withUnsafeBufferPointer { starts in
                    var slot = Int(h) & bucketMask
                    while true {
                        let index = Int(buckets[slot])
                        if index < 0 { return nil }
                        let start = Int(starts[index])
                        if Int(starts[index + 1]) - start == name.count {
                            var j = 0
                            while j < name.count, asciiLower(name[j]) == pool[start + j] { j += 1 }
                            if j == name.count { return index }
                        }
                        slot = (slot + 1) & bucketMask
                    }
                }
            }
        }
    }

    /// The command called `name` ("get", "OBJECT|encoding"), ignoring case. Cold path.
    public func lookup(_ name: String) -> CommandSpec? {
        Array(name.utf8).withUnsafeBytes { lookup($0) }
    }

    // MARK: - Resolving a request

    /// Finds the command a request names, as Redis's processCommand does: argument 0 is the
    /// command, argument 1 the subcommand of a container command (when there is one), then the
    /// argument count is checked against the arity. Does not allocate unless it returns an error.
    public func resolve(_ args: RequestArguments) -> Resolution {
        switch match(args) {
        case .command(let spec): return .command(spec.takeUnretainedValue())
        case .unknownCommand: return .unknownCommand(error: CommandTable.unknownCommandError(args))
        case .unknownSubcommand: return .unknownSubcommand(error: CommandTable.unknownSubcommandError(args))
        case .wrongArity(let spec): return .wrongArity(error: spec.takeUnretainedValue().wrongArityError)
        }
    }

    /// `resolve` for the request path: the spec when `resolve` would return `.command`, nil
    /// when it would return an error. Unmanaged, because the table keeps every spec alive as
    /// long as itself and the caller holds the table: a request's resolution then takes no
    /// retain and release of its spec (read it with `_withUnsafeGuaranteedRef`).
    @inline(__always)
    public func resolveUnretained(_ args: RequestArguments) -> Unmanaged<CommandSpec>? {
        if case .command(let spec) = match(args) { return spec }
        return nil
    }

    /// The one decision behind `resolve` and `resolveUnretained`, with unretained specs.
    private enum Match {
        case command(Unmanaged<CommandSpec>)
        case unknownCommand
        case unknownSubcommand
        case wrongArity(Unmanaged<CommandSpec>)
    }

    @inline(__always)
    private func match(_ args: RequestArguments) -> Match {
        guard args.count > 0, let index = entryIndex(args[0]) else { return .unknownCommand }
        return entries.withUnsafeBufferPointer { entries in
            let base = Unmanaged.passUnretained(entries[index])
            return base._withUnsafeGuaranteedRef { base -> Match in
                guard base.containerName == nil else { return .unknownCommand }
                var spec = Unmanaged.passUnretained(base)
                if base.isContainer && args.count > 1 {
                    guard let sub = base.subcommand(args[1]) else { return .unknownSubcommand }
                    spec = Unmanaged.passUnretained(sub)
                }
                return spec._withUnsafeGuaranteedRef { $0.accepts(argumentCount: args.count) }
                    ? .command(spec) : .wrongArity(spec)
            }
        }
    }

    // MARK: - Redis's error texts (cold path)

    /// `ERR unknown command '%.128s', with args beginning with: ` then `'%.*s' ` per argument
    /// while the list is shorter than 128 bytes, each cut to what is left of the 128.
    static func unknownCommandError(_ args: RequestArguments) -> String {
        var text = Array("ERR unknown command '".utf8)
        if args.count > 0 { text += cString(args[0]).prefix(128) }
        text += Array("', with args beginning with: ".utf8)
        var list: [UInt8] = []
        var i = 1
        while i < args.count && list.count < 128 {
            list.append(UInt8(ascii: "'"))
            list += cString(args[i]).prefix(128 - (list.count - 1))
            list += [UInt8(ascii: "'"), UInt8(ascii: " ")]
            i += 1
        }
        return errorString(text + list)
    }

    /// `ERR unknown subcommand '%.128s'. Try <ARG0 upper-cased> HELP.`
    static func unknownSubcommandError(_ args: RequestArguments) -> String {
        var text = Array("ERR unknown subcommand '".utf8)
        text += cString(args[1]).prefix(128)
        text += Array("'. Try ".utf8)
        text += cString(args[0]).map { (b: UInt8) -> UInt8 in (b &- 97) < 26 ? b & 0xDF : b }
        text += Array(" HELP.".utf8)
        return errorString(text)
    }

    /// Redis formats arguments with %s: a NUL byte ends them.
    private static func cString(_ arg: UnsafeRawBufferPointer) -> ArraySlice<UInt8> {
        let bytes = Array(arg)
        return bytes[..<(bytes.firstIndex(of: 0) ?? bytes.count)]
    }

    /// Redis replaces CR and LF in an error with spaces so the reply stays one line.
    private static func errorString(_ bytes: [UInt8]) -> String {
        String(decoding: bytes.map { $0 == 13 || $0 == 10 ? UInt8(ascii: " ") : $0 }, as: UTF8.self)
    }
}
