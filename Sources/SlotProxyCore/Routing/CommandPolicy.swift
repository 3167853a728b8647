// The proxy's own policy for every command, in one declarative table: how a request
// routes and how the replies of several primaries combine. Everything not named in
// `CommandPolicy.overrides` is derived from what the server itself publishes in COMMAND
// (key specs, flags, request/response tips), so new commands and module commands route
// correctly without a line here.
//
//   CommandSpec (from COMMAND) ──▶ CommandPolicy.resolve ──▶ route + merge + idempotent
//                                      ▲ overrides (this file)

public enum Route: Equatable, Sendable {
    /// Every key in one slot: that slot's primary. Keys in several slots: CROSSSLOT, or a
    /// split when `merge` says how to put the parts together. No keys: any primary.
    case byKey
    /// Keyless; any primary serves it the same (COMMAND DOCS, PUBLISH, TIME…).
    case anyPrimary
    /// Sent to every primary; the replies are combined by `merge`.
    case allPrimaries
    /// Answered by the proxy itself.
    case local
    /// Needs a backend connection of its own (transactions, blocking, pub/sub).
    case dedicated
    /// Like `.byKey`, but `.dedicated` when the request holds `keyword` (XREAD … BLOCK).
    case dedicatedWithKeyword(String)
    /// Never forwarded; the client gets this error.
    case refused(String)
}

/// How the replies of several parts (slots or primaries) become the client's one reply.
public enum ReplyMerge: Equatable, Sendable {
    /// One part only: forwarded as it is.
    case none
    /// Keys split per slot; the array replies are put back in the request's key order (MGET).
    case keyOrder
    /// Integer replies added up (DEL, EXISTS, DBSIZE).
    case sum
    /// +OK when every part said OK (MSET, FLUSHALL).
    case allOK
    /// The first part's reply (SCRIPT LOAD returns the same SHA everywhere).
    case first
    /// The first reply that is not an error; the first error, as the node sent it, when every
    /// part failed (SCRIPT KILL: only the primary running a script says OK, the rest NOTBUSY).
    case oneSucceeded
    /// Array replies concatenated, each element once (KEYS, PUBSUB CHANNELS).
    case union
    /// Flat [name, count, name, count…] replies summed per name, in first-seen order
    /// (PUBSUB NUMSUB, PUBSUB SHARDNUMSUB).
    case pairSum
    /// Element-wise AND of integer arrays (SCRIPT EXISTS).
    case logicalAnd
    /// Needs code of its own (SCAN cursors, INFO keyspace).
    case custom
}

public struct CommandPolicy: Equatable, Sendable {
    public var route: Route
    public var merge: ReplyMerge
    /// Safe to send again when an earlier attempt's outcome is unknown (a primary died with
    /// the request written): reads, and writes whose repetition changes nothing.
    public var idempotent: Bool
    /// An administrative command (CONFIG SET, SLOWLOG RESET…): its route is `.local`, and
    /// the proxy refuses it unless `allow-admin-commands yes`, then sends it to every
    /// primary and combines the replies by `merge`.
    public var administrative: Bool

    public init(route: Route, merge: ReplyMerge = .none, idempotent: Bool = false, administrative: Bool = false) {
        self.route = route
        self.merge = merge
        self.idempotent = idempotent
        self.administrative = administrative
    }
}

extension CommandPolicy {
    static let local = CommandPolicy(route: .local, idempotent: true)
    static let dedicated = CommandPolicy(route: .dedicated)
    static func refused(_ why: String) -> CommandPolicy { CommandPolicy(route: .refused(why)) }
    static func split(_ merge: ReplyMerge, idempotent: Bool) -> CommandPolicy {
        CommandPolicy(route: .byKey, merge: merge, idempotent: idempotent)
    }
    static func fanOut(_ merge: ReplyMerge, idempotent: Bool = true) -> CommandPolicy {
        CommandPolicy(route: .allPrimaries, merge: merge, idempotent: idempotent)
    }
    static func administrative(_ merge: ReplyMerge) -> CommandPolicy {
        CommandPolicy(route: .local, merge: merge, administrative: true)
    }

    /// The error for an administrative command while `allow-admin-commands` is no.
    public static func administrativeRefusal(_ name: String) -> String {
        "ERR slotproxy: '\(name)' is an administrative command; set allow-admin-commands yes to send it to every primary"
    }

