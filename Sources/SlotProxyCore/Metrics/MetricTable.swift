// Every metric slotproxy exports, declared once: its Prometheus name, type, labels and help
// text, and where INFO shows it (Redis's section and field name wherever Redis has one).
// `/metrics` (PrometheusText) and INFO (InfoText) are both rendered from this table, and
// docs/METRICS.md is checked against it by a unit test, so the three cannot drift apart.
//
//   workers' counters ─(summed at scrape time)─▶ MetricsSnapshot ─┬─▶ PrometheusText ─▶ /metrics
//                                                                 └─▶ InfoText ─▶ INFO
//
// Adding a metric: a case in `Metric`, a row in `MetricTable.all`, a value in the server's
// collector (SlotProxyServer/MetricsCollector.swift) and a line in docs/METRICS.md.

/// The Prometheus metric types slotproxy uses.
public enum MetricKind: String, Sendable {
    case counter, gauge, histogram
}

/// Where INFO shows a metric.
public enum InfoPlacement: Sendable, Equatable {
    /// `name:value` in `section` (lower-case section name); a labelled metric is summed.
    case field(section: String, name: String)
    /// One key of the `cmdstat_<command>:calls=…,usec=…` lines (label `command`).
    case commandstat(String)
    /// The count of the `errorstat_<kind>:count=…` lines (label `kind`).
    case errorstat
}

/// Every metric, by its Prometheus name.
public enum Metric: String, CaseIterable, Sendable {
    case uptime = "slotproxy_uptime_seconds"
    case usedMemory = "slotproxy_used_memory_bytes"
    case connectedClients = "slotproxy_connected_clients"
    case blockedClients = "slotproxy_blocked_clients"
    case pubsubClients = "slotproxy_pubsub_clients"
    case maxClients = "slotproxy_maxclients"
    case connectionsReceived = "slotproxy_connections_received_total"
    case connectionsRejected = "slotproxy_rejected_connections_total"
    case commandsProcessed = "slotproxy_commands_processed_total"
    case clientBytesReceived = "slotproxy_client_received_bytes_total"
    case clientBytesSent = "slotproxy_client_sent_bytes_total"
    case backendBytesReceived = "slotproxy_backend_received_bytes_total"
    case backendBytesSent = "slotproxy_backend_sent_bytes_total"
    case commandCalls = "slotproxy_command_calls_total"
    case commandDuration = "slotproxy_command_duration_seconds_total"
    case commandRejected = "slotproxy_command_rejected_calls_total"
    case commandFailed = "slotproxy_command_failed_calls_total"
    case errors = "slotproxy_errors_total"
    case redirections = "slotproxy_redirections_total"
    case retries = "slotproxy_retries_total"
    case heldRequests = "slotproxy_held_requests_total"
    case heldNow = "slotproxy_held_requests"
    case backendConnects = "slotproxy_backend_connects_total"
    case backendConnections = "slotproxy_backend_connections"
    case backendLatency = "slotproxy_backend_latency_seconds"
    case topologyRefreshes = "slotproxy_topology_refreshes_total"
    case failoversDetected = "slotproxy_failovers_detected_total"
    case primaries = "slotproxy_primaries"
    case slotsAssigned = "slotproxy_slots_assigned"
    case slotMapComplete = "slotproxy_slot_map_complete"
    case slowlogLength = "slotproxy_slowlog_length"
}

/// One row of the table.
public struct MetricDescriptor: Sendable {
    public let metric: Metric
    public let kind: MetricKind
    public let labels: [String]
    public let help: String
    public let info: [InfoPlacement]
    /// Recorded values are divided by this for Prometheus (microseconds recorded, seconds
    /// exported: 1e6); INFO shows the recorded value.
    public let divisor: Double

    public var name: String { metric.rawValue }

    init(_ metric: Metric, _ kind: MetricKind, labels: [String] = [], info: [InfoPlacement] = [], divisor: Double = 1,
         _ help: String) {
        self.metric = metric
        self.kind = kind
        self.labels = labels
        self.help = help
        self.info = info
        self.divisor = divisor
    }
}

