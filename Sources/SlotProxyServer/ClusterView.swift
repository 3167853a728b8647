// What every worker routes by: the slot map, the command table and resolved node
// addresses, as one immutable snapshot. The topology thread builds a new view and
// publishes it by swapping one reference; workers notice the new generation between loop
// iterations (and are woken for it), so the hot path never takes a lock.

import Synchronization
import SlotProxyCore

final class ClusterView: Sendable {
    let generation: Int
    let slotMap: SlotMap
    let commands: CommandTable
    /// Node addresses the topology thread resolved (host names); numeric ones need no entry.
    let resolved: [NodeAddress: SocketAddress]
    /// The Redis version the nodes report, shown by HELLO and INFO.
    let redisVersion: String

    init(generation: Int, slotMap: SlotMap, commands: CommandTable, resolved: [NodeAddress: SocketAddress],
         redisVersion: String) {
        self.generation = generation
        self.slotMap = slotMap
        self.commands = commands
        self.resolved = resolved
        self.redisVersion = redisVersion
    }

    func with(slotMap: SlotMap? = nil, commands: CommandTable? = nil, resolved: [NodeAddress: SocketAddress]? = nil,
              redisVersion: String? = nil, generation: Int) -> ClusterView {
        ClusterView(generation: generation, slotMap: slotMap ?? self.slotMap, commands: commands ?? self.commands,
                    resolved: resolved ?? self.resolved, redisVersion: redisVersion ?? self.redisVersion)
    }
}

/// Holds the current view. `publish` from the topology thread, `current` from anywhere.
final class ClusterViewStore: Sendable {
    private let view: Mutex<ClusterView>
    private let generationCounter = Atomic<Int>(0)

    init(_ initial: ClusterView) {
        view = Mutex(initial)
    }

    /// Cheap check for workers: a changed generation means a new view to adopt.
    var generation: Int { generationCounter.load(ordering: .acquiring) }

    func current() -> ClusterView {
        view.withLock { $0 }
    }

    func publish(_ newView: ClusterView) {
        view.withLock { $0 = newView }
        generationCounter.store(newView.generation, ordering: .releasing)
    }
}

/// A counter written by one thread (its worker) and read by any (INFO, metrics).
final class Counter: Sendable {
    private let value = Atomic<Int>(0)

    @inline(__always)
    func add(_ n: Int) {
        // Single writer: a plain load and store, no locked read-modify-write.
        value.store(value.load(ordering: .relaxed) &+ n, ordering: .relaxed)
    }

    /// For gauges kept by one thread.
    @inline(__always)
    func set(_ n: Int) {
        value.store(n, ordering: .relaxed)
    }

    var current: Int { value.load(ordering: .relaxed) }
}

/// Statistics of one worker: written only by its thread (plain load + store of relaxed
/// atomics: no locked instruction on the request path), read by any (INFO, /metrics), which
/// sums every worker's at read time. See WorkerMetrics.swift for the labelled ones.
final class WorkerStats: Sendable {
    let bytesIn = Counter()
    let bytesOut = Counter()
    let backendBytesIn = Counter()
    let backendBytesOut = Counter()
    let commands = Counter()
    let movedRedirections = Counter()
    let askRedirections = Counter()
    let backendConnects = Counter()
    let retries = Counter()
    let heldRequests = Counter()
    /// Requests held now (a gauge: the worker stores its HoldQueue's count).
    let heldNow = Counter()
    let connectionsReceived = Counter()
    let connectionsRejected = Counter()
    /// Clients of this worker in subscribed mode now (a gauge).
    let pubsubClients = Counter()
    /// calls, usec, rejected_calls, failed_calls per `NameRegistry.commands` number.
    let commandStats = AtomicCounters(count: NameRegistry.commands.capacity * CommandStat.width)
    /// Error replies per `NameRegistry.errors` number.
    let errorStats = AtomicCounters(count: NameRegistry.errors.capacity)
    /// Backend round trips per node (shared connections).
    let latency = LatencyRegistry()
    /// The worker's shared backend connections, published on its 100 ms tick.
    let backendStates = Mutex<[BackendLinkState]>([])
    /// The worker's slow log (slowlog-log-slower-than); locked only to add a slow entry.
    let slowlog: Mutex<SlowLog>

    init(slowlogCapacity: Int) {
        slowlog = Mutex(SlowLog(capacity: slowlogCapacity))
    }
}
