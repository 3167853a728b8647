// Renders a MetricsSnapshot in the Prometheus text exposition format 0.0.4: for every row of
// MetricTable, `# HELP` and `# TYPE` lines, then one line per label set; histograms as
// cumulative `_bucket{le=…}` lines plus `_sum` and `_count`. Values recorded in microseconds
// are turned into seconds here (the descriptor's `divisor`).

public enum PrometheusText {
    /// The Content-Type of this format.
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    public static func render(_ snapshot: MetricsSnapshot, table: [MetricDescriptor] = MetricTable.all) -> String {
        var out = ""
        out.reserveCapacity(16 * 1024)
        for d in table {
            out += "# HELP \(d.name) \(escapeHelp(d.help))\n# TYPE \(d.name) \(d.kind.rawValue)\n"
            if d.kind == .histogram {
                for (labels, h) in snapshot.histogramSamples(d.metric) {
                    let base = labelPairs(d.labels, labels)
                    var cumulative = 0
                    for i in 0..<LatencyBuckets.count {
                        cumulative += i < h.buckets.count ? h.buckets[i] : 0
                        let le = i < LatencyBuckets.finiteCount
                            ? number(Double(LatencyBuckets.upperBound(i)) / d.divisor) : "+Inf"
                        out += "\(d.name)_bucket{\(base.isEmpty ? "" : base + ",")le=\"\(le)\"} \(cumulative)\n"
                    }
                    let braces = base.isEmpty ? "" : "{\(base)}"
                    out += "\(d.name)_sum\(braces) \(number(h.sum / d.divisor))\n"
                    out += "\(d.name)_count\(braces) \(h.count)\n"
                }
            } else {
                for (labels, value) in snapshot.samples(d.metric) {
                    let base = labelPairs(d.labels, labels)
                    out += "\(d.name)\(base.isEmpty ? "" : "{\(base)}") \(number(value / d.divisor))\n"
                }
            }
        }
        return out
    }

    /// `name="value",…` with the format's escapes (backslash, quote, newline).
    static func labelPairs(_ names: [String], _ values: [String]) -> String {
        zip(names, values).map { "\($0)=\"\(escapeLabel($1))\"" }.joined(separator: ",")
    }

    static func escapeLabel(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(c)
            }
        }
        return out
    }

    static func escapeHelp(_ s: String) -> String {
        s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\n", with: "\\n")
    }

    /// Integers without a fraction; others in Swift's shortest round-tripping form.
    static func number(_ v: Double) -> String {
        if v.isNaN { return "NaN" }
        if v.isInfinite { return v > 0 ? "+Inf" : "-Inf" }
        if v == v.rounded(), abs(v) < 1e15 { return String(Int64(v)) }
        return String(v)
    }
}

extension String {
    fileprivate func replacingOccurrences(of target: String, with replacement: String) -> String {
        split(separator: Character(target), omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
