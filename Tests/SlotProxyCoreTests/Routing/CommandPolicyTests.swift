// CommandPolicy: the declarative table of how each command routes and merges, checked through
// the table built from the committed COMMAND snapshot (what the proxy uses without a cluster).

import Testing
@testable import SlotProxyCore

@Suite("CommandPolicy")
struct CommandPolicyTests {
    private func policy(_ name: String) throws -> CommandPolicy {
        try #require(CommandTable.snapshot.lookup(name), "\(name) is in the snapshot").policy
    }

    @Test("multi-key commands split per slot and merge by their rule",
          arguments: [("mget", ReplyMerge.keyOrder), ("mset", .allOK), ("del", .sum), ("unlink", .sum),
                      ("exists", .sum), ("touch", .sum)])
    func split(name: String, merge: ReplyMerge) throws {
        let p = try policy(name)
        #expect(p.route == .byKey)
        #expect(p.merge == merge)
        #expect(p.idempotent)
    }

    @Test("cluster-wide commands fan out to every primary",
          arguments: [("dbsize", ReplyMerge.sum), ("keys", .union), ("scan", .custom), ("randomkey", .custom),
                      ("flushall", .allOK), ("flushdb", .allOK), ("script|load", .custom),
                      ("script|exists", .logicalAnd), ("script|flush", .allOK), ("function|load", .first),
                      ("function|delete", .allOK), ("function|flush", .allOK), ("script|kill", .oneSucceeded),
                      ("function|kill", .oneSucceeded), ("memory|purge", .allOK)])
    func fanOut(name: String, merge: ReplyMerge) throws {
        let p = try policy(name)
        #expect(p.route == .allPrimaries)
        #expect(p.merge == merge)
    }

    @Test("per-node reports with no meaningful merge come from one primary",
          arguments: ["function|list", "function|dump", "function|stats", "memory|doctor", "memory|stats"])
    func onePrimary(name: String) throws {
        #expect(try policy(name).route == .anyPrimary)
    }

    static let unsplittable = ["msetnx", "rename", "renamenx", "copy", "smove", "lmove", "rpoplpush", "sunionstore",
                              "sinterstore", "sdiffstore", "zunionstore", "zinterstore", "zdiffstore", "zrangestore",
                              "bitop", "pfmerge", "pfcount", "sintercard", "geosearchstore"]

    @Test("commands whose keys cannot be split route by key with no merge, so several slots get CROSSSLOT",
          arguments: unsplittable)
    func cannotSplit(name: String) throws {
        let p = try policy(name)
        #expect(p.route == .byKey)
        #expect(p.merge == .none)
    }

    @Test("a cross-slot request of a command that cannot be split is .crossSlot for dispatch")
    func cannotSplitIsCrossSlot() {
        let requests = [["MSETNX", "{x}a", "1", "{y}b", "2"], ["RENAME", "{x}a", "{y}b"], ["BITOP", "AND", "{x}d", "{y}a"],
                        ["PFCOUNT", "{x}a", "{y}b"], ["SINTERCARD", "2", "{x}a", "{y}b"]]
        for args in requests {
            OwnedRequest(args).withArguments { view in
                guard case .command(let spec) = CommandTable.snapshot.resolve(view) else {
                    Issue.record("\(args[0]) does not resolve")
                    return
                }
                #expect(spec.keySlot(in: view) == .crossSlot, "\(args)")
                #expect(spec.policy.merge == .none)
            }
        }
    }

    @Test("the client's own session and INFO are answered locally",
          arguments: ["ping", "echo", "quit", "select", "hello", "auth", "reset", "info", "client|setname",
                      "client|getname", "client|id", "client|info"])
    func local(name: String) throws {
        let p = try policy(name)
        #expect(p.route == .local)
        #expect(p.merge == .none)
    }

    @Test("transactions, blocking commands and subscriptions need a connection of their own",
          arguments: ["multi", "exec", "discard", "watch", "unwatch", "subscribe", "psubscribe", "ssubscribe",
                      "blpop", "brpop", "blmove", "bzpopmin", "wait"])
    func dedicated(name: String) throws {
        #expect(try policy(name).route == .dedicated)
    }

    @Test("XREAD and XREADGROUP are dedicated only with BLOCK")
    func dedicatedWithBlock() throws {
        #expect(try policy("xread").route == .dedicatedWithKeyword("block"))
        #expect(try policy("xreadgroup").route == .dedicatedWithKeyword("block"))
    }