    /// Where the proxy departs from what COMMAND says, by lower-case name (`container|sub`
    /// for subcommands). Keep this the only place that names commands.
    static let overrides: [String: CommandPolicy] = {
        var t: [String: CommandPolicy] = [:]
        // Connection handshake and the client's own session: answered by the proxy.
        for name in ["ping", "echo", "quit", "select", "hello", "auth", "reset", "info",
                     "client|setname", "client|getname", "client|id", "client|setinfo", "client|info",
                     "client|list", "client|kill", "client|reply", "client|no-evict", "client|no-touch", "acl|whoami"] {
            t[name] = .local
        }
        // The proxy presents itself as a one-node cluster owning every slot, so cluster-aware
        // clients keep sending everything to it (Cluster/SingleNodeCluster).
        for name in ["cluster|info", "cluster|slots", "cluster|shards", "cluster|nodes", "cluster|keyslot",
                     "cluster|myid", "cluster|replicas", "cluster|slaves", "cluster|count-failure-reports",
                     "cluster|countkeysinslot", "cluster|getkeysinslot"] {
            t[name] = .local
        }
        // Administrative: refused unless allow-admin-commands, then on every primary.
        // (Unnamed ones are derived from the admin flag in `resolve`.)
        t["config|get"] = CommandPolicy(route: .anyPrimary, idempotent: true)
        t["config|set"] = .administrative(.allOK)
        t["config|resetstat"] = .administrative(.allOK)
        t["config|rewrite"] = .administrative(.allOK)
        // SLOWLOG is the proxy's own (Metrics/SlowLog): the nodes' slow logs are theirs.
        for name in ["slowlog|get", "slowlog|len", "slowlog|reset", "slowlog|help"] {
            t[name] = .local
        }
        t["latency|reset"] = .administrative(.sum)
        t["latency|latest"] = .administrative(.union)
        // Multi-key commands split per slot and merged (never one sub-request per key).
        t["mget"] = .split(.keyOrder, idempotent: true)
        t["mset"] = .split(.allOK, idempotent: true)
        t["del"] = .split(.sum, idempotent: true)
        t["unlink"] = .split(.sum, idempotent: true)
        t["exists"] = .split(.sum, idempotent: true)
        t["touch"] = .split(.sum, idempotent: true)
        // Cluster-wide commands fanned out to every primary.
        t["dbsize"] = .fanOut(.sum)
        t["keys"] = .fanOut(.union)
        t["scan"] = .fanOut(.custom)
        t["randomkey"] = .fanOut(.custom)
        t["flushall"] = .fanOut(.allOK)
        t["flushdb"] = .fanOut(.allOK)
        t["script|load"] = .fanOut(.custom)
        t["script|exists"] = .fanOut(.logicalAnd)
        t["script|flush"] = .fanOut(.allOK)
        t["function|load"] = .fanOut(.first)
        t["function|delete"] = .fanOut(.allOK)
        t["function|flush"] = .fanOut(.allOK)
        t["function|restore"] = .fanOut(.allOK)
        t["function|list"] = CommandPolicy(route: .anyPrimary, idempotent: true)
        t["function|stats"] = CommandPolicy(route: .anyPrimary, idempotent: true)
        for name in ["memory|doctor", "memory|stats", "memory|malloc-stats"] {
            t[name] = CommandPolicy(route: .anyPrimary, idempotent: true)
        }
        t["function|dump"] = CommandPolicy(route: .anyPrimary, idempotent: true)
        t["publish"] = CommandPolicy(route: .anyPrimary)
        // Subscriptions live on the nodes the subscribers' connections reached: ask them all.
        t["pubsub|channels"] = .fanOut(.union)
        t["pubsub|shardchannels"] = .fanOut(.union)
        t["pubsub|numpat"] = .fanOut(.sum)
        t["pubsub|numsub"] = .fanOut(.pairSum)
        t["pubsub|shardnumsub"] = .fanOut(.pairSum)
        // Server-side session state: a backend connection of the client's own.
        for name in ["multi", "exec", "discard", "watch", "unwatch",
                     "subscribe", "psubscribe", "ssubscribe", "unsubscribe", "punsubscribe", "sunsubscribe",
                     "blpop", "brpop", "brpoplpush", "blmove", "blmpop", "bzpopmin", "bzpopmax", "bzmpop",
                     "wait", "waitaof"] {
            t[name] = .dedicated
        }
        t["xread"] = CommandPolicy(route: .dedicatedWithKeyword("block"), idempotent: true)
        t["xreadgroup"] = CommandPolicy(route: .dedicatedWithKeyword("block"))
        // Would break the proxy's own connections.
        let changesConnections = "ERR slotproxy: this command changes the cluster or the proxy's connections and is refused"
        for name in ["readonly", "readwrite", "asking", "swapdb", "move"] {
            t[name] = .refused(changesConnections)
        }
        // Never forwarded, whatever allow-admin-commands says: they would stop, debug or
        // reshape the nodes behind the proxy.
        for name in ["shutdown", "debug", "pfdebug", "replicaof", "slaveof", "failover",
                     "cluster|addslots", "cluster|addslotsrange", "cluster|delslots", "cluster|delslotsrange",
                     "cluster|failover", "cluster|forget", "cluster|meet", "cluster|replicate", "cluster|reset",
                     "cluster|setslot", "cluster|saveconfig", "cluster|set-config-epoch", "cluster|bumpepoch",
                     "cluster|flushslots"] {
            t[name] = .refused("ERR slotproxy: '\(name)' is never forwarded: it would stop, debug or reshape the cluster's nodes behind the proxy")
        }
        for name in ["monitor", "sync", "psync", "replconf"] {
            t[name] = .refused("ERR slotproxy: '\(name)' is not supported: it would turn a shared node connection into a stream")
        }
        for name in ["client|tracking", "client|caching", "client|getredir", "client|trackinginfo"] {
            t[name] = .refused("ERR slotproxy: '\(name)' is not supported: client-side caching is not relayed by this version")
        }
        for name in ["client|pause", "client|unpause", "client|unblock"] {
            t[name] = .refused("ERR slotproxy: '\(name)' is not supported by this version")
        }
        return t
    }()

