import Testing
@testable import SlotProxyCore

@Suite("CommandTable")
struct CommandTableTests {
    // MARK: - Building

    @Test("parses the committed snapshot of a real redis-server 7 reply")
    func snapshotParses() {
        let table = CommandTable.snapshot
        #expect(CommandTable.snapshotServerVersion.hasPrefix("7."))
        #expect(table.count > 200)
        #expect(table.count == table.commands.count)
        for name in ["get", "set", "mset", "eval", "xread", "zunionstore", "migrate", "object|encoding",
                     "client|setname", "cluster|slots", "sort", "spublish", "function|load"] {
            #expect(table.lookup(name)?.name == name, "\(name)")
        }
        let object = table.lookup("object")
        #expect(object?.isContainer == true)
        #expect(object?.subcommands.contains { $0.name == "object|encoding" } == true)
        #expect(table.lookup("object|encoding")?.containerName == "object")
        #expect(table.lookup("get")?.containerName == nil)
    }

    @Test("reads the RESP3 reply (sets, maps) into the same table as the RESP2 one")
    func resp3MatchesResp2() throws {
        let bytes = try CommandFixtures.bytes("command-reply-resp3.txt")
        guard let (reply, length) = try RESPValueDecoder.decode(bytes) else {
            Issue.record("incomplete RESP3 fixture"); return
        }
        #expect(length == bytes.count)
        let resp3 = try CommandTable(commandReply: reply)
        let resp2 = CommandTable.snapshot
        #expect(resp3.count == resp2.count)
        func all(_ t: CommandTable) -> [CommandSpec] { t.commands.flatMap { [$0] + $0.subcommands } }
        #expect(all(resp3).count == all(resp2).count)
        for spec in all(resp3) {
            guard let other = resp2.lookup(spec.name) else { Issue.record("\(spec.name) missing"); continue }
            #expect(spec.arity == other.arity, "\(spec.name)")
            #expect(spec.flags == other.flags, "\(spec.name)")
            #expect(spec.keySpecs == other.keySpecs, "\(spec.name)")
            #expect(spec.tips == other.tips, "\(spec.name)")
            #expect(spec.aclCategories == other.aclCategories, "\(spec.name)")
            #expect(spec.subcommands.map(\.name).sorted() == other.subcommands.map(\.name).sorted(), "\(spec.name)")
        }
    }

    @Test("reads key specs of every kind, as Redis publishes them")
    func keySpecsParsed() {
        let table = CommandTable.snapshot
        #expect(table.lookup("get")?.keySpecs == [KeySpec(beginSearch: .index(1), findKeys: .range(lastKey: 0, keyStep: 1, limit: 0), flags: [.ro, .access])])
        #expect(table.lookup("mset")?.keySpecs.first?.findKeys == .range(lastKey: -1, keyStep: 2, limit: 0))
        #expect(table.lookup("eval")?.keySpecs.first?.findKeys == .keynum(keyNumIndex: 0, firstKey: 1, keyStep: 1))
        #expect(table.lookup("xread")?.keySpecs.first?.beginSearch == .keyword(keyword: Array("streams".utf8), startFrom: 1))
        #expect(table.lookup("xread")?.keySpecs.first?.findKeys == .range(lastKey: -1, keyStep: 1, limit: 2))
        #expect(table.lookup("migrate")?.keySpecs.last?.beginSearch == .keyword(keyword: Array("keys".utf8), startFrom: -2))
        #expect(table.lookup("migrate")?.keySpecs.last?.flags.contains(.incomplete) == true)
        #expect(table.lookup("sort")?.keySpecs.last?.beginSearch == .unknown)
        #expect(table.lookup("sort")?.hasIncompleteKeySpecs == true)
        #expect(table.lookup("spublish")?.keySpecs.first?.flags == [.notKey])
        #expect(table.lookup("set")?.keySpecs.first?.flags.contains(.variableFlags) == true)
        #expect(table.lookup("get")?.hasIncompleteKeySpecs == false)
    }

