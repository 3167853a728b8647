// What slotproxy knows about one Redis command: its name, arity, flags, key specs, tips and
// subcommands, as the cluster described them in its reply to COMMAND.
//
// CommandTable builds one CommandSpec per command and subcommand (cold path) and hands it out
// per request. Everything a request needs at run time (arity check, subcommand lookup, key
// extraction in CommandSpec+Keys.swift) works on data flattened here at build time: byte pools
// and plain integers, so the hot path never allocates or touches a String.

/// One Redis command (or subcommand, such as `object|encoding`).
public final class CommandSpec: Sendable {
    /// Lower-case name; subcommands as Redis names them: `container|sub`, e.g. "object|encoding".
    public let name: String
    /// Redis's arity: positive = exactly this many arguments (the name included); negative =
    /// at least -arity arguments.
    public let arity: Int
    public let flags: CommandFlags
    /// Where the keys are, in Redis's order.
    public let keySpecs: [KeySpec]
    public let tips: CommandTips
    /// ACL categories ("@read", "@slow", …) as published.
    public let aclCategories: [String]
    /// Subcommands (e.g. OBJECT ENCODING); empty for plain commands. Chosen by argument 1.
    public let subcommands: [CommandSpec]
    /// For a subcommand, the name of its container command ("object"); nil otherwise.
    public let containerName: String?
    /// Redis's exact reply to a wrong argument count, without the leading '-':
    /// `ERR wrong number of arguments for 'get' command` (full name for subcommands).
    public let wrongArityError: String
    /// True when some key spec cannot be interpreted by itself (Redis marks it `incomplete` or
    /// `unknown`, e.g. SORT … STORE, MIGRATE … KEYS). See `forEachKey` for what happens then.
    public let hasIncompleteKeySpecs: Bool
    /// How the proxy routes this command and merges its replies (Routing/CommandPolicy).
    public let policy: CommandPolicy
    /// This command's number in `NameRegistry.commands`: where workers count its calls.
    public let statsIndex: Int

    // Hot-path forms, built once in init.
    let compiledKeySpecs: [CompiledKeySpec]
    let keywordPool: [UInt8]
    let keyFinder: NativeKeyFinder
    /// When the key specs name exactly one key at a fixed index (GET, SET, INCR, HGET…: one
    /// spec, index then range 0, nothing incomplete, no native finder), that index; else 0.
    /// `keySlot` then hashes that argument without walking the specs.
    let singleKeyIndex: Int
    /// Lower-case subcommand names after the '|', back to back; subcommand i ends at
    /// `subcommandNameEnds[i]`.
    let subcommandNamePool: [UInt8]
    let subcommandNameEnds: [Int32]

    /// - Parameters:
    ///   - name: the command's name; lower-cased here. Subcommands use `container|sub`.
    ///   - subcommands: their names must start with this command's name and '|'.
    public init(name: String, arity: Int, flags: CommandFlags = [], keySpecs: [KeySpec] = [],
                tips: CommandTips = CommandTips(), aclCategories: [String] = [],
                subcommands: [CommandSpec] = []) {
        let lower = name.lowercased()
        self.name = lower
        self.arity = arity
        self.flags = flags
        self.keySpecs = keySpecs
        self.tips = tips
        self.aclCategories = aclCategories
        self.subcommands = subcommands
        if let bar = lower.firstIndex(of: "|") {
            self.containerName = String(lower[..<bar])
        } else {
            self.containerName = nil
        }
        self.wrongArityError = "ERR wrong number of arguments for '\(lower)' command"
        self.hasIncompleteKeySpecs = keySpecs.contains { $0.isIncomplete }
        self.policy = CommandPolicy.resolve(name: lower, flags: flags, tips: tips, hasKeys: !keySpecs.isEmpty)
        self.statsIndex = NameRegistry.commands.index(for: lower)

        var pool: [UInt8] = []
        self.compiledKeySpecs = keySpecs.map { CompiledKeySpec($0, pool: &pool) }
        self.keywordPool = pool
        self.keyFinder = NativeKeyFinder(commandName: lower, hasIncompleteKeySpecs: hasIncompleteKeySpecs)
        self.singleKeyIndex = Self.singleKeyIndex(compiledKeySpecs, keyFinder)

        var names: [UInt8] = []
        var ends: [Int32] = []
        for sub in subcommands {
            let full = Array(sub.name.utf8)
            let short = full.firstIndex(of: UInt8(ascii: "|")).map { full[($0 + 1)...] } ?? full[...]
            names.append(contentsOf: short)
            ends.append(Int32(names.count))
        }
        self.subcommandNamePool = names
        self.subcommandNameEnds = ends
    }

    /// True when a request with `argumentCount` arguments (the command name included) has the
    /// right number of arguments for this command, by Redis's arity rule.
    @inline(__always)
    public func accepts(argumentCount: Int) -> Bool {
        // Redis: (arity > 0 && arity != argc) || (argc < -arity) is an error.
        arity > 0 ? argumentCount == arity : argumentCount >= -arity
    }

    /// True when this command has subcommands (OBJECT, CLIENT, CONFIG, …).
    @inline(__always)
    public var isContainer: Bool { !subcommands.isEmpty }

    /// The subcommand named by `argument` (argument 1 of the request), ignoring ASCII case.
    /// Does not allocate.
    public func subcommand(_ argument: UnsafeRawBufferPointer) -> CommandSpec? {
        subcommandNamePool.withUnsafeBufferPointer { pool in
            subcommandNameEnds.withUnsafeBufferPointer { ends in
                var start = 0
                for i in 0..<ends.count {
                    let end = Int(ends[i])
                    defer { start = end }
                    guard end - start == argument.count else { continue }
                    var j = 0
                    while j < argument.count, asciiLower(argument[j]) == pool[start + j] { j += 1 }
                    if j == argument.count { return subcommands[i] }
                }
                return nil
            }
        }
    }

    /// The subcommand called `name` ("encoding" or "object|encoding"), ignoring case. Cold path.
    public func subcommand(named name: String) -> CommandSpec? {
        let lower = name.lowercased()
        let full = lower.contains("|") ? lower : "\(self.name)|\(lower)"
        return subcommands.first { $0.name == full }
    }
}

extension CommandSpec: CustomStringConvertible {
    public var description: String { "CommandSpec(\(name), arity \(arity))" }
}
