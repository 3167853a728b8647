// What all workers share: the configuration, the cluster view store, the topology
// manager, the client count for maxclients, and the client id sequence. Everything here
// is either immutable or atomic.

import Glibc
import Logging
import SlotProxyCore
import Synchronization

final class ProxyContext: @unchecked Sendable {
    /// How many MOVED/ASK hops one request may take before the client gets an error.
    static let maxRedirections: UInt8 = 5

    let config: ProxyConfig
    let logger: Logger
    let store: ClusterViewStore
    let scripts = ScriptRegistry()
    /// Clients holding a blocking command's connection now (INFO blocked_clients).
    let blockedClients = Atomic<Int>(0)
    let startedAt = MonotonicClock.seconds()
    /// Set once at start, before any worker runs.
    var topology: TopologyManager?
    var workers: [Worker] = []
    /// The `unixsocket` listener every worker watches, if configured; set once at start.
    var unixListener: UnixListener?
    /// Every client session, over all workers (CLIENT LIST, CLIENT KILL).
    let sessions = ClientRegistry()
    /// Nodes no connection can reach now: one log line when a node is lost and restored.
    let reachability = NodeReachability()
    /// Set when SIGTERM/SIGINT started the shutdown (readiness probes may report it).
    let shuttingDown = Atomic<Bool>(false)

    private let clients = Atomic<Int>(0)
    private let clientIDs = Atomic<Int64>(0)

    init(config: ProxyConfig, logger: Logger, store: ClusterViewStore) {
        self.config = config
        self.logger = logger
        self.store = store
    }

    /// Counts a new client in; false when `maxclients` is reached.
    func admitClient() -> Bool {
        let n = clients.wrappingAdd(1, ordering: .relaxed).newValue
        if n > config.maxClients {
            clients.wrappingSubtract(1, ordering: .relaxed)
            return false
        }
        return true
    }

    /// maxclients refusals not logged yet, and when (ms since start) the last line about them
    /// was written: one line over all workers, then at most one every 10 s.
    private let refusedClients = Atomic<Int>(0)
    private let refusedLoggedAtMs = Atomic<Int>(-10_000)

    /// Counts a refused client; returns how many to report when a log line is due now.
    func clientRefused(nowMs: Int) -> Int? {
        refusedClients.wrappingAdd(1, ordering: .relaxed)
        let last = refusedLoggedAtMs.load(ordering: .relaxed)
        guard nowMs - last >= 10_000,
              refusedLoggedAtMs.compareExchange(expected: last, desired: nowMs, ordering: .relaxed).exchanged else { return nil }
        return refusedClients.exchange(0, ordering: .relaxed)
    }

    func releaseClient() {
        clients.wrappingSubtract(1, ordering: .relaxed)
    }

    var connectedClients: Int { clients.load(ordering: .relaxed) }

    func nextClientID() -> Int64 {
        clientIDs.wrappingAdd(1, ordering: .relaxed).newValue
    }
}

enum MonotonicClock {
    static func seconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// The kernel's cached monotonic time (a few ms resolution; cheap enough for every loop).
    @inline(__always)
    static func coarseSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC_COARSE, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}
