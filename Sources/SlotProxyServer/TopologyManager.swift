// Discovers the cluster and keeps the published view current. Runs on its own thread with
// blocking, time-bounded connections, so no event loop ever waits on a node.
//
//   seeds + known nodes ──CLUSTER SHARDS (or CLUSTER SLOTS)──▶ ClusterTopology ──▶ SlotMap
//        └─ COMMAND (once) ──▶ CommandTable           └──▶ ClusterView ──publish──▶ workers
//
// When to refresh is RefreshSchedule's decision (core, fake-clock tested): periodically
// (`topology-refresh-ms`), every 250 ms while the slot map is incomplete, and on request (MOVED,
// a lost connection, held requests), never within 100 ms of the previous refresh however many
// requests arrive in a burst.

import Logging
import SlotProxyCore

final class TopologyManager: @unchecked Sendable {

    private let context: ProxyContext
    private var logger: Logger { context.logger }
    private let condition = Monitor()
    /// When to refresh next (guarded by `condition`).
    private var schedule: RefreshSchedule
    private var running = true
    private var started = false
    /// Counted down when the topology thread returns (join).
    private let exited = Latch(count: 1)

    // Topology thread only.
    private var lastTopology: ClusterTopology?
    private var commandsFromCluster = false
    private var redisVersion: String?
    /// No node answered the last refresh (logged once until one answers again).
    private var clusterUnreachable = false

    let refreshes = Counter()
    /// Primaries seen demoted to replicas (automatic or manual failovers).
    let failovers = Counter()
    /// When each node last failed to answer; such nodes are asked last.
    private var lastFailure: [NodeAddress: Double] = [:]

    init(context: ProxyContext) {
        self.context = context
        self.schedule = RefreshSchedule(period: Double(context.config.topologyRefreshMs) / 1000)
    }

    /// Asks for a refresh soon (any thread, cheap).
    func requestRefresh() {
        condition.lock()
        if !schedule.requested {
            schedule.request()
            condition.broadcast()
        }
        condition.unlock()
    }

    func start() {
        started = true
        OSThread.start(name: "topology") { [self] in self.loop() }
    }

    func stop() {
        condition.lock()
        running = false
        condition.broadcast()
        condition.unlock()
    }

    /// Waits up to `timeout` seconds for the topology thread to return after `stop()`
    /// (a refresh in progress finishes first); false if it did not, or never started.
    func join(timeout: Double) -> Bool {
        guard started, exited.wait(timeout: timeout) else { return false }
        started = false
        return true
    }

    private func loop() {
        while true {
            let complete = context.store.current().slotMap.isComplete
            condition.lock()
            while running {
                let due = schedule.nextRefresh(slotMapComplete: complete)
                let now = MonotonicClock.seconds()
                if now >= due { break }
                // Woken early by requestRefresh(): recompute, the request may still have to wait.
                condition.wait(until: min(due, now + 3600))
            }
            let stop = !running
            condition.unlock()
            if stop {
                exited.countDown()
                return
            }
            refresh()
        }
    }

    /// Asks known nodes, then seeds, for the topology until one answers; publishes a new
    /// view when anything changed. Returns true when the slot map covers every slot.
    @discardableResult
    func refresh() -> Bool {
        condition.lock()
        schedule.didRefresh(at: MonotonicClock.seconds())
        condition.unlock()
        refreshes.add(1)
        var best: ClusterTopology?
        for address in candidates() {
            guard let topology = query(address) else { continue }
            if topology.coversAllSlots {
                best = topology
                break
            }
            if best == nil { best = topology }
        }
        guard let topology = best else {
            // Once per outage, not once per refresh (every 250 ms while it lasts).
            if !clusterUnreachable {
                clusterUnreachable = true
                logger.warning("no cluster node answered", metadata: ["tried": "\(candidates().map(\.description).joined(separator: ","))"])
            }
            return false
        }
        if clusterUnreachable {
            clusterUnreachable = false
            logger.notice("cluster reachable again")
        }
        publishIfChanged(topology)
        return topology.coversAllSlots
    }

    /// Nodes to ask, most likely to answer first: the current primaries and replicas, then
    /// the seeds.
    private func candidates() -> [NodeAddress] {
        var out: [NodeAddress] = []
        var seen = Set<NodeAddress>()
        if let t = lastTopology {
            for shard in t.shards {
                for node in [shard.primary].compactMap({ $0 }) + shard.replicas where node.health != .failed {
                    if seen.insert(node.address).inserted { out.append(node.address) }
                }
            }
        }
        for seed in context.config.seeds {
            let address = NodeAddress(host: seed.host, port: seed.port)
            if seen.insert(address).inserted { out.append(address) }
        }
        // A node that just failed (dead, or frozen until a timeout) is asked last.
        let now = MonotonicClock.seconds()
        let recent = { (a: NodeAddress) in (self.lastFailure[a] ?? -100) > now - 10 }
        return out.filter { !recent($0) } + out.filter(recent)
    }

