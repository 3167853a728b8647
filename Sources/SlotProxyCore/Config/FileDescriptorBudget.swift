// How many file descriptors the proxy asks the kernel for at start-up, and what `maxclients`
// becomes when the open-file limit cannot be raised that far (Redis's rule: keep a reserve
// for everything that is not a client and lower maxclients to what fits, saying so).
// Pure arithmetic: the getrlimit/setrlimit calls live in SlotProxyServer's Proxy.

/// The descriptor arithmetic behind `maxclients` and RLIMIT_NOFILE.
public enum FileDescriptorBudget {
    /// Descriptors kept for everything but client sockets: listeners, each event loop's
    /// epoll and wake-up descriptors, the log file, the topology thread's connections, and
    /// each worker's shared connections to the nodes (up to 32 nodes, RESP2 and RESP3).
    /// A client's own node connections (blocking commands, pub/sub, WATCH) come on top and
    /// are not budgeted: the proxy raises the limit as far as it may for them.
    /// - Parameter threads: the number of workers.
    /// - Returns: the reserve, in descriptors.
    public static func reserved(threads: Int) -> Int {
        32 + 64 * max(1, threads)
    }

    /// The open-file limit `maxclients` clients need.
    public static func wanted(maxClients: Int, threads: Int) -> Int {
        maxClients + reserved(threads: threads)
    }

    /// The `maxclients` that fits under an open-file limit: `maxClients` itself when it
    /// fits, else the limit minus the reserve (at least 1, as Redis keeps at least one).
    /// - Parameters:
    ///   - maxClients: the configured `maxclients`.
    ///   - limit: the soft RLIMIT_NOFILE the proxy got.
    ///   - threads: the number of workers.
    public static func maxClients(_ maxClients: Int, fittingUnder limit: Int, threads: Int) -> Int {
        guard limit < wanted(maxClients: maxClients, threads: threads) else { return maxClients }
        return max(1, limit - reserved(threads: threads))
    }
}
