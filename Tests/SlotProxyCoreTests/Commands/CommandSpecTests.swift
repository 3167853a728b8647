import Testing
@testable import SlotProxyCore

@Suite("CommandSpec")
struct CommandSpecTests {
    let table = CommandTable.snapshot

    @Test("applies Redis's arity rule: positive exact, negative at least")
    func arity() throws {
        let get = try #require(table.lookup("get"))
        #expect(get.arity == 2)
        #expect(get.accepts(argumentCount: 2))
        #expect(!get.accepts(argumentCount: 1))
        #expect(!get.accepts(argumentCount: 3))
        let mset = try #require(table.lookup("mset"))
        #expect(mset.arity == -3)
        #expect(!mset.accepts(argumentCount: 2))
        #expect(mset.accepts(argumentCount: 3))
        #expect(mset.accepts(argumentCount: 301))
        let encoding = try #require(table.lookup("object|encoding"))
        #expect(encoding.accepts(argumentCount: 3))
        #expect(!encoding.accepts(argumentCount: 2))
        #expect(CommandSpec(name: "x", arity: 0).accepts(argumentCount: 1))
    }

    @Test("names the command in the arity error as Redis 7 does, full name for subcommands")
    func wrongArityText() {
        #expect(table.lookup("get")?.wrongArityError == "ERR wrong number of arguments for 'get' command")
        #expect(table.lookup("OBJECT|ENCODING")?.wrongArityError == "ERR wrong number of arguments for 'object|encoding' command")
        #expect(table.lookup("client|setname")?.wrongArityError == "ERR wrong number of arguments for 'client|setname' command")
    }

    @Test("reads flags; unknown words are ignored")
    func flags() {
        #expect(table.lookup("get")?.flags == [.readonly, .fast])
        #expect(table.lookup("set")?.flags == [.write, .denyoom])
        #expect(table.lookup("blpop")?.flags.contains(.blocking) == true)
        #expect(table.lookup("subscribe")?.flags.contains(.pubsub) == true)
        #expect(table.lookup("eval")?.flags.isSuperset(of: [.noscript, .movablekeys, .noMandatoryKeys]) == true)
        #expect(table.lookup("restore-asking")?.flags.contains(.asking) == true)
        #expect(table.lookup("auth")?.flags.contains(.noAuth) == true)
        #expect(CommandFlags(words: ["WRITE", "allow_busy", "never_heard_of_it"]) == [.write, .allowBusy])
        #expect(KeySpecFlags(words: ["RO", "access", "not_key", "what"]) == [.ro, .access, .notKey])
    }

    @Test("reads request and response policies and nondeterminism from the tips")
    func tips() {
        #expect(table.lookup("get")?.tips == CommandTips())
        #expect(table.lookup("mset")?.tips == CommandTips(requestPolicy: .multiShard, responsePolicy: .allSucceeded))
        #expect(table.lookup("del")?.tips == CommandTips(requestPolicy: .multiShard, responsePolicy: .aggSum))
        #expect(table.lookup("dbsize")?.tips == CommandTips(requestPolicy: .allShards, responsePolicy: .aggSum))
        #expect(table.lookup("keys")?.tips == CommandTips(requestPolicy: .allShards, nondeterministicOutputOrder: true))
        #expect(table.lookup("randomkey")?.tips == CommandTips(requestPolicy: .allShards, nondeterministicOutput: true))
        #expect(table.lookup("scan")?.tips.requestPolicy == .special)
        #expect(table.lookup("script|exists")?.tips.responsePolicy == .aggLogicalAnd)
        #expect(table.lookup("wait")?.tips.responsePolicy == .aggMin)
        #expect(table.lookup("config|set")?.tips.requestPolicy == .allNodes)
        #expect(table.lookup("info")?.tips.responsePolicy == .special)
        #expect(CommandTips(words: ["response_policy:agg_logical_or", "response_policy:one_succeeded"]).responsePolicy == .oneSucceeded)
    }
}
