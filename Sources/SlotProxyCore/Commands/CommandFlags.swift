// The command flags Redis publishes in the reply to COMMAND ("write", "readonly", "blocking", …),
// as one bit set per command. The router and the proxy's policy table read them to decide, e.g.,
// whether a request may be retried after a failover (readonly) or needs a connection of its own
// (blocking, pubsub). Parsed once when the command table is built; unknown words are ignored so
// a newer server never breaks the proxy.

/// Redis's command flags.
public struct CommandFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt64
    @inlinable public init(rawValue: UInt64) { self.rawValue = rawValue }
    // Computed, inlinable constants (not `static let`): the request path tests flags in
    // another module, where a stored static costs an accessor call and a once-check.

    @inlinable public static var write: CommandFlags { CommandFlags(rawValue: 1 << 0) }
    @inlinable public static var readonly: CommandFlags { CommandFlags(rawValue: 1 << 1) }
    @inlinable public static var denyoom: CommandFlags { CommandFlags(rawValue: 1 << 2) }
    @inlinable public static var module: CommandFlags { CommandFlags(rawValue: 1 << 3) }
    @inlinable public static var admin: CommandFlags { CommandFlags(rawValue: 1 << 4) }
    @inlinable public static var pubsub: CommandFlags { CommandFlags(rawValue: 1 << 5) }
    @inlinable public static var noscript: CommandFlags { CommandFlags(rawValue: 1 << 6) }
    @inlinable public static var blocking: CommandFlags { CommandFlags(rawValue: 1 << 7) }
    @inlinable public static var loading: CommandFlags { CommandFlags(rawValue: 1 << 8) }
    @inlinable public static var stale: CommandFlags { CommandFlags(rawValue: 1 << 9) }
    @inlinable public static var skipMonitor: CommandFlags { CommandFlags(rawValue: 1 << 10) }
    @inlinable public static var skipSlowlog: CommandFlags { CommandFlags(rawValue: 1 << 11) }
    @inlinable public static var asking: CommandFlags { CommandFlags(rawValue: 1 << 12) }
    @inlinable public static var fast: CommandFlags { CommandFlags(rawValue: 1 << 13) }
    @inlinable public static var noAuth: CommandFlags { CommandFlags(rawValue: 1 << 14) }
    @inlinable public static var mayReplicate: CommandFlags { CommandFlags(rawValue: 1 << 15) }
    @inlinable public static var sentinel: CommandFlags { CommandFlags(rawValue: 1 << 16) }
    @inlinable public static var onlySentinel: CommandFlags { CommandFlags(rawValue: 1 << 17) }
    @inlinable public static var noMandatoryKeys: CommandFlags { CommandFlags(rawValue: 1 << 18) }
    @inlinable public static var `protected`: CommandFlags { CommandFlags(rawValue: 1 << 19) }
    @inlinable public static var noAsyncLoading: CommandFlags { CommandFlags(rawValue: 1 << 20) }
    @inlinable public static var noMulti: CommandFlags { CommandFlags(rawValue: 1 << 21) }
    /// Key positions depend on the arguments (EVAL numkeys, XREAD STREAMS, SORT STORE, …).
    @inlinable public static var movablekeys: CommandFlags { CommandFlags(rawValue: 1 << 22) }
    @inlinable public static var allowBusy: CommandFlags { CommandFlags(rawValue: 1 << 23) }
    @inlinable public static var noPropagate: CommandFlags { CommandFlags(rawValue: 1 << 24) }
    @inlinable public static var moduleGetkeys: CommandFlags { CommandFlags(rawValue: 1 << 25) }
    @inlinable public static var moduleNoCluster: CommandFlags { CommandFlags(rawValue: 1 << 26) }
    @inlinable public static var moduleGetchannels: CommandFlags { CommandFlags(rawValue: 1 << 27) }
    @inlinable public static var touchesArbitraryKeys: CommandFlags { CommandFlags(rawValue: 1 << 28) }

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
