// When the topology thread asks the cluster for its topology again:
//   - every `period` seconds (topology-refresh-ms; 0 = never by itself),
//   - every `incompleteRetry` seconds while the slot map has unserved slots,
//   - soon after a request (MOVED, a lost connection, held requests), but never sooner than
//     `minimumInterval` after the previous refresh: a burst of a thousand MOVED replies
//     causes one refresh.
// Pure: the caller passes the time in, so tests drive it with a fake clock.

public struct RefreshSchedule: Sendable, Equatable {
    public var period: Double
    public var incompleteRetry: Double
    public var minimumInterval: Double
    public private(set) var lastRefresh: Double
    public private(set) var requested = false

    public init(period: Double, incompleteRetry: Double = 0.25, minimumInterval: Double = 0.1,
                lastRefresh: Double = -Double.infinity) {
        self.period = period
        self.incompleteRetry = incompleteRetry
        self.minimumInterval = minimumInterval
        self.lastRefresh = lastRefresh
    }

    /// Something suggests the topology changed: refresh soon.
    public mutating func request() {
        requested = true
    }

    /// The time the next refresh is due (possibly already past; `.infinity` for never).
    public func nextRefresh(slotMapComplete: Bool) -> Double {
        var due = Double.infinity
        if requested { due = lastRefresh + minimumInterval }
        if !slotMapComplete { due = min(due, lastRefresh + incompleteRetry) }
        if period > 0 { due = min(due, lastRefresh + period) }
        return due
    }

    /// A refresh ran at `now`: requests made before it are answered.
    public mutating func didRefresh(at now: Double) {
        lastRefresh = now
        requested = false
    }
}