    private func query(_ address: NodeAddress) -> ClusterTopology? {
        guard let socketAddress = SocketAddress.resolve(host: address.host, port: address.port),
              let connection = BlockingConnection.open(socketAddress, timeoutMs: context.config.connectTimeoutMs) else {
            lastFailure[address] = MonotonicClock.seconds()
            return nil
        }
        do {
            if let auth = context.config.backendAuthArguments, case .error(let message) = try connection.call(auth) {
                lastFailure[address] = MonotonicClock.seconds()
                logger.warning("cluster node refused backend-user / backend-password", metadata: [
                    "node": "\(address)", "error": "\(message)"])
                return nil
            }
            if !commandsFromCluster {
                let reply = try connection.call(["COMMAND"])
                if !reply.isError {
                    let table = try CommandTable(commandReply: reply)
                    commandsFromCluster = true
                    pendingCommands = table
                    logger.info("command table loaded from the cluster", metadata: ["node": "\(address)", "commands": "\(table.count)"])
                }
            }
            if redisVersion == nil, case .bulkString(let info) = try connection.call(["INFO", "server"]) {
                let text = String(decoding: info, as: UTF8.self)
                for line in text.split(whereSeparator: \.isNewline) where line.hasPrefix("redis_version:") {
                    redisVersion = String(line.dropFirst("redis_version:".count))
                }
            }
            let shards = try connection.call(["CLUSTER", "SHARDS"])
            if !shards.isError {
                return try ClusterTopology.fromClusterShards(shards)
            }
            return try ClusterTopology.fromClusterSlots(try connection.call(["CLUSTER", "SLOTS"]))
        } catch {
            lastFailure[address] = MonotonicClock.seconds()
            logger.debug("topology query failed", metadata: ["node": "\(address)", "error": "\(error)"])
            return nil
        }
    }

    /// One log line per node that joined or left and per failover (a replica of the last
    /// read now serving slots); the first read logs nothing here (the start line covers it).
    private func logChanges(from old: ClusterTopology?, to new: ClusterTopology) {
        guard let old else { return }
        let diff = TopologyDiff(from: old, to: new)
        for node in diff.added {
            logger.notice("cluster node added", metadata: ["node": "\(node.address)", "role": "\(node.role.rawValue)"])
        }
        for node in diff.removed {
            logger.notice("cluster node removed", metadata: ["node": "\(node.address)", "role": "\(node.role.rawValue)"])
        }
        for failover in diff.failovers {
            failovers.add(1)
            logger.notice("failover detected", metadata: [
                "former_primary": "\(failover.formerPrimary.map(\.description) ?? "unknown")",
                "new_primary": "\(failover.newPrimary)", "slots": "\(failover.slots)"])
        }
    }

    /// A command table fetched but not yet published.
    private var pendingCommands: CommandTable?

    private func publishIfChanged(_ topology: ClusterTopology) {
        logChanges(from: lastTopology, to: topology)
        lastTopology = topology
        let current = context.store.current()
        let slotMap = SlotMap(topology: topology)
        let versionChanged = redisVersion != nil && redisVersion != current.redisVersion
        // Health flaps and replication offsets do not change routing: only the slot map,
        // the command table and the version make a new view.
        guard slotMap != current.slotMap || pendingCommands != nil || versionChanged else { return }
        if slotMap != current.slotMap {
            // One line per new slot map: the primaries serving slots and the replicas that may
            // serve reads (online ones: a failed or loading replica is left out of the map).
            let serving = (0..<slotMap.primaries.count).filter { slotMap.firstSlot(ownedBy: UInt16($0)) != nil }
            logger.notice("cluster topology changed", metadata: [
                "primaries": "\(serving.count)",
                "replicas": "\(serving.reduce(0) { $0 + slotMap.replicas[$1].count })",
                "nodes": "\(topology.nodes.count)",
                "complete": "\(slotMap.isComplete)",
                "primary_nodes": "\(serving.map { slotMap.primaries[$0].description }.joined(separator: ","))",
            ])
        }
        var resolved: [NodeAddress: SocketAddress] = [:]
        for node in topology.nodes where SocketAddress.numeric(host: node.address.host, port: node.address.port) == nil {
            resolved[node.address] = SocketAddress.resolve(host: node.address.host, port: node.address.port)
        }
        let view = current.with(slotMap: slotMap, commands: pendingCommands, resolved: resolved,
                                redisVersion: redisVersion, generation: current.generation + 1)
        pendingCommands = nil
        context.store.publish(view)
        for worker in context.workers { worker.wake() }
    }
}
