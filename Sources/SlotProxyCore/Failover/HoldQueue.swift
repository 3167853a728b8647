// Requests the proxy could not send yet, held instead of failed: their primary is
// unreachable (a failover is under way), or the node answered TRYAGAIN / CLUSTERDOWN.
// Each waits until it may be tried again (`notBefore`) and gives up at its deadline; until
// then it stays in line, so requests held for one slot leave in the order they came.
//
//   hold(r, deadline, notBefore) ──▶ [ r1 r2 r3 … ] ──drain(now, isRoutable)──▶ ready (in order)
//                                                                         └──▶ expired
//
// Time is a plain number of seconds passed in by the caller: tests drive it with a fake clock.

public struct HoldQueue<Request> {
    public struct Entry {
        public var request: Request
        /// When the client must get an error instead.
        public var deadline: Double
        /// Not to be tried before this time (backoff after TRYAGAIN).
        public var notBefore: Double
    }

    private var entries: [Entry] = []

    public init() {}

    public var count: Int { entries.count }
    public var isEmpty: Bool { entries.isEmpty }

    public mutating func hold(_ request: Request, deadline: Double, notBefore: Double = 0) {
        entries.append(Entry(request: request, deadline: deadline, notBefore: notBefore))
    }

    /// Takes out, in the order they were held, the requests whose deadline has passed and
    /// those that may be tried now and whose target `isRoutable` accepts. The rest stay.
    public mutating func drain(now: Double, isRoutable: (Request) -> Bool) -> (ready: [Request], expired: [Request]) {
        var ready: [Request] = []
        var expired: [Request] = []
        var kept: [Entry] = []
        for entry in entries {
            if now >= entry.deadline {
                expired.append(entry.request)
            } else if now >= entry.notBefore && isRoutable(entry.request) {
                ready.append(entry.request)
            } else {
                kept.append(entry)
            }
        }
        entries = kept
        return (ready, expired)
    }

    /// Removes every request (shutdown).
    public mutating func removeAll() -> [Request] {
        defer { entries = [] }
        return entries.map(\.request)
    }
}

/// Exponential backoff: `base`, 2×, 4×… capped at `cap` (seconds).
public struct Backoff: Sendable, Equatable {
    public var base: Double
    public var cap: Double

    public init(base: Double, cap: Double) {
        self.base = base
        self.cap = cap
    }

    /// The wait before attempt number `attempt` (0 = the first retry).
    public func delay(attempt: Int) -> Double {
        min(cap, base * Double(1 << min(attempt, 20)))
    }
}
