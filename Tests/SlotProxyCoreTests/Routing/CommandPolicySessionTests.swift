import Testing
@testable import SlotProxyCore

private func policy(_ name: String) -> CommandPolicy? {
    let parts = name.split(separator: "|").map(String.init)
    guard let command = CommandTable.snapshot.lookup(parts[0]) else { return nil }
    return parts.count == 1 ? command.policy : command.subcommand(named: parts[1])?.policy
}

@Suite("CommandPolicy: session, cluster and administrative commands")
struct CommandPolicySessionTests {
    @Test("the client's session and the presented cluster are answered by the proxy", arguments: [
        "auth", "hello", "acl|whoami", "client|list", "client|kill", "client|reply", "client|no-evict", "client|info",
        "cluster|info", "cluster|slots", "cluster|shards", "cluster|nodes", "cluster|keyslot", "cluster|myid",
        "cluster|countkeysinslot", "cluster|getkeysinslot", "cluster|replicas",
    ])
    func local(name: String) {
        #expect(policy(name)?.route == .local, "\(name)")
        #expect(policy(name)?.administrative == false, "\(name)")
    }

    @Test("CONFIG GET, TIME and COMMAND go to one primary; OBJECT by its key")
    func forwarded() {
        #expect(policy("config|get")?.route == .anyPrimary)
        #expect(policy("time")?.route == .anyPrimary)
        #expect(policy("command|docs")?.route == .anyPrimary)
        #expect(policy("command|count")?.route == .anyPrimary)
        #expect(policy("object|encoding")?.route == .byKey)
        #expect(policy("object|freq")?.route == .byKey)
    }

    @Test("administrative commands wait for allow-admin-commands, with a merge rule for every primary")
    func administrative() {
        for (name, merge) in [("config|set", ReplyMerge.allOK), ("config|resetstat", .allOK), ("config|rewrite", .allOK),
                              ("latency|reset", .sum), ("acl|setuser", .allOK), ("bgsave", .allOK), ("module|load", .allOK)] {
            #expect(policy(name)?.administrative == true, "\(name)")
            #expect(policy(name)?.route == .local, "\(name)")
            #expect(policy(name)?.merge == merge, "\(name)")
        }
        #expect(CommandPolicy.administrativeRefusal("config|set") ==
                "ERR slotproxy: 'config|set' is an administrative command; set allow-admin-commands yes to send it to every primary")
    }

    @Test("commands that stop, debug or reshape the nodes are always refused, naming themselves", arguments: [
        "shutdown", "debug", "replicaof", "slaveof", "failover", "cluster|failover", "cluster|addslots",
        "cluster|reset", "cluster|setslot", "cluster|meet", "cluster|forget",
    ])
    func neverForwarded(name: String) {
        guard case .refused(let text) = policy(name)?.route else {
            Issue.record("\(name) is not refused")
            return
        }
        #expect(text == "ERR slotproxy: '\(name)' is never forwarded: it would stop, debug or reshape the cluster's nodes behind the proxy")
    }

    @Test("streams are refused: MONITOR, SYNC, PSYNC")
    func streams() {
        for name in ["monitor", "sync", "psync"] {
            guard case .refused(let text) = policy(name)?.route else {
                Issue.record("\(name) is not refused")
                continue
            }
            #expect(text.hasPrefix("ERR slotproxy: '\(name)' is not supported"))
        }
    }
}
