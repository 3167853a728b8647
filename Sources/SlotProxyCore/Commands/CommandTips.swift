// Redis 7 command tips: the server's own statement of how a cluster client should route a
// command that is not about one key ("request_policy:…") and how to combine the replies of
// several shards ("response_policy:…"). Exactly the information a proxy's fan-out and merge
// table needs, so the policy table starts from these and only overrides where it must.

/// Where a command goes when the request itself does not name one slot.
public enum RequestPolicy: Sendable, Equatable {
    /// No tip: route by the keys; keyless commands may go to any node.
    case none
    /// Send to every node, primaries and replicas (e.g. CONFIG SET, SCRIPT LOAD on some servers).
    case allNodes
    /// Send to every primary (e.g. DBSIZE, KEYS, FLUSHALL).
    case allShards
    /// Split the keys by slot and send one sub-request per shard (e.g. MSET, DEL, MGET).
    case multiShard
    /// Needs handling of its own.
    case special
}

/// How the replies of several shards become one reply.
public enum ResponsePolicy: Sendable, Equatable {
    /// No tip: arrays are concatenated / merged in key order (keyed commands), else one reply.
    case none
    /// The first non-error reply wins.
    case oneSucceeded
    /// OK only when every shard answered without error (else the first error).
    case allSucceeded
    /// Logical AND of integer replies (e.g. SCRIPT EXISTS, element-wise).
    case aggLogicalAnd
    /// Logical OR of integer replies.
    case aggLogicalOr
    /// Minimum of integer replies (e.g. WAIT).
    case aggMin
    /// Maximum of integer replies.
    case aggMax
    /// Sum of integer replies (e.g. DBSIZE, DEL).
    case aggSum
    /// Needs merging of its own (e.g. INFO, KEYS).
    case special
}

/// The tips of one command.
public struct CommandTips: Sendable, Equatable {
    public var requestPolicy: RequestPolicy
    public var responsePolicy: ResponsePolicy
    /// The reply may differ between calls with the same data (e.g. RANDOMKEY, SCAN).
    public var nondeterministicOutput: Bool
    /// The reply's elements may come in any order (e.g. SMEMBERS, KEYS).
    public var nondeterministicOutputOrder: Bool

    public init(requestPolicy: RequestPolicy = .none, responsePolicy: ResponsePolicy = .none,
                nondeterministicOutput: Bool = false, nondeterministicOutputOrder: Bool = false) {
        self.requestPolicy = requestPolicy
        self.responsePolicy = responsePolicy
        self.nondeterministicOutput = nondeterministicOutput
        self.nondeterministicOutputOrder = nondeterministicOutputOrder
    }

    /// Parses Redis's tip words (`request_policy:all_shards`, `nondeterministic_output`, …);
    /// unknown tips are ignored.
    public init(words: [String]) {
        self.init()
        for w in words {
            switch w.lowercased() {
            case "nondeterministic_output": nondeterministicOutput = true
            case "nondeterministic_output_order": nondeterministicOutputOrder = true
            case "request_policy:all_nodes": requestPolicy = .allNodes
            case "request_policy:all_shards": requestPolicy = .allShards
            case "request_policy:multi_shard": requestPolicy = .multiShard
            case "request_policy:special": requestPolicy = .special
            case "response_policy:one_succeeded": responsePolicy = .oneSucceeded
            case "response_policy:all_succeeded": responsePolicy = .allSucceeded
            case "response_policy:agg_logical_and": responsePolicy = .aggLogicalAnd
            case "response_policy:agg_logical_or": responsePolicy = .aggLogicalOr
            case "response_policy:agg_min": responsePolicy = .aggMin
            case "response_policy:agg_max": responsePolicy = .aggMax
            case "response_policy:agg_sum": responsePolicy = .aggSum
            case "response_policy:special": responsePolicy = .special
            default: break
            }
        }
    }
}
