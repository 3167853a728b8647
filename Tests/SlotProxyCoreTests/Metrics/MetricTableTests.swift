import Foundation
import Testing
@testable import SlotProxyCore

/// The metric table is the one declaration: every metric is in it once, its names follow
/// Prometheus's rules, and docs/METRICS.md carries exactly the table it generates. After
/// changing the table, regenerate the doc's reference:
///
///     SLOTPROXY_WRITE_METRICS_DOC=1 swift test --filter MetricTable
@Suite("MetricTable")
struct MetricTableTests {
    static let docPath = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("docs/METRICS.md").path
    static let begin = "<!-- metrics-table:begin -->\n"
    static let end = "<!-- metrics-table:end -->"

    @Test("every metric has exactly one row, with a valid, prefixed name and help text")
    func everyMetricOnce() {
        #expect(MetricTable.all.map(\.metric).sorted { $0.rawValue < $1.rawValue }
                == Metric.allCases.sorted { $0.rawValue < $1.rawValue })
        for d in MetricTable.all {
            #expect(d.name.hasPrefix("slotproxy_"), "\(d.name)")
            #expect(d.name.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" }, "\(d.name)")
            #expect(!d.help.isEmpty && !d.help.contains("\n"), "\(d.name)")
            #expect((d.kind == .counter) == d.name.hasSuffix("_total"), "\(d.name): counters end in _total")
        }
    }

    @Test("INFO fields are unique and use Redis's names where Redis has them")
    func infoFields() {
        let fields = MetricTable.all.flatMap { d in
            d.info.compactMap { p -> String? in if case .field(let s, let n) = p { return "\(s):\(n)" }; return nil }
        }
        #expect(Set(fields).count == fields.count)
        for redis in ["clients:connected_clients", "clients:blocked_clients", "stats:total_commands_processed",
                      "stats:total_connections_received", "stats:total_net_input_bytes", "stats:total_net_output_bytes",
                      "stats:rejected_connections", "stats:total_error_replies", "memory:used_memory",
                      "server:uptime_in_seconds", "clients:maxclients"] {
            #expect(fields.contains(redis), "\(redis)")
        }
    }

    @Test("docs/METRICS.md lists exactly the table's metrics")
    func documented() throws {
        var text = try String(contentsOfFile: Self.docPath, encoding: .utf8)
        let generated = MetricTable.markdownReference()
        if ProcessInfo.processInfo.environment["SLOTPROXY_WRITE_METRICS_DOC"] == "1",
           let a = text.range(of: Self.begin), let b = text.range(of: Self.end) {
            text.replaceSubrange(a.upperBound..<b.lowerBound, with: generated)
            try text.write(toFile: Self.docPath, atomically: true, encoding: .utf8)
        }
        #expect(text.contains(Self.begin + generated + Self.end),
                "docs/METRICS.md is out of date: run SLOTPROXY_WRITE_METRICS_DOC=1 swift test --filter MetricTable")
    }
}
