// The values of every metric at one moment, summed over the workers. The server's collector
// adds each worker's counters here (cold path, at scrape or INFO time); the renderers read it.
// A sample with the same labels added twice is summed, which is how per-worker counters
// become process totals.

/// A histogram's counts: one per `LatencyBuckets` bucket (not cumulative; the last is +Inf),
/// their sum in recorded units (microseconds) and their count.
public struct HistogramValue: Sendable, Equatable {
    public var buckets: [Int]
    public var sum: Double
    public var count: Int

    public init(buckets: [Int] = Array(repeating: 0, count: LatencyBuckets.count), sum: Double = 0, count: Int = 0) {
        self.buckets = buckets
        self.sum = sum
        self.count = count
    }

    public static func += (lhs: inout HistogramValue, rhs: HistogramValue) {
        for i in 0..<min(lhs.buckets.count, rhs.buckets.count) { lhs.buckets[i] += rhs.buckets[i] }
        lhs.sum += rhs.sum
        lhs.count += rhs.count
    }
}

/// Metric values by metric and label values (in the order of the descriptor's labels).
public struct MetricsSnapshot: Sendable {
    public private(set) var values: [Metric: [[String]: Double]] = [:]
    public private(set) var histograms: [Metric: [[String]: HistogramValue]] = [:]

    public init() {}

    /// Adds `value` to the sample of `metric` with `labels` (created at 0 if missing).
    public mutating func add(_ metric: Metric, _ value: Double, labels: [String] = []) {
        values[metric, default: [:]][labels, default: 0] += value
    }

    public mutating func add(_ metric: Metric, _ value: Int, labels: [String] = []) {
        add(metric, Double(value), labels: labels)
    }

    public mutating func add(_ metric: Metric, histogram: HistogramValue, labels: [String] = []) {
        histograms[metric, default: [:]][labels, default: HistogramValue()] += histogram
    }

    /// The sample of `metric` with `labels`, if any.
    public func value(_ metric: Metric, labels: [String] = []) -> Double? {
        values[metric]?[labels]
    }

    /// The sum over every label set of `metric` (0 when it has no sample).
    public func total(_ metric: Metric) -> Double {
        values[metric]?.values.reduce(0, +) ?? 0
    }

    /// The samples of `metric`, ordered by label values.
    public func samples(_ metric: Metric) -> [(labels: [String], value: Double)] {
        (values[metric] ?? [:]).map { ($0.key, $0.value) }.sorted { $0.labels.lexicographicallyPrecedes($1.labels) }
    }

    public func histogramSamples(_ metric: Metric) -> [(labels: [String], value: HistogramValue)] {
        (histograms[metric] ?? [:]).map { ($0.key, $0.value) }.sorted { $0.labels.lexicographicallyPrecedes($1.labels) }
    }
}
