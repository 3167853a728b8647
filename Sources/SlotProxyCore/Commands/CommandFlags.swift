// The command flags Redis publishes in the reply to COMMAND ("write", "readonly", "blocking", …),
// as one bit set per command. The router and the proxy's policy table read them to decide, e.g.,
// whether a request may be retried after a failover (readonly) or needs a connection of its own
// (blocking, pubsub). Parsed once when the command table is built; unknown words are ignored so
// a newer server never breaks the proxy.

/// Redis's command flags.
public struct CommandFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    public static let write = CommandFlags(rawValue: 1 << 0)
    public static let readonly = CommandFlags(rawValue: 1 << 1)
    public static let denyoom = CommandFlags(rawValue: 1 << 2)
    public static let module = CommandFlags(rawValue: 1 << 3)
    public static let admin = CommandFlags(rawValue: 1 << 4)
    public static let pubsub = CommandFlags(rawValue: 1 << 5)
    public static let noscript = CommandFlags(rawValue: 1 << 6)
    public static let blocking = CommandFlags(rawValue: 1 << 7)
    public static let loading = CommandFlags(rawValue: 1 << 8)
    public static let stale = CommandFlags(rawValue: 1 << 9)
    public static let skipMonitor = CommandFlags(rawValue: 1 << 10)
    public static let skipSlowlog = CommandFlags(rawValue: 1 << 11)
    public static let asking = CommandFlags(rawValue: 1 << 12)
    public static let fast = CommandFlags(rawValue: 1 << 13)
    public static let noAuth = CommandFlags(rawValue: 1 << 14)
    public static let mayReplicate = CommandFlags(rawValue: 1 << 15)
    public static let sentinel = CommandFlags(rawValue: 1 << 16)
    public static let onlySentinel = CommandFlags(rawValue: 1 << 17)
    public static let noMandatoryKeys = CommandFlags(rawValue: 1 << 18)
    public static let `protected` = CommandFlags(rawValue: 1 << 19)
    public static let noAsyncLoading = CommandFlags(rawValue: 1 << 20)
    public static let noMulti = CommandFlags(rawValue: 1 << 21)
    /// Key positions depend on the arguments (EVAL numkeys, XREAD STREAMS, SORT STORE, …).
    public static let movablekeys = CommandFlags(rawValue: 1 << 22)
    public static let allowBusy = CommandFlags(rawValue: 1 << 23)
    public static let noPropagate = CommandFlags(rawValue: 1 << 24)
    public static let moduleGetkeys = CommandFlags(rawValue: 1 << 25)
    public static let moduleNoCluster = CommandFlags(rawValue: 1 << 26)
    public static let moduleGetchannels = CommandFlags(rawValue: 1 << 27)
    public static let touchesArbitraryKeys = CommandFlags(rawValue: 1 << 28)

    private static let byWord: [String: CommandFlags] = [
        "write": .write, "readonly": .readonly, "denyoom": .denyoom, "module": .module,
        "admin": .admin, "pubsub": .pubsub, "noscript": .noscript, "blocking": .blocking,
        "loading": .loading, "stale": .stale, "skip_monitor": .skipMonitor,
        "skip_slowlog": .skipSlowlog, "asking": .asking, "fast": .fast, "no_auth": .noAuth,
        "may_replicate": .mayReplicate, "sentinel": .sentinel, "only_sentinel": .onlySentinel,
        "no_mandatory_keys": .noMandatoryKeys, "protected": .protected,
        "no_async_loading": .noAsyncLoading, "no_multi": .noMulti, "movablekeys": .movablekeys,
        "allow_busy": .allowBusy, "no_propagate": .noPropagate, "module_getkeys": .moduleGetkeys,
        "module_no_cluster": .moduleNoCluster, "module_getchannels": .moduleGetchannels,
        "touches_arbitrary_keys": .touchesArbitraryKeys,
    ]

    /// Parses Redis's flag words (any case); unknown words are ignored.
    public init(words: [String]) {
        var f: CommandFlags = []
        for w in words {
            if let flag = CommandFlags.byWord[w.lowercased()] { f.insert(flag) }
        }
        self = f
    }
}
