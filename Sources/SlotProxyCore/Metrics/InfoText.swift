// INFO as Redis writes it, from the metric table: which sections a request names (Redis 7's
// rules: none = default, `all`, `everything`, several names), and each section's text:
// the server's fixed fields (version, pid, …), then every metric the table places in that
// section, then commandstats / errorstats lines built from the labelled metrics.
//
//   INFO [section …] ─▶ sections(requested:) ─▶ render(sections, fixed, snapshot) ─▶ "# Server\r\n…"
//
// The keyspace section is not rendered here: the server asks every primary and sums.

public enum InfoText {
    /// The proxy's sections, in Redis's order.
    public static let sectionOrder = ["server", "clients", "memory", "stats", "replication", "cpu",
                                      "commandstats", "errorstats", "cluster", "keyspace"]
    /// What INFO without arguments (or `default`) shows: every section but commandstats, as Redis.
    public static let defaultSections: Set<String> = Set(sectionOrder).subtracting(["commandstats"])

    /// The sections a request names, in Redis's order. Names are case-insensitive; `default`,
    /// `all` and `everything` stand for groups; unknown names are ignored, as Redis does.
    public static func sections(requested: [String]) -> [String] {
        let wanted = Set(requested.map { $0.lowercased() })
        guard !wanted.isEmpty else { return sectionOrder.filter { defaultSections.contains($0) } }
        var chosen = wanted
        if wanted.contains("all") || wanted.contains("everything") { chosen.formUnion(sectionOrder) }
        if wanted.contains("default") { chosen.formUnion(defaultSections) }
        return sectionOrder.filter { chosen.contains($0) }
    }

    /// The heading Redis prints for a section ("# Server", "# CPU", "# Commandstats").
    public static func title(_ section: String) -> String {
        switch section {
        case "cpu": return "CPU"
        default: return section.prefix(1).uppercased() + section.dropFirst()
        }
    }

    /// The text of `sections` (keyspace excepted), sections separated by an empty line.
    /// - Parameters:
    ///   - fixed: fields that are not metrics (redis_version, process_id…), by section; shown first.
    ///   - snapshot: the metrics; each placed in its section by the table.
    public static func render(sections: [String], fixed: [String: [(String, String)]], snapshot: MetricsSnapshot,
                              table: [MetricDescriptor] = MetricTable.all) -> String {
        var parts: [String] = []
        for section in sections where section != "keyspace" {
            var lines = (fixed[section] ?? []).map { "\($0.0):\($0.1)" }
            for d in table {
                for case .field(let s, let name) in d.info where s == section {
                    lines.append("\(name):\(integer(snapshot.total(d.metric)))")
                }
            }
            if section == "commandstats" { lines += commandstats(snapshot, table: table) }
            if section == "errorstats" { lines += errorstats(snapshot, table: table) }
            parts.append("# \(title(section))\r\n" + lines.map { $0 + "\r\n" }.joined())
        }
        return parts.joined(separator: "\r\n")
    }

    /// `cmdstat_get:calls=2,usec=15,usec_per_call=7.50,rejected_calls=0,failed_calls=0`, one per
    /// command with any count, sorted by name.
    static func commandstats(_ snapshot: MetricsSnapshot, table: [MetricDescriptor]) -> [String] {
        var fields: [String: [String: Double]] = [:]
        for d in table {
            for case .commandstat(let key) in d.info {
                for (labels, value) in snapshot.samples(d.metric) where labels.count == 1 {
                    fields[labels[0], default: [:]][key, default: 0] += value
                }
            }
        }
        return fields.keys.sorted().compactMap { name in
            let f = fields[name]!
            let calls = f["calls"] ?? 0, usec = f["usec"] ?? 0
            let rejected = f["rejected_calls"] ?? 0, failed = f["failed_calls"] ?? 0
            guard calls + rejected + failed > 0 else { return nil }
            return "cmdstat_\(name):calls=\(integer(calls)),usec=\(integer(usec)),usec_per_call=\(twoDecimals(calls > 0 ? usec / calls : 0)),rejected_calls=\(integer(rejected)),failed_calls=\(integer(failed))"
        }
    }

    /// `errorstat_ERR:count=3`, one per error prefix, sorted.
    static func errorstats(_ snapshot: MetricsSnapshot, table: [MetricDescriptor]) -> [String] {
        var lines: [String] = []
        for d in table where d.info.contains(.errorstat) {
            for (labels, value) in snapshot.samples(d.metric) where labels.count == 1 && value > 0 {
                lines.append("errorstat_\(labels[0]):count=\(integer(value))")
            }
        }
        return lines
    }

    static func integer(_ v: Double) -> String {
        v.isFinite && abs(v) < 9e18 ? String(Int64(v)) : "0"
    }

    /// Redis's `%.2f`.
    public static func twoDecimals(_ v: Double) -> String {
        let hundredths = Int64((v * 100).rounded())
        let whole = hundredths / 100, frac = abs(hundredths % 100)
        return "\(hundredths < 0 && whole == 0 ? "-" : "")\(whole).\(frac < 10 ? "0" : "")\(frac)"
    }
}