    @Test("parses a hand-written RESP3 entry with unknown flags, tips and key spec types")
    func parsesHandWrittenEntry() throws {
        func s(_ t: String) -> RESPValue { .simpleString(t) }
        func b(_ t: String) -> RESPValue { .bulkString(Array(t.utf8)) }
        let keySpec = RESPValue.map([
            b("notes"), b("made up"),
            b("flags"), .set([s("RW"), s("insert"), s("shiny_new_flag")]),
            b("begin_search"), .map([b("type"), b("keyword"), b("spec"), .map([b("keyword"), b("TO"), b("startfrom"), .integer(-1)])]),
            b("find_keys"), .map([b("type"), b("quantum"), b("spec"), .map([])]),
        ])
        let entry = RESPValue.array([
            b("Mod.Cmd"), .integer(-2), .set([s("write"), s("module"), s("brand_new")]),
            .integer(0), .integer(0), .integer(0), .set([s("@write")]),
            .set([s("request_policy:all_nodes"), s("response_policy:agg_max"), s("future_tip")]),
            .array([keySpec]), .array([]),
        ])
        let table = try CommandTable(commandReply: .array([entry]))
        let spec = try #require(table.lookup("MOD.CMD"))
        #expect(spec.name == "mod.cmd")
        #expect(spec.flags == [.write, .module])
        #expect(spec.tips == CommandTips(requestPolicy: .allNodes, responsePolicy: .aggMax))
        #expect(spec.keySpecs == [KeySpec(beginSearch: .keyword(keyword: Array("to".utf8), startFrom: -1),
                                          findKeys: .unknown, flags: [.rw, .insert], notes: "made up")])
        #expect(spec.hasIncompleteKeySpecs)
    }

    @Test("derives key specs from first/last/step in a Redis 6 reply")
    func parsesLegacyEntry() throws {
        func b(_ t: String) -> RESPValue { .bulkString(Array(t.utf8)) }
        let mset = RESPValue.array([b("mset"), .integer(-3), .array([.simpleString("write")]),
                                    .integer(1), .integer(-1), .integer(2), .array([])])
        let rename = RESPValue.array([b("rename"), .integer(3), .array([.simpleString("write")]),
                                      .integer(1), .integer(2), .integer(1), .array([])])
        let eval = RESPValue.array([b("eval"), .integer(-3), .array([.simpleString("movablekeys")]),
                                    .integer(0), .integer(0), .integer(0), .array([])])
        let table = try CommandTable(commandReply: .array([mset, rename, eval]))
        #expect(extractKeys(["mset", "a", "1", "b", "2"], table: table) == (.ok, ["a", "b"]))
        #expect(extractKeys(["rename", "a", "b"], table: table) == (.ok, ["a", "b"]))
        // Movable keys the reply cannot describe are never guessed.
        #expect(extractKeys(["eval", "s", "1", "k"], table: table).result == .invalid)
    }

    @Test("rejects a reply that is not a list of commands")
    func rejectsMalformedReply() {
        #expect(throws: CommandTableError.self) { try CommandTable(commandReply: .error("ERR nope")) }
        #expect(throws: CommandTableError.self) { try CommandTable(commandReply: .array([])) }
        #expect(throws: CommandTableError.self) { try CommandTable(commandReply: .array([.integer(1)])) }
    }

    @Test("keeps the first of two commands with the same name")
    func duplicateNames() {
        let table = CommandTable(commands: [CommandSpec(name: "a", arity: 2), CommandSpec(name: "A", arity: 3),
                                            CommandSpec(name: "b", arity: -1)])
        #expect(table.count == 2)
        #expect(table.lookup("a")?.arity == 2)
        #expect(table.lookup("B")?.arity == -1)
    }

    // MARK: - Lookup

    @Test("finds commands by name bytes in any case")
    func lookupMixedCase() {
        let table = CommandTable.snapshot
        for (name, expected) in [("GET", "get"), ("gEt", "get"), ("ZunionStore", "zunionstore"),
                                 ("XREADGROUP", "xreadgroup"), ("Object|ENCODING", "object|encoding")] {
            let found = Array(name.utf8).withUnsafeBytes { table.lookup($0) }
            #expect(found?.name == expected, "\(name)")
        }
        for name in ["", "ge", "gett", "get ", "nosuchcommand", String(repeating: "g", count: 300), "object|"] {
            let found = Array(name.utf8).withUnsafeBytes { table.lookup($0) }
            #expect(found == nil, "\(name)")
        }
        #expect(table.lookup("OBJECT")?.name == "object")
    }

    @Test("finds subcommands by argument 1 in any case")
    func subcommandLookup() throws {
        let client = try #require(CommandTable.snapshot.lookup("client"))
        for (arg, expected) in [("setname", "client|setname"), ("SETNAME", "client|setname"),
                                ("GetName", "client|getname"), ("no-evict", "client|no-evict")] {
            let found = Array(arg.utf8).withUnsafeBytes { client.subcommand($0) }
            #expect(found?.name == expected, "\(arg)")
        }
        #expect(Array("setnam".utf8).withUnsafeBytes { client.subcommand($0) } == nil)
        #expect(Array("".utf8).withUnsafeBytes { client.subcommand($0) } == nil)
        #expect(client.subcommand(named: "SetName")?.name == "client|setname")
        #expect(client.subcommand(named: "client|id")?.name == "client|id")
    }

    // MARK: - Resolving requests

    @Test("resolves commands and subcommands, checking arity")
    func resolvesRequests() {
        func resolved(_ args: [String]) -> String? {
            OwnedRequest(args).withArguments { view in
                if case .command(let spec) = CommandTable.snapshot.resolve(view) { return spec.name }
                return nil
            }
        }
        #expect(resolved(["GET", "k"]) == "get")
        #expect(resolved(["object", "ENCODING", "k"]) == "object|encoding")
        #expect(resolved(["oBjEcT", "help"]) == "object|help")
        #expect(resolved(["CLIENT", "setname", "conn"]) == "client|setname")
        #expect(resolved(["mset", "a", "1", "b", "2"]) == "mset")
        #expect(resolved(["ping"]) == "ping")
        #expect(resolved(["get"]) == nil)
    }

    @Test("answers unknown commands, unknown subcommands and wrong arity with the server's exact text")
    func errorTextsMatchServer() throws {
        let cases = try CommandFixtures.cases("errors.txt")
        #expect(cases.count >= 20)
        for c in cases {
            let (got, error): (String, String?) = OwnedRequest(bytes: c.args).withArguments { view in
                let resolution = CommandTable.snapshot.resolve(view)
                switch resolution {
                case .command(let spec): return ("resolved \(spec.name)", resolution.error)
                case .unknownCommand(let error), .unknownSubcommand(let error), .wrongArity(let error):
                    return (error, resolution.error)
                }
            }
            #expect(got == c.answer.first, "\(c)")
            // `error`, what the request path answers with, is the same text (nil for a command).
            #expect(error == (got.hasPrefix("resolved ") ? nil : got), "\(c)")
        }
    }

    @Test("classifies each error")
    func errorKinds() {
        func kind(_ args: [String]) -> String {
            OwnedRequest(args).withArguments { view in
                switch CommandTable.snapshot.resolve(view) {
                case .command: return "command"
                case .unknownCommand: return "unknownCommand"
                case .unknownSubcommand: return "unknownSubcommand"
                case .wrongArity: return "wrongArity"
                }
            }
        }
        #expect(kind(["foo", "a", "b"]) == "unknownCommand")
        #expect(kind(["object|encoding", "k"]) == "unknownCommand")
        #expect(kind(["object", "x"]) == "unknownSubcommand")
        #expect(kind(["object"]) == "wrongArity")
        #expect(kind(["object", "encoding"]) == "wrongArity")
        #expect(kind([]) == "unknownCommand")
        let text = OwnedRequest(["foo", "a", "b"]).withArguments { CommandTable.unknownCommandError($0) }
        #expect(text == "ERR unknown command 'foo', with args beginning with: 'a' 'b' ")
    }

    @Test("resolveUnretained finds exactly the spec resolve finds, and nothing where resolve errs")
    func resolveUnretainedAgrees() {
        let table = CommandTable.snapshot
        let requests: [[String]] = [
            ["GET", "k"], ["get"], ["get", "a", "b"], ["SET", "k", "v", "EX", "1"], ["nosuch", "x"], [],
            ["OBJECT", "ENCODING", "k"], ["object", "nosuch"], ["object"], ["CLIENT", "LIST"], ["client"],
            ["CONFIG", "GET", "x"], ["MGET", "a", "b"], ["object|encoding", "k"], ["PING"], ["ping", "a", "b"],
        ]
        for request in requests {
            OwnedRequest(request).withArguments { args in
                let fast = table.resolveUnretained(args)?.takeUnretainedValue()
                if case .command(let spec) = table.resolve(args) {
                    #expect(fast === spec, "\(request)")
                } else {
                    #expect(fast == nil, "\(request)")
                }
            }
        }
    }
}
