// What a worker counts for INFO, /metrics and SLOWLOG, called from the request path:
// a command answered (calls, duration, failed), refused (rejected_calls), an error reply
// (errorstats by prefix), a slow command (the worker's slow log). Durations are measured
// against `clock`, read once per read callback or tick, so a pipelined batch costs one clock
// read, not one per request. The worker also keeps a connection to every primary warm and
// publishes its backend connections' states on each 100 ms tick (for /readyz and /metrics).

import Glibc
import SlotProxyCore
import Synchronization

/// Bits of `Worker.commandTiming`.
enum CommandTiming {
    /// Blocking commands: their wait is not command time (no usec, never slow), as in Redis.
    static let untimed: UInt8 = 1
    /// `skip_slowlog` commands (AUTH, HELLO, EXEC…): never in the slow log, as in Redis.
    static let skipSlowlog: UInt8 = 2
}

/// Slow log entry ids, increasing over the whole process.
final class SlowlogIDs: Sendable {
    static let shared = SlowlogIDs()
    private let last = Atomic<Int64>(-1)
    func next() -> Int64 { last.wrappingAdd(1, ordering: .relaxed).newValue }
}

extension Worker {
    /// Reads the fine clock: at the start of each read callback.
    @inline(__always)
    func stampClock() {
        clock = MonotonicClock.nanoseconds()
    }

    static func commandTiming(_ table: CommandTable) -> [UInt8] {
        var timing = [UInt8](repeating: 0, count: NameRegistry.commands.capacity)
        for command in table.commands {
            for spec in [command] + command.subcommands {
                var bits: UInt8 = 0
                if spec.flags.contains(.blocking) { bits |= CommandTiming.untimed }
                if spec.flags.contains(.skipSlowlog) { bits |= CommandTiming.skipSlowlog }
                timing[spec.statsIndex] = bits
            }
        }
        return timing
    }

    /// A command's reply was queued to its client: counts the call (failed when the reply is
    /// an error) and its duration. Returns the duration in microseconds when the command may
    /// be slow-logged, else -1.
    @inline(__always)
    func commandDone(_ index: Int, started: UInt64, reply: UnsafeRawBufferPointer) -> Int {
        let base = index &* CommandStat.width
        stats.commandStats.add(base &+ CommandStat.calls, 1)
        if reply.count > 0 && reply[0] == UInt8(ascii: "-") {
            stats.commandStats.add(base &+ CommandStat.failed, 1)
            countError(reply)
        }
        let timing = commandTiming[index]
        guard started != 0, timing & CommandTiming.untimed == 0 else { return -1 }
        let micros = Int(truncatingIfNeeded: (clock &- started) / 1000)
        stats.commandStats.add(base &+ CommandStat.usec, micros)
        return timing & CommandTiming.skipSlowlog == 0 ? micros : -1
    }

    /// A command refused before it ran (NOAUTH, CROSSSLOT, a refused command…).
    func commandRejected(_ index: Int) {
        stats.commandStats.add(index &* CommandStat.width &+ CommandStat.rejected, 1)
    }

    /// Counts an error reply (`-PREFIX message\r\n`) by its prefix.
    func countError(_ reply: UnsafeRawBufferPointer) {
        var end = 1
        while end < reply.count && end < 64 && reply[end] != UInt8(ascii: " ") && reply[end] != UInt8(ascii: "\r") {
            end += 1
        }
        let prefix = UnsafeRawBufferPointer(rebasing: reply[1..<end])
        for kind in errorKinds where kind.prefix.elementsEqual(prefix) {
            stats.errorStats.add(kind.index, 1)
            return
        }
        let index = NameRegistry.errors.index(for: String(decoding: prefix, as: UTF8.self))
        if errorKinds.count < 2 * NameRegistry.errors.capacity { errorKinds.append((Array(prefix), index)) }
        stats.errorStats.add(index, 1)
    }

    /// Adds a slow request to this worker's slow log: `writeArguments` appends its arguments
    /// with the worker's writer to a buffer the slow log gave back.
    func logSlow(micros: Int, client: ClientSession, writeArguments: (inout [UInt8], SlowLogWriter) -> Void) {
        var arguments: [UInt8] = []
        swap(&arguments, &slowlogBuffer)
        arguments.removeAll(keepingCapacity: true)
        writeArguments(&arguments, slowlogWriter)
        let entry = SlowLogEntry(id: SlowlogIDs.shared.next(), timestamp: Int64(time(nil)), durationMicros: Int64(micros),
                                 argumentsRESP: arguments, clientAddress: client.record?.address ?? "",
                                 clientName: client.name ?? "")
        slowlogBuffer = stats.slowlog.withLock { $0.add(entry) }
    }

    // MARK: - Backend connections

    /// Keeps a shared connection open to every primary that owns slots (reconnecting a failed
    /// one when its backoff allows), so readiness means what it says and the first request to
    /// a primary does not wait for a connect.
    func warmPrimaries() {
        for node in activePrimaries {
            backends.connection(node: node, protocolVersion: 2).warm()
        }
    }

    /// Publishes the states of this worker's shared connections (read by /readyz and /metrics).
    func publishBackendStates() {
        // Compared in a reusable buffer and published only when something changed: this runs
        // every 100 ms and must not allocate while nothing happens.
        linkStateScratch.removeAll(keepingCapacity: true)
        backends.appendLinkStates(to: &linkStateScratch)
        guard linkStateScratch != publishedLinkStates else { return }
        publishedLinkStates = linkStateScratch
        let states = linkStateScratch
        stats.backendStates.withLock { $0 = states }
    }
}
