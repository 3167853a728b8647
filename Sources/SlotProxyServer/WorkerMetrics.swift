// The storage behind the labelled metrics a worker counts on its request path: command
// stats, error stats and per-node backend latency histograms, all fixed-size arrays of
// relaxed atomics written by the worker's thread only (a plain load and store each, no
// locked instruction) and read by the admin thread or another worker's INFO. Nothing here
// allocates or locks per request; a lock is taken only when a node is first seen.
//
//   request done ─▶ commandStats[index * 4 + calls|usec|rejected|failed] += …
//   error reply  ─▶ errorStats[errorIndex] += 1
//   backend reply ─▶ NodeLatency.record(µs): bucket[LatencyBuckets.index] += 1, sum, count

import Glibc
import SlotProxyCore
import Synchronization

/// A fixed number of counters, each a relaxed atomic with a single writer.
final class AtomicCounters: @unchecked Sendable {
    let count: Int
    private let cells: UnsafeMutablePointer<Atomic<Int>>

    init(count: Int) {
        self.count = count
        cells = .allocate(capacity: count)
        for i in 0..<count { (cells + i).initialize(to: Atomic(0)) }
    }

    deinit {
        cells.deinitialize(count: count)
        cells.deallocate()
    }

    /// Adds `n` to counter `i`. Only the owning worker's thread may call this.
    @inline(__always)
    func add(_ i: Int, _ n: Int) {
        let cell = cells + i
        cell.pointee.store(cell.pointee.load(ordering: .relaxed) &+ n, ordering: .relaxed)
    }

    /// Counter `i` (any thread).
    @inline(__always)
    func value(_ i: Int) -> Int {
        cells[i].load(ordering: .relaxed)
    }
}

/// The four counters kept per command, in `WorkerStats.commandStats`.
enum CommandStat {
    static let width = 4
    static let calls = 0, usec = 1, rejected = 2, failed = 3
}

/// One node's backend latency histogram on one worker.
final class NodeLatency: Sendable {
    let address: NodeAddress
    /// LatencyBuckets.count buckets, then the sum of microseconds, then the count.
    let cells = AtomicCounters(count: LatencyBuckets.count + 2)

    init(address: NodeAddress) { self.address = address }

    @inline(__always)
    func record(microseconds: Int) {
        cells.add(LatencyBuckets.index(microseconds: microseconds), 1)
        cells.add(LatencyBuckets.count, microseconds)
        cells.add(LatencyBuckets.count + 1, 1)
    }

    var value: HistogramValue {
        HistogramValue(buckets: (0..<LatencyBuckets.count).map { cells.value($0) },
                       sum: Double(cells.value(LatencyBuckets.count)), count: cells.value(LatencyBuckets.count + 1))
    }
}

/// A worker's latency histograms by node: created when a connection to a node is (cold).
final class LatencyRegistry: Sendable {
    private let nodes = Mutex<[NodeAddress: NodeLatency]>([:])

    func latency(for address: NodeAddress) -> NodeLatency {
        nodes.withLock { n in
            if let l = n[address] { return l }
            let l = NodeLatency(address: address)
            n[address] = l
            return l
        }
    }

    var all: [NodeLatency] { nodes.withLock { Array($0.values) } }
}

/// One shared backend connection as a worker last published it.
struct BackendLinkState: Sendable, Equatable {
    let address: NodeAddress
    /// ready, connecting, down or idle.
    let state: String
}

extension MonotonicClock {
    /// Monotonic nanoseconds (vDSO clock_gettime: a few ns with the TSC clocksource).
    @inline(__always)
    static func nanoseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }
}
