// Reads every worker's counters (relaxed atomics, and the snapshots workers publish on their
// tick) and the shared state into one MetricsSnapshot, at scrape or INFO time: a cold path
// on whichever thread asks (the admin thread, or a worker answering INFO). Also answers
// readiness (/readyz) and the parts of INFO that are not metrics.
//
//   WorkerStats × N ─┐
//   ProxyContext ────┼─▶ MetricsCollector.snapshot() ─▶ PrometheusText / InfoText
//   ClusterView ─────┘

import CLibevent
import Glibc
import SlotProxyCore

struct MetricsCollector {
    let context: ProxyContext

    func snapshot() -> MetricsSnapshot {
        var s = MetricsSnapshot()
        let stats = context.workers.map(\.stats)
        let view = context.store.current()
        s.add(.uptime, Int(MonotonicClock.seconds() - context.startedAt))
        s.add(.usedMemory, Self.usedMemory())
        s.add(.connectedClients, context.connectedClients)
        s.add(.blockedClients, context.blockedClients.load(ordering: .relaxed))
        s.add(.maxClients, context.config.maxClients)
        s.add(.topologyRefreshes, context.topology?.refreshes.current ?? 0)
        s.add(.failoversDetected, context.topology?.failovers.current ?? 0)
        s.add(.primaries, view.slotMap.primaries.count)
        s.add(.slotsAssigned, view.slotMap.assignedSlotCount)
        s.add(.slotMapComplete, view.slotMap.isComplete ? 1 : 0)
        let commandNames = NameRegistry.commands.names()
        let errorNames = NameRegistry.errors.names()
        var slowlogLength = 0
        for w in stats {
            s.add(.pubsubClients, w.pubsubClients.current)
            s.add(.connectionsReceived, w.connectionsReceived.current)
            s.add(.connectionsRejected, w.connectionsRejected.current)
            s.add(.commandsProcessed, w.commands.current)
            s.add(.clientBytesReceived, w.bytesIn.current)
            s.add(.clientBytesSent, w.bytesOut.current)
            s.add(.backendBytesReceived, w.backendBytesIn.current)
            s.add(.backendBytesSent, w.backendBytesOut.current)
            s.add(.redirections, w.movedRedirections.current, labels: ["moved"])
            s.add(.redirections, w.askRedirections.current, labels: ["ask"])
            s.add(.retries, w.retries.current)
            s.add(.heldRequests, w.heldRequests.current)
            s.add(.heldNow, w.heldNow.current)
            s.add(.backendConnects, w.backendConnects.current)
            for (i, name) in commandNames.enumerated() {
                let base = i * CommandStat.width
                let calls = w.commandStats.value(base + CommandStat.calls)
                let rejected = w.commandStats.value(base + CommandStat.rejected)
                guard calls > 0 || rejected > 0 else { continue }
                s.add(.commandCalls, calls, labels: [name])
                s.add(.commandDuration, w.commandStats.value(base + CommandStat.usec), labels: [name])
                s.add(.commandRejected, rejected, labels: [name])
                s.add(.commandFailed, w.commandStats.value(base + CommandStat.failed), labels: [name])
            }
            for (i, name) in errorNames.enumerated() {
                let n = w.errorStats.value(i)
                if n > 0 { s.add(.errors, n, labels: [name]) }
            }
            for node in w.latency.all {
                s.add(.backendLatency, histogram: node.value, labels: ["\(node.address)"])
            }
            for link in w.backendStates.withLock({ $0 }) {
                s.add(.backendConnections, 1, labels: ["\(link.address)", link.state])
            }
            slowlogLength += w.slowlog.withLock { $0.count }
        }
        s.add(.slowlogLength, min(slowlogLength, context.config.slowlogMaxLen))
        return s
    }

    // MARK: - Readiness

    /// Ready when every slot has a primary and every primary that owns slots has a ready
    /// connection on some worker, and the proxy is not shutting down; otherwise the first
    /// reason it is not.
    func readiness() -> (ready: Bool, reason: String) {
        if context.shuttingDown.load(ordering: .relaxed) {
            return (false, "shutting down")
        }
        let map = context.store.current().slotMap
        guard map.isComplete else {
            return (false, "slot map incomplete: \(map.assignedSlotCount) of \(HashSlot.count) slots have a primary")
        }
        let states = linkStates()
        for (i, primary) in map.primaries.enumerated() where map.firstSlot(ownedBy: UInt16(i)) != nil {
            guard states[primary]?.contains("ready") == true else {
                return (false, "no live connection to primary \(primary)")
            }
        }
        return (true, "ok")
    }

    /// Every worker's published connection states, by node.
    func linkStates() -> [NodeAddress: Set<String>] {
        var out: [NodeAddress: Set<String>] = [:]
        for w in context.workers {
            for link in w.stats.backendStates.withLock({ $0 }) { out[link.address, default: []].insert(link.state) }
        }
        return out
    }

    // MARK: - Slow log

    func slowlogEntries(count: Int) -> [SlowLogEntry] {
        let logs = context.workers.map { w in w.stats.slowlog.withLock { $0.newestFirst } }
        let limit = context.config.slowlogMaxLen
        return SlowLog.merge(logs, count: count < 0 ? limit : min(count, limit))
    }

    func slowlogLength() -> Int {
        min(context.workers.reduce(0) { n, w in n + w.stats.slowlog.withLock { $0.count } }, context.config.slowlogMaxLen)
    }

    func slowlogReset() {
        for w in context.workers { w.stats.slowlog.withLock { $0.reset() } }
    }

    // MARK: - Process

    /// Bytes in use by the allocator (glibc's arenas and mmapped blocks).
    static func usedMemory() -> Int {
        let m = mallinfo2()
        return Int(m.uordblks) + Int(m.hblkhd)
    }

    /// The resident set size, from /proc/self/statm (second field, in pages).
    static func residentMemory() -> Int {
        let fd = open("/proc/self/statm", O_RDONLY)
        guard fd >= 0 else { return 0 }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 128)
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard n > 0 else { return 0 }
        let fields = String(decoding: buffer[0..<n], as: UTF8.self).split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}