    @Test("commands that change the cluster or the proxy's connections are refused",
          arguments: ["shutdown", "debug", "monitor", "sync", "psync", "replicaof", "slaveof", "failover", "readonly",
                      "readwrite", "asking", "swapdb", "move", "cluster|addslots", "cluster|setslot", "cluster|failover",
                      "cluster|reset", "client|kill", "client|pause", "client|reply", "client|tracking"])
    func refused(name: String) throws {
        guard case .refused(let error) = try policy(name).route else {
            Issue.record("\(name) is not refused")
            return
        }
        #expect(error.hasPrefix("ERR slotproxy: "))
    }

    @Test("other administrative commands are refused by their admin flag", arguments: ["config|set", "bgsave", "acl|setuser"])
    func adminRefused(name: String) throws {
        guard case .refused(let error) = try policy(name).route else {
            Issue.record("\(name) is not refused")
            return
        }
        #expect(error == "ERR slotproxy: '\(name)' is an administrative command and is not forwarded")
    }

    @Test("single-key commands route by key; keyless ones go to any primary")
    func plain() throws {
        for name in ["get", "set", "incr", "hset", "lpush", "xadd", "eval", "evalsha"] {
            let p = try policy(name)
            #expect(p.route == .byKey, "\(name)")
            #expect(p.merge == .none, "\(name)")
        }
        for name in ["time", "publish", "function|list", "command|docs"] {
            #expect(try policy(name).route == .anyPrimary, "\(name)")
        }
    }

    @Test("reads and repeatable writes are idempotent; INCR, LPUSH and EVAL are not")
    func idempotence() throws {
        for name in ["get", "mget", "mset", "del", "set", "hset", "dbsize", "keys", "scan", "rename", "flushall"] {
            #expect(try policy(name).idempotent, "\(name)")
        }
        for name in ["incr", "lpush", "xadd", "rpoplpush", "append"] {
            #expect(try !policy(name).idempotent, "\(name)")
        }
        // Redis 7.0 flags EVAL/EVALSHA/FCALL neither write nor may_replicate: the policy table
        // names them, so a script is never resent after a lost connection.
        for name in ["eval", "evalsha", "fcall", "publish"] {
            #expect(try !policy(name).idempotent, "\(name)")
        }
    }

    @Test("without an override the policy follows the published flags and tips")
    func derived() {
        let sumTips = CommandTips(requestPolicy: .multiShard, responsePolicy: .aggSum)
        #expect(CommandPolicy.resolve(name: "x.del", flags: [.write], tips: sumTips, hasKeys: true)
                == CommandPolicy(route: .byKey, merge: .sum))
        #expect(CommandPolicy.resolve(name: "x.min", flags: [.write],
                                      tips: CommandTips(requestPolicy: .multiShard, responsePolicy: .aggMin), hasKeys: true)
                == CommandPolicy(route: .byKey, merge: .none))
        #expect(CommandPolicy.resolve(name: "x.count", flags: [.readonly],
                                      tips: CommandTips(requestPolicy: .allShards, responsePolicy: .aggSum), hasKeys: false)
                == CommandPolicy(route: .allPrimaries, merge: .sum, idempotent: true))
        #expect(CommandPolicy.resolve(name: "x.kill", flags: [.noscript],
                                      tips: CommandTips(requestPolicy: .allShards, responsePolicy: .oneSucceeded), hasKeys: false)
                == CommandPolicy(route: .allPrimaries, merge: .oneSucceeded, idempotent: true))
        #expect(CommandPolicy.resolve(name: "x.info", flags: [.readonly],
                                      tips: CommandTips(requestPolicy: .allNodes, responsePolicy: .special), hasKeys: false)
                == CommandPolicy(route: .allPrimaries, merge: .custom, idempotent: true))
        #expect(CommandPolicy.resolve(name: "x.admin", flags: [.admin], tips: CommandTips(), hasKeys: false).route
                == .refused("ERR slotproxy: 'x.admin' is an administrative command and is not forwarded"))
        #expect(CommandPolicy.resolve(name: "x.block", flags: [.write, .blocking], tips: CommandTips(), hasKeys: true).route
                == .dedicated)
        #expect(CommandPolicy.resolve(name: "x.get", flags: [.readonly], tips: CommandTips(), hasKeys: true)
                == CommandPolicy(route: .byKey, idempotent: true))
        #expect(CommandPolicy.resolve(name: "x.ping", flags: [.fast], tips: CommandTips(), hasKeys: false)
                == CommandPolicy(route: .anyPrimary, idempotent: true))
    }
}
