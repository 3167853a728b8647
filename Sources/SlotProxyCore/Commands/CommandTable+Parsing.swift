// Builds the command table from a node's reply to COMMAND (cold path).
//
// Redis 7 answers one array per command:
//   [name, arity, flags, first key, last key, step, ACL categories, tips, key specs, subcommands]
// In RESP2 flags/tips are arrays and each key spec is a flat key/value array; in RESP3 flags and
// tips are sets and key specs are maps. RESPValue's `elements` and `pairs` read both shapes alike.
// Redis 6 stops after the ACL categories and has no key specs: slotproxy then derives one range
// spec from first/last/step, and an `unknown` one for commands flagged movablekeys, so their keys
// are never guessed.

/// The reply to COMMAND could not be read as a command table.
public struct CommandTableError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

extension CommandTable {
    /// Builds the table from the reply to `COMMAND`, in RESP2 or RESP3 shape.
    /// - Throws: `CommandTableError` when the reply is not a list of command entries.
    public convenience init(commandReply: RESPValue) throws {
        guard var items = commandReply.elements else {
            throw CommandTableError("COMMAND reply is not an array: \(commandReply)")
        }
        // A map (name → entry) keeps only its values.
        if case .map = commandReply {
            items = stride(from: 1, to: items.count, by: 2).map { items[$0] }
        }
        var commands: [CommandSpec] = []
        commands.reserveCapacity(items.count)
        for item in items {
            if case .null = item { continue }   // COMMAND INFO's answer for an unknown name
            commands.append(try CommandTable.parseEntry(item))
        }
        guard !commands.isEmpty else { throw CommandTableError("COMMAND reply lists no commands") }
        self.init(commands: commands)
    }

    /// The table built from the committed reply of a real server (CommandSnapshot.swift),
    /// for when no node answers COMMAND. Decoded and parsed once, on first use.
    public static let snapshot: CommandTable = {
        let literal = CommandTable.snapshotReply
        let bytes = Array(UnsafeRawBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
        do {
            guard let (reply, _) = try RESPValueDecoder.decode(bytes) else {
                fatalError("CommandSnapshot.swift holds an incomplete reply: rerun scripts/snapshot-commands")
            }
            return try CommandTable(commandReply: reply)
        } catch {
            fatalError("CommandSnapshot.swift does not parse (\(error)): rerun scripts/snapshot-commands")
        }
    }()

    static func parseEntry(_ value: RESPValue) throws -> CommandSpec {
        guard let e = value.elements, e.count >= 6,
              let name = e[0].string, !name.isEmpty, let arity = e[1].int else {
            throw CommandTableError("malformed COMMAND entry: \(value)")
        }
        let flags = CommandFlags(words: words(e[2]))
        let acl = e.count > 6 ? words(e[6]) : []
        let tips = e.count > 7 ? CommandTips(words: words(e[7])) : CommandTips()

        var keySpecs: [KeySpec]
        if e.count > 8 {
            keySpecs = try (e[8].elements ?? []).map(parseKeySpec)
        } else {
            keySpecs = legacyKeySpecs(first: e[3].int ?? 0, last: e[4].int ?? 0, step: e[5].int ?? 0,
                                      movable: flags.contains(.movablekeys))
        }
        let subcommands = e.count > 9 ? try (e[9].elements ?? []).map(parseEntry) : []
        return CommandSpec(name: name, arity: arity, flags: flags, keySpecs: keySpecs, tips: tips,
                           aclCategories: acl, subcommands: subcommands)
    }

    /// Strings of an array or set (flags, tips, ACL categories); other elements are skipped.
    private static func words(_ value: RESPValue) -> [String] {
        (value.elements ?? []).compactMap(\.string)
    }

    /// Reads one key spec: `flags`, `begin_search {type, spec}`, `find_keys {type, spec}`,
    /// optional `notes`. A type slotproxy does not know, or a spec missing a field, is `.unknown`.
    static func parseKeySpec(_ value: RESPValue) throws -> KeySpec {
        guard let pairs = value.pairs else { throw CommandTableError("malformed key spec: \(value)") }
        func field(_ key: String) -> RESPValue? { pairs.first { $0.0.lowercased() == key }?.1 }
        func typeAndSpec(_ key: String) -> (String, RESPValue?) {
            guard let step = field(key)?.pairs else { return ("unknown", nil) }
            let type = step.first { $0.0 == "type" }?.1.string?.lowercased() ?? "unknown"
            return (type, step.first { $0.0 == "spec" }?.1)
        }
        func int(_ spec: RESPValue?, _ key: String) -> Int? {
            spec?.pairs?.first { $0.0.lowercased() == key }?.1.int
        }

        let flags = KeySpecFlags(words: field("flags").map(words) ?? [])
        let notes = field("notes")?.string

        var begin = KeySpec.BeginSearch.unknown
        let (beginType, beginSpec) = typeAndSpec("begin_search")
        switch beginType {
        case "index":
            if let i = int(beginSpec, "index") { begin = .index(i) }
        case "keyword":
            if let keyword = beginSpec?.pairs?.first(where: { $0.0 == "keyword" })?.1.string,
               let startFrom = int(beginSpec, "startfrom") {
                begin = .keyword(keyword: Array(keyword.lowercased().utf8), startFrom: startFrom)
            }
        default:
            break
        }

        var find = KeySpec.FindKeys.unknown
        let (findType, findSpec) = typeAndSpec("find_keys")
        switch findType {
        case "range":
            if let last = int(findSpec, "lastkey"), let step = int(findSpec, "keystep"),
               let limit = int(findSpec, "limit") {
                find = .range(lastKey: last, keyStep: step, limit: limit)
            }
        case "keynum":
            if let index = int(findSpec, "keynumidx"), let first = int(findSpec, "firstkey"),
               let step = int(findSpec, "keystep") {
                find = .keynum(keyNumIndex: index, firstKey: first, keyStep: step)
            }
        default:
            break
        }
        return KeySpec(beginSearch: begin, findKeys: find, flags: flags, notes: notes)
    }

    /// Key specs for a Redis 6 entry, from its first/last/step triple.
    static func legacyKeySpecs(first: Int, last: Int, step: Int, movable: Bool) -> [KeySpec] {
        var specs: [KeySpec] = []
        if first > 0 && step > 0 {
            let lastKey = last >= 0 ? last - first : last
            specs.append(KeySpec(beginSearch: .index(first), findKeys: .range(lastKey: lastKey, keyStep: step, limit: 0)))
        }
        if movable {
            specs.append(KeySpec(beginSearch: .unknown, findKeys: .unknown, flags: [.incomplete]))
        }
        return specs
    }
}