public enum MetricTable {
    /// Every metric, in the order /metrics lists them.
    public static let all: [MetricDescriptor] = [
        // MARK: Process
        .init(.uptime, .gauge, info: [.field(section: "server", name: "uptime_in_seconds")],
              "Seconds since the proxy started."),
        .init(.usedMemory, .gauge, info: [.field(section: "memory", name: "used_memory")],
              "Bytes the proxy's allocator has handed out (the proxy's own memory, not the cluster's)."),
        // MARK: Clients
        .init(.connectedClients, .gauge, info: [.field(section: "clients", name: "connected_clients")],
              "Client connections open now."),
        .init(.blockedClients, .gauge, info: [.field(section: "clients", name: "blocked_clients")],
              "Clients waiting for a blocking command (BLPOP, XREAD BLOCK, WAIT...)."),
        .init(.pubsubClients, .gauge, info: [.field(section: "clients", name: "pubsub_clients")],
              "Clients with at least one subscription (SUBSCRIBE, PSUBSCRIBE, SSUBSCRIBE)."),
        .init(.maxClients, .gauge, info: [.field(section: "clients", name: "maxclients")],
              "The maxclients limit."),
        .init(.connectionsReceived, .counter, info: [.field(section: "stats", name: "total_connections_received")],
              "Client connections accepted."),
        .init(.connectionsRejected, .counter, info: [.field(section: "stats", name: "rejected_connections")],
              "Client connections refused because maxclients was reached."),
        // MARK: Commands
        .init(.commandsProcessed, .counter, info: [.field(section: "stats", name: "total_commands_processed")],
              "Commands received from clients (known commands with the right number of arguments)."),
        .init(.commandCalls, .counter, labels: ["command"], info: [.commandstat("calls")],
              "Commands answered, by command (container|subcommand for subcommands)."),
        .init(.commandDuration, .counter, labels: ["command"], info: [.commandstat("usec")], divisor: 1e6,
              "Time from a request parsed to its reply queued to the client, summed, by command."),
        .init(.commandRejected, .counter, labels: ["command"], info: [.commandstat("rejected_calls")],
              "Commands refused before they ran (NOAUTH, CROSSSLOT, refused commands...), by command."),
        .init(.commandFailed, .counter, labels: ["command"], info: [.commandstat("failed_calls")],
              "Commands answered with an error reply, by command."),
        .init(.errors, .counter, labels: ["kind"],
              info: [.errorstat, .field(section: "stats", name: "total_error_replies")],
              "Error replies sent to clients, by error prefix (ERR, WRONGTYPE, CROSSSLOT, MOVED...)."),
        // MARK: Traffic
        .init(.clientBytesReceived, .counter, info: [.field(section: "stats", name: "total_net_input_bytes")],
              "Bytes read from clients."),
        .init(.clientBytesSent, .counter, info: [.field(section: "stats", name: "total_net_output_bytes")],
              "Bytes written to clients."),
        .init(.backendBytesReceived, .counter, info: [.field(section: "stats", name: "backend_net_input_bytes")],
              "Bytes read from cluster nodes."),
        .init(.backendBytesSent, .counter, info: [.field(section: "stats", name: "backend_net_output_bytes")],
              "Bytes written to cluster nodes."),
        // MARK: Redirections and failover
        .init(.redirections, .counter, labels: ["type"], info: [.field(section: "stats", name: "redirections")],
              "MOVED and ASK replies the proxy followed (type moved or ask)."),
        .init(.retries, .counter, info: [.field(section: "stats", name: "retries")],
              "Requests sent again (TRYAGAIN, CLUSTERDOWN, LOADING, NOSCRIPT, or written to a connection that failed)."),
        .init(.heldRequests, .counter, info: [.field(section: "stats", name: "held_requests")],
              "Requests held while their node was unreachable (failover) or before a retry."),
        .init(.heldNow, .gauge, info: [.field(section: "stats", name: "held_requests_now")],
              "Requests held now."),
        .init(.topologyRefreshes, .counter, info: [.field(section: "stats", name: "topology_refreshes")],
              "Topology reads that produced a new view."),
        .init(.failoversDetected, .counter, info: [.field(section: "stats", name: "failovers_detected")],
              "Former replicas seen serving slots (a failover)."),
        // MARK: Backends
        .init(.backendConnects, .counter, info: [.field(section: "stats", name: "backend_connects")],
              "Connections established to cluster nodes."),
        .init(.backendConnections, .gauge, labels: ["node", "state"],
              "Shared backend connections by node (host:port) and state (ready, connecting, down, idle), over all workers."),
        .init(.backendLatency, .histogram, labels: ["node"], divisor: 1e6,
              "Backend round trip: from the loop iteration that queued a request on a shared connection to the read that brought its reply."),
        // MARK: Cluster view
        .init(.primaries, .gauge, info: [.field(section: "cluster", name: "slotproxy_primaries")],
              "Primaries in the proxy's slot map."),
        .init(.slotsAssigned, .gauge, info: [.field(section: "cluster", name: "slotproxy_slots_assigned")],
              "Slots with an owner in the proxy's slot map (16384 when complete)."),
        .init(.slotMapComplete, .gauge, info: [.field(section: "cluster", name: "slotproxy_slot_map_complete")],
              "1 when every slot has an owner, else 0."),
        .init(.slowlogLength, .gauge, info: [.field(section: "stats", name: "slowlog_len")],
              "Entries in the proxy's slow log (SLOWLOG LEN)."),
    ]

    /// The row of `metric`.
    public static func descriptor(_ metric: Metric) -> MetricDescriptor {
        byMetric[metric]!
    }

    private static let byMetric: [Metric: MetricDescriptor] = Dictionary(uniqueKeysWithValues: all.map { ($0.metric, $0) })
}

extension MetricTable {
    /// The reference table of docs/METRICS.md (between its metrics-table markers), generated
    /// from `all` so the documentation cannot drift (MetricTableTests checks it).
    public static func markdownReference() -> String {
        var out = "| metric | type | labels | INFO | help |\n|---|---|---|---|---|\n"
        for d in all {
            let info = d.info.map { placement -> String in
                switch placement {
                case .field(let section, let name): return "`\(name)` (\(section))"
                case .commandstat(let key): return "`cmdstat_<command>:\(key)`"
                case .errorstat: return "`errorstat_<kind>:count`"
                }
            }.joined(separator: ", ")
            let labels = d.labels.map { "`\($0)`" }.joined(separator: ", ")
            out += "| `\(d.name)` | \(d.kind.rawValue) | \(labels) | \(info) | \(d.help) |\n"
        }
        return out
    }
}