    /// Writes that leave the same data when repeated, so they may be resent after a failover.
    static let idempotentWrites: Set<String> = [
        "set", "del", "unlink", "mset", "hset", "hmset", "hdel", "sadd", "srem", "zadd", "zrem",
        "expire", "pexpire", "expireat", "pexpireat", "persist", "setex", "psetex", "getdel",
        "hsetnx", "setnx", "msetnx", "lset", "ltrim", "setrange", "setbit", "pfadd", "restore",
        "copy", "rename", "flushall", "flushdb", "script|load", "script|flush", "function|load",
        "function|delete", "function|flush", "function|restore", "touch", "geoadd", "xgroup|create",
        "xgroup|destroy", "xgroup|setid", "xack", "xdel", "xtrim", "zremrangebyscore", "zremrangebyrank",
        "zremrangebylex",
    ]

    /// Never resent, whatever their flags say: a script may write anything (Redis 7.0 flags
    /// EVAL neither write nor may_replicate), and a message published twice is seen twice.
    static let neverResent: Set<String> = ["eval", "evalsha", "fcall", "exec", "publish", "spublish"]

    /// The policy of one command: the override if there is one, otherwise derived from its
    /// published flags, tips and key specs.
    public static func resolve(name: String, flags: CommandFlags, tips: CommandTips, hasKeys: Bool) -> CommandPolicy {
        let idempotent = !neverResent.contains(name)
            && (flags.contains(.readonly) || !flags.contains(.write) && !flags.contains(.mayReplicate)
                || idempotentWrites.contains(name))
        if var policy = overrides[name] {
            policy.idempotent = (policy.idempotent || idempotent) && !neverResent.contains(name)
            return policy
        }
        if flags.contains(.admin) {
            switch tips.responsePolicy {
            case .aggSum: return .administrative(.sum)
            case .aggLogicalAnd: return .administrative(.logicalAnd)
            // OK when every primary said OK; otherwise the first other reply (BGSAVE's status,
            // ACL LIST's array…).
            default: return .administrative(.allOK)
            }
        }
        if flags.contains(.blocking) {
            return .dedicated
        }
        if flags.contains(.pubsub) && !hasKeys {
            return CommandPolicy(route: .anyPrimary, idempotent: idempotent)
        }
        if hasKeys {
            let merge: ReplyMerge
            switch tips.responsePolicy {
            case .aggSum: merge = .sum
            case .allSucceeded: merge = .allOK
            default: merge = .none
            }
            return CommandPolicy(route: .byKey, merge: tips.requestPolicy == .multiShard ? merge : .none, idempotent: idempotent)
        }
        switch tips.requestPolicy {
        case .allShards, .allNodes:
            let merge: ReplyMerge
            switch tips.responsePolicy {
            case .aggSum: merge = .sum
            case .allSucceeded: merge = .allOK
            case .aggLogicalAnd: merge = .logicalAnd
            case .oneSucceeded: merge = .oneSucceeded
            default: merge = .custom
            }
            return CommandPolicy(route: .allPrimaries, merge: merge, idempotent: idempotent)
        default:
            return CommandPolicy(route: .anyPrimary, idempotent: idempotent)
        }
    }
}
