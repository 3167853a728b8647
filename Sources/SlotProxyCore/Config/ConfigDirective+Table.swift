// The table of every directive slotproxy understands, in the order proxy.conf lists them.
// Add a directive here (and its property in ProxyConfig) and it is parsed, defaulted,
// documented in proxy.conf and covered by the drift test; nothing else needs editing
// except regenerating proxy.conf (see ProxyConfigFileTests).

/// The largest size a request may reach: the request parser records argument offsets as
/// Int32, so nothing at or past 2 GiB can be addressed in a client's buffer.
let largestRequestBytes = Int(Int32.max)
/// A day, the longest any millisecond timeout may be set to.
let oneDayMs = 86_400_000

extension ConfigDirective {
    /// Every directive, in proxy.conf order.
    public static let all: [ConfigDirective] = [
        // MARK: Network
        .bindAddresses("bind", \.bind, default: "127.0.0.1 -::1", help: """
            The addresses to accept client connections on, separated by spaces. As a sidecar
            the proxy listens on loopback only; list other interfaces to serve the network.
            "*" means every IPv4 and IPv6 interface. A "-" in front of an address means
            "skip it if it is not available", so the default still starts on a machine
            without IPv6.
            """),
        .integer("port", \.port, default: 7777, range: 1...65535, help: """
            The TCP port clients connect to, on every bind address.
            """),
        .string("unixsocket", \.unixSocket, default: "", help: """
            A Unix domain socket to accept client connections on as well, e.g.
            /run/slotproxy/slotproxy.sock ("" = none). An application in the same pod or
            host (sharing the directory) that connects through it skips the loopback TCP
            stack on both sides, which on the benchmark machine was the largest part of
            what a request through the proxy costs (docs/PERFORMANCE.md). A socket file
            left at the path by a proxy that is gone is replaced; a path another process
            still listens on, or that is not a socket, stops the start. The file is
            removed on shutdown. Paths are limited to 107 bytes.
            """),
        .fileMode("unixsocketperm", \.unixSocketPerm, default: 0, help: """
            The permissions of the unixsocket file, in octal as chmod takes them (700:
            the proxy's user only; 770: its group too). 0 = as the umask leaves them.
            """),
        .integer("tcp-backlog", \.tcpBacklog, default: 511, range: 0...Int(Int32.max), help: """
            The listen() backlog: connections the kernel queues before the proxy accepts
            them, on the TCP ports and the unixsocket. Linux silently caps it at
            /proc/sys/net/core/somaxconn.
            """),
        .integer("timeout", \.timeout, default: 0, range: 0...Int(Int32.max), help: """
            Close a client connection after it has been idle for this many seconds
            (0 = never). As in Redis, a client waiting for a reply, blocked (BLPOP…) or
            subscribed (SUBSCRIBE, PSUBSCRIBE, SSUBSCRIBE) is never idle.
            """),
        .integer("tcp-keepalive", \.tcpKeepalive, default: 300, range: 0...Int(Int32.max), help: """
            Send TCP keepalives on client and backend connections every this many seconds,
            so dead peers are noticed and idle connections survive middleboxes (0 = off).
            """),

        // MARK: Cluster
        .seedAddresses("seeds", \.seeds, default: "\"\"", example: "127.0.0.1:7001 127.0.0.1:7002 127.0.0.1:7003", help: """
            Cluster nodes to learn the topology from, as host:port, separated by spaces or
            commas; an IPv6 address goes in brackets: [::1]:7000. Any one reachable node is
            enough, so list several in case some are down. There is no default: at least
            one seed is required. Give them all on one line; a later seeds line replaces
            an earlier one.
            """),
        .integer("topology-refresh-ms", \.topologyRefreshMs, default: 10000, range: 0...oneDayMs, help: """
            Re-read the cluster topology every this many milliseconds even when nothing
            suggests it changed (0 = only on MOVED redirections and connection failures).
            """),

        // MARK: Workers and backends
        .integer("threads", \.threads, default: 1, range: 1...64, help: """
            Worker threads, each running its own event loop with its own client and
            backend connections. More than the machine's cores only adds contention;
            on two cores shared with the application, 2 measured slower than 1
            (docs/PERFORMANCE.md).
            """),
        .integer("backend-connections", \.backendConnections, default: 1, range: 1...256, help: """
            Shared, pipelined connections each worker opens to each primary. One is
            usually best: requests from many clients share it and are written in batches.
            """),
        .integer("connect-timeout-ms", \.connectTimeoutMs, default: 1000, range: 1...oneDayMs, help: """
            Give up connecting to a cluster node after this many milliseconds.
            """),
        .integer("backend-timeout-ms", \.backendTimeoutMs, default: 5000, range: 1...oneDayMs, help: """
            A node that has not answered a request within this many milliseconds (a frozen
            or overloaded process) is treated as failed: every request written to it gets
            "-ERR slotproxy: no reply from primary host:port within N ms (backend-timeout-ms)",
            its connection is closed and the topology refreshed. Requests for its slots that
            arrive afterwards are held as during a failover (failover-hold-ms) until the
            node answers a PING again or a replica takes over. A lost connection (the
            process died) is not a timeout: see failover-hold-ms.
            """),
        .integer("backend-max-inflight", \.backendMaxInflight, default: 16384, range: 0...Int(Int32.max), help: """
            The most requests one backend connection may have awaiting replies. When a
            connection reaches it, the clients that sent to it are not read from until
            it is down to half (backpressure: they wait, nothing fails), so a slow node
            cannot make the proxy buffer without bound. Requests already read are still
            sent, so the depth may pass the limit by what one read of each client held.
            0 = no limit.
            """),
        .integer("max-blocking-clients", \.maxBlockingClients, default: 1000, range: 0...1_000_000, help: """
            Blocking commands (BLPOP, BRPOP, BLMOVE, BZPOPMIN, XREAD … BLOCK, WAIT…) each wait
            on a backend connection of their own, so the shared connections never stall.
            This caps how many may wait at once, over all workers; one more gets an error
            naming this directive.
            """),
        .choice("read-from", \.readFrom, default: ReadFrom.primary, help: """
            Where read-only commands (GET, MGET parts, HGETALL…) go: "primary" (every
            command to the slot's primary), "prefer-replica" (a replica of that primary
            when one is reachable, else the primary) or "replica" (replicas only, round
            robin; held while none is reachable; a shard listing no healthy replica
            serves reads from its primary).
            Replica connections send READONLY
            first and follow failovers like primary ones. Writes always go to primaries;
            replicas may lag behind their primary.
            """),
        .integer("failover-hold-ms", \.failoverHoldMs, default: 30000, range: 0...oneDayMs, help: """
            While a primary is unreachable (its connection dropped, a connect failed or a
            request timed out), requests for its slots are held, not failed, for up to this
            many milliseconds while the proxy polls the cluster for the replica that takes
            over; then they go to the new primary, in order. Only past this deadline does a
            client see an error. The default covers a cluster-node-timeout of 15 s plus an
            election. 0 fails such requests at once.
            """),

        // MARK: Clients and limits
        .integer("maxclients", \.maxClients, default: 10000, range: 1...Int(Int32.max), help: """
            The most client connections open at once, over all workers. A client beyond
            the limit gets "-ERR max number of clients reached" and is disconnected.
            """),
        .memory("proto-max-bulk-len", \.protoMaxBulkLen, default: "512mb", range: (1 << 20)...largestRequestBytes, help: """
            The largest bulk string (one argument) a client may send. A larger one gets
            "-ERR Protocol error: invalid bulk length" and the connection is closed.
            """),
        .integer("proto-max-multibulk-len", \.protoMaxMultibulkLen, default: 1_048_576, range: 1...Int(Int32.max), help: """
            The most arguments one request may have (*<count> of a multibulk request). A
            larger count gets "-ERR Protocol error: invalid multibulk length" and the
            connection is closed. Redis 6 had this limit built in; Redis 7 accepts up to
            2147483647.
            """),
        .memory("proto-inline-max-size", \.protoInlineMaxSize, default: "64kb", range: 1024...largestRequestBytes, help: """
            The longest inline request (a plain text line such as PING, from telnet) and
            the longest header line of a multibulk request. A longer one gets "-ERR
            Protocol error: too big inline request" (or "too big mbulk count string" /
            "too big bulk count string") and the connection is closed. Redis's own limit
            is this default, built in.
            """),
        .memory("client-query-buffer-limit", \.clientQueryBufferLimit, default: "1gb", range: (1 << 20)...largestRequestBytes, help: """
            The most unprocessed request bytes buffered for one client (a request still
            arriving, or requests waiting behind a blocking or subscribe command); a
            client that sends more is disconnected, without a reply, as by Redis.
            """),
        .clientOutputBufferLimits("client-output-buffer-limit", \.clientOutputBufferLimits,
                                  default: "normal 0 0 0 pubsub 32mb 8mb 60", help: """
            How many reply bytes may wait for a client that does not read them, as in
            Redis: <class> <hard limit> <soft limit> <soft seconds>, for the classes
            normal (every client not subscribed) and pubsub (clients subscribed to a
            channel or pattern). A client is disconnected once its pending replies reach
            the hard limit, or stay at or above the soft limit for longer than the soft
            seconds; 0 disables a limit. Several classes may share one line; a line
            changes only the classes it names.
            Before any limit, a client with 1mb of replies pending (or half its class's
            hard limit, if lower) is not read from until it has read half of them
            (backpressure), so a client that sends requests without reading the replies
            cannot grow its buffer much beyond the replies it is owed. Subscribed clients
            receive messages however little they read, which is why their class has a
            hard limit by default.
            """),

        // MARK: Security
        .string("requirepass", \.requirePass, default: "", help: """
            The password clients must give before any other command, as on a Redis server
            with requirepass: AUTH password, or HELLO 3 AUTH default password. Until then
            every command but AUTH, HELLO, QUIT and RESET gets -NOAUTH. "" = no password:
            every client is the default user from the start. This is the proxy's own
            password; the cluster's is backend-password.
            """),
        .users("users", \.users, default: "\"\"", help: """
            More users clients may authenticate as (AUTH name password, or HELLO 3 AUTH
            name password), as name:password pairs separated by spaces, e.g.
            "users alice:secret1 bob:secret2". A user may run every command the proxy
            serves; users tell clients apart (CLIENT LIST shows user=name). Passwords
            listed here cannot contain spaces. Give them all on one line; a later users
            line replaces an earlier one. The default user's password is requirepass.
            """),
        .string("backend-user", \.backendUser, default: "", help: """
            The ACL user the proxy authenticates as on cluster nodes; "" = the default
            user (AUTH password only).
            """),
        .string("backend-password", \.backendPassword, default: "", help: """
            The password the proxy gives cluster nodes: every backend connection and every
            topology query starts with AUTH [backend-user] backend-password. "" = the
            nodes need no authentication.
            """),
        .boolean("allow-admin-commands", \.allowAdminCommands, default: false, help: """
            Administrative commands (CONFIG SET, CONFIG RESETSTAT, CONFIG REWRITE, SLOWLOG
            RESET, ACL SETUSER, BGSAVE, LATENCY RESET…) are refused by default with an error
            naming this directive. yes sends each to every primary, and the client gets OK
            only when every primary said OK. CONFIG GET always goes to one primary.
            Commands that would stop or reshape the cluster (SHUTDOWN, DEBUG, MONITOR,
            SYNC, REPLICAOF, FAILOVER, CLUSTER ADDSLOTS, CLUSTER FAILOVER…) are always
            refused.
            """),

        // MARK: Observability
        .integer("metrics-port", \.metricsPort, default: 0, range: 0...65535, help: """
            The port of the admin HTTP endpoint: /metrics (Prometheus text format),
            /healthz (200 while the process serves) and /readyz (200 when every slot has a
            primary and every primary a live connection, else 503 with the reason).
            0 = no endpoint. docs/METRICS.md lists every metric.
            """),
        .string("metrics-bind", \.metricsBind, default: "127.0.0.1", help: """
            The address the admin HTTP endpoint listens on. Loopback by default; a pod
            whose kubelet probes /healthz and /readyz, or a Prometheus outside the pod,
            needs the pod's address or 0.0.0.0.
            """),
        .integer("slowlog-log-slower-than", \.slowlogLogSlowerThan, default: 10000, range: -1...Int(Int32.max), help: """
            The proxy's own slow log (SLOWLOG GET/LEN/RESET) records commands that took at
            least this many microseconds, from the request parsed to its reply queued to
            the client. -1 = off, 0 = every command. The nodes' own slow logs are not
            touched.
            """),
        .integer("slowlog-max-len", \.slowlogMaxLen, default: 128, range: 0...1_000_000, help: """
            The newest slow log entries kept (each worker keeps this many; SLOWLOG GET
            shows at most this many).
            """),

        // MARK: Logging
        .choice("loglevel", \.logLevel, default: LogLevel.notice, help: """
            How much to log: debug, verbose, notice or warning (from most to least).
            """),
        .string("logfile", \.logFile, default: "", help: """
            The file to append the log to; "" logs to standard error. SIGHUP opens it
            again at the same path, so logrotate can move it away (no copytruncate
            needed); SIGHUP also reloads loglevel from the configuration file.
            """),

        // MARK: Shutdown
        .integer("shutdown-timeout", \.shutdownTimeout, default: 10, range: 0...3600, help: """
            On SIGTERM or SIGINT the proxy stops accepting connections, answers every
            request it has already received, closes each client once its replies are
            written, and exits 0. Clients still owed a reply after this many seconds
            are closed anyway (0 = close every client at once). A second SIGTERM or
            SIGINT stops at once.
            """),
    ]
}
