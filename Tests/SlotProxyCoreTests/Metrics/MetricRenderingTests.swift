import Testing
@testable import SlotProxyCore

@Suite("Prometheus text and INFO from the table")
struct MetricRenderingTests {
    static let table: [MetricDescriptor] = [
        MetricDescriptor(.connectedClients, .gauge, info: [.field(section: "clients", name: "connected_clients")],
                         "Client connections open now."),
        MetricDescriptor(.commandCalls, .counter, labels: ["command"], info: [.commandstat("calls")], "Calls."),
        MetricDescriptor(.commandDuration, .counter, labels: ["command"], info: [.commandstat("usec")], divisor: 1e6,
                         "Time."),
        MetricDescriptor(.errors, .counter, labels: ["kind"],
                         info: [.errorstat, .field(section: "stats", name: "total_error_replies")], "Errors."),
        MetricDescriptor(.backendLatency, .histogram, labels: ["node"], divisor: 1e6, "Latency \\ with\nnewline."),
    ]

    static var snapshot: MetricsSnapshot {
        var s = MetricsSnapshot()
        s.add(.connectedClients, 2)
        s.add(.connectedClients, 3)  // a second worker: summed
        s.add(.commandCalls, 4, labels: ["get"])
        s.add(.commandDuration, 30, labels: ["get"])
        s.add(.commandCalls, 1, labels: ["client|list"])
        s.add(.errors, 2, labels: ["WRONGTYPE"])
        s.add(.errors, 1, labels: ["ERR"])
        var h = HistogramValue()
        h.buckets[0] = 1
        h.buckets[2] = 2
        h.buckets[LatencyBuckets.count - 1] = 1
        h.sum = 2_000_100
        h.count = 4
        s.add(.backendLatency, histogram: h, labels: ["127.0.0.1:7001"])
        return s
    }

    @Test("Prometheus text: HELP, TYPE, summed samples, escaped labels, scaled values")
    func prometheus() {
        var s = Self.snapshot
        s.add(.commandCalls, 1, labels: ["a\"b\\c"])
        let text = PrometheusText.render(s, table: Self.table)
        #expect(text.hasPrefix("""
            # HELP slotproxy_connected_clients Client connections open now.
            # TYPE slotproxy_connected_clients gauge
            slotproxy_connected_clients 5
            # HELP slotproxy_command_calls_total Calls.
            # TYPE slotproxy_command_calls_total counter
            slotproxy_command_calls_total{command="a\\"b\\\\c"} 1
            slotproxy_command_calls_total{command="client|list"} 1
            slotproxy_command_calls_total{command="get"} 4
            # HELP slotproxy_command_duration_seconds_total Time.
            # TYPE slotproxy_command_duration_seconds_total counter
            slotproxy_command_duration_seconds_total{command="get"} 3e-05

            """))
        #expect(text.contains("# HELP slotproxy_backend_latency_seconds Latency \\\\ with\\nnewline.\n"))
        #expect(text.hasSuffix("\n"))
    }

    @Test("histograms: cumulative buckets with le in seconds, +Inf, _sum and _count")
    func histogram() {
        let text = PrometheusText.render(Self.snapshot, table: Self.table)
        let lines = text.split(separator: "\n").filter { $0.hasPrefix("slotproxy_backend_latency_seconds") }.map(String.init)
        #expect(lines.count == LatencyBuckets.count + 2)
        #expect(lines[0] == #"slotproxy_backend_latency_seconds_bucket{node="127.0.0.1:7001",le="1.6e-05"} 1"#)
        #expect(lines[1] == #"slotproxy_backend_latency_seconds_bucket{node="127.0.0.1:7001",le="3.2e-05"} 1"#)
        #expect(lines[2] == #"slotproxy_backend_latency_seconds_bucket{node="127.0.0.1:7001",le="6.4e-05"} 3"#)
        #expect(lines[16] == #"slotproxy_backend_latency_seconds_bucket{node="127.0.0.1:7001",le="1.048576"} 3"#)
        #expect(lines[17] == #"slotproxy_backend_latency_seconds_bucket{node="127.0.0.1:7001",le="+Inf"} 4"#)
        #expect(lines[18] == #"slotproxy_backend_latency_seconds_sum{node="127.0.0.1:7001"} 2.0001"#)
        #expect(lines[19] == #"slotproxy_backend_latency_seconds_count{node="127.0.0.1:7001"} 4"#)
    }

    @Test("latency buckets: powers of two microseconds from 16, the last one +Inf")
    func buckets() {
        #expect(LatencyBuckets.index(microseconds: 0) == 0)
        #expect(LatencyBuckets.index(microseconds: 16) == 0)
        #expect(LatencyBuckets.index(microseconds: 17) == 1)
        #expect(LatencyBuckets.index(microseconds: 32) == 1)
        #expect(LatencyBuckets.index(microseconds: 33) == 2)
        #expect(LatencyBuckets.index(microseconds: 1 << 20) == 16)
        #expect(LatencyBuckets.index(microseconds: (1 << 20) + 1) == 17)
        #expect(LatencyBuckets.index(microseconds: Int.max) == 17)
        for us in [1, 15, 16, 17, 100, 1000, 65_536, 1_000_000] {
            let i = LatencyBuckets.index(microseconds: us)
            #expect(us <= LatencyBuckets.upperBound(i))
            #expect(i == 0 || us > LatencyBuckets.upperBound(i - 1))
        }
    }

    @Test("INFO: Redis's section selection rules")
    func sections() {
        let defaults = ["server", "clients", "memory", "stats", "replication", "cpu", "errorstats", "cluster", "keyspace"]
        #expect(InfoText.sections(requested: []) == defaults)
        #expect(InfoText.sections(requested: ["default"]) == defaults)
        #expect(InfoText.sections(requested: ["all"]) == InfoText.sectionOrder)
        #expect(InfoText.sections(requested: ["EVERYTHING"]) == InfoText.sectionOrder)
        #expect(InfoText.sections(requested: ["keyspace", "Server", "nosuch"]) == ["server", "keyspace"])
        #expect(InfoText.sections(requested: ["commandstats"]) == ["commandstats"])
        #expect(InfoText.title("cpu") == "CPU" && InfoText.title("commandstats") == "Commandstats")
    }

    @Test("INFO: fixed fields, then the table's fields; commandstats and errorstats lines as Redis's")
    func info() {
        let text = InfoText.render(sections: ["clients", "stats", "commandstats", "errorstats", "keyspace"],
                                   fixed: ["clients": [("maxclients", "10")]], snapshot: Self.snapshot, table: Self.table)
        #expect(text == """
            # Clients\r
            maxclients:10\r
            connected_clients:5\r
            \r
            # Stats\r
            total_error_replies:3\r
            \r
            # Commandstats\r
            cmdstat_client|list:calls=1,usec=0,usec_per_call=0.00,rejected_calls=0,failed_calls=0\r
            cmdstat_get:calls=4,usec=30,usec_per_call=7.50,rejected_calls=0,failed_calls=0\r
            \r
            # Errorstats\r
            errorstat_ERR:count=1\r
            errorstat_WRONGTYPE:count=2\r

            """)
        #expect(InfoText.twoDecimals(1.005) == "1.00" || InfoText.twoDecimals(1.005) == "1.01")
        #expect(InfoText.twoDecimals(0.333) == "0.33" && InfoText.twoDecimals(12) == "12.00")
    }
}
