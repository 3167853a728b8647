// The proxy's settings, typed, and how they are loaded, like redis-server's:
//   slotproxy [proxy.conf] [--directive value ...]
//   defaults (from the directive table) ─▶ file lines, in order ─▶ --directive groups, in order
// Each step looks the directive up in ConfigDirective.all and sets its property; a later
// setting replaces an earlier one, so the command line overrides the file. Reading the file
// is the caller's job (readFile), which keeps this code free of I/O.

/// Every setting of the proxy. `ProxyConfig()` holds the defaults from `ConfigDirective.all`.
public struct ProxyConfig: Equatable, Sendable {
    /// `bind`: the addresses to listen on (`*` already expanded to `0.0.0.0` and `-::`).
    public var bind: [BindAddress] = []
    /// `port`: the client port.
    public var port: Int = 0
    /// `unixsocket`: a Unix domain socket path clients may connect to as well; "" = none.
    public var unixSocket: String = ""
    /// `unixsocketperm`: the socket file's permission bits; 0 = as the umask leaves them.
    public var unixSocketPerm: Int = 0
    /// `tcp-backlog`: the listen() backlog (also the Unix socket's).
    public var tcpBacklog: Int = 0
    /// `timeout`: idle client timeout in seconds; 0 = never.
    public var timeout: Int = 0
    /// `tcp-keepalive`: keepalive interval in seconds; 0 = off.
    public var tcpKeepalive: Int = 0
    /// `seeds`: cluster nodes to discover the topology from.
    public var seeds: [SeedAddress] = []
    /// `topology-refresh-ms`: periodic topology refresh in milliseconds; 0 = none.
    public var topologyRefreshMs: Int = 0
    /// `threads`: worker event loops.
    public var threads: Int = 0
    /// `backend-connections`: shared connections per primary per worker.
    public var backendConnections: Int = 0
    /// `connect-timeout-ms`: connect timeout to a cluster node, in milliseconds.
    public var connectTimeoutMs: Int = 0
    /// `backend-timeout-ms`: how long a node may take to answer, in milliseconds.
    public var backendTimeoutMs: Int = 0
    /// `max-blocking-clients`: blocking commands waiting at once, over all workers.
    public var maxBlockingClients: Int = 0
    /// `read-from`: where read-only commands go.
    public var readFrom: ReadFrom = .primary
    /// `failover-hold-ms`: how long requests for an unreachable primary's slots are held.
    public var failoverHoldMs: Int = 0
    /// `maxclients`: client connections over all workers.
    public var maxClients: Int = 0
    /// `proto-max-bulk-len`: largest bulk string a client may send, in bytes.
    public var protoMaxBulkLen: Int = 0
    /// `client-query-buffer-limit`: most buffered request bytes per client.
    public var clientQueryBufferLimit: Int = 0
    /// `proto-max-multibulk-len`: most arguments in one request.
    public var protoMaxMultibulkLen: Int = 0
    /// `proto-inline-max-size`: longest inline request (and multibulk header line), in bytes.
    public var protoInlineMaxSize: Int = 0
    /// `client-output-buffer-limit`: pending reply bytes allowed per class of client.
    public var clientOutputBufferLimits = ClientOutputBufferLimits(normal: .unlimited, pubsub: .unlimited)
    /// `backend-max-inflight`: requests awaiting replies on one backend connection before the
    /// clients feeding it are paused; 0 = no limit.
    public var backendMaxInflight: Int = 0
    /// `requirepass`: the default user's password; "" = clients need not authenticate.
    public var requirePass: String = ""
    /// `users`: further users clients may authenticate as.
    public var users: [ProxyUser] = []
    /// `backend-user`: the user the proxy authenticates as on cluster nodes; "" = the default user.
    public var backendUser: String = ""
    /// `backend-password`: the password for `backendUser`; "" = the nodes need no authentication.
    public var backendPassword: String = ""
    /// `allow-admin-commands`: send CONFIG SET and other administrative commands to every primary.
    public var allowAdminCommands: Bool = false
    /// `metrics-port`: the admin HTTP port (/metrics, /healthz, /readyz); 0 = off.
    public var metricsPort: Int = 0
    /// `metrics-bind`: the address the admin HTTP endpoint listens on.
    public var metricsBind: String = ""
    /// `slowlog-log-slower-than`: microseconds; negative = off, 0 = every command.
    public var slowlogLogSlowerThan: Int = 0
    /// `slowlog-max-len`: entries each worker's slow log keeps.
    public var slowlogMaxLen: Int = 0
    /// `loglevel`.
    public var logLevel: LogLevel = .notice
    /// `logfile`: path to append logs to; "" = standard error.
    public var logFile: String = ""
    /// `shutdown-timeout`: seconds a shutdown waits for replies still owed to clients.
    public var shutdownTimeout: Int = 0

    /// The defaults: every directive of `ConfigDirective.all` set from its `defaultValue`.
    public init() {
        self = ProxyConfig.defaults
    }

    private static let defaults: ProxyConfig = {
        // Placeholders only; every one is overwritten from the table just below.
        var config = ProxyConfig(placeholders: ())
        for directive in ConfigDirective.all {
            do {
                try directive.apply(ConfigLine.splitArguments(directive.defaultValue) ?? [], to: &config)
            } catch {
                preconditionFailure("the default of '\(directive.name)' does not parse: \(error)")
            }
        }
        return config
    }()

    private init(placeholders: Void) {}
}

// MARK: - Loading

extension ProxyConfig {
    /// Builds the configuration from the command line, like redis-server.
    ///
    /// - Parameters:
    ///   - arguments: what follows the program name. An optional first argument not starting
    ///     with `--` is the config file path; then `--directive value...` groups, a group's
    ///     values running until the next argument that starts with `--`. Command-line values
    ///     override the file's.
    ///   - readFile: returns a file's text; its error is reported with the path.
    ///   - requireSeeds: refuse a configuration without seeds (the proxy cannot start
    ///     without one). Pass false to inspect a partial configuration.
    /// - Returns: the defaults, overridden by the file, overridden by the command line.
    /// - Throws: `ConfigError`, whose `description` names the file and line or the `--directive`.
    public static func load(arguments: [String], readFile: (String) throws -> String,
                            requireSeeds: Bool = true) throws(ConfigError) -> ProxyConfig {
        var config = ProxyConfig()
        var rest = arguments[...]

        if let path = rest.first, !path.hasPrefix("--") {
            rest = rest.dropFirst()
            let contents: String
            do {
                contents = try readFile(path)
            } catch {
                throw ConfigError(.unreadableFile(path: path, reason: String(describing: error)))
            }
            try config.apply(ConfigLine.parse(fileContents: contents, fileName: path), fileName: path)
        }

        while let option = rest.first {
            guard option.hasPrefix("--"), option.count > 2 else {
                throw ConfigError(.unexpectedArgument(option), at: .commandLine)
            }
            let name = asciiLowercased(String(option.dropFirst(2)))
            rest = rest.dropFirst()
            let values = rest.prefix { !$0.hasPrefix("--") }
            rest = rest.dropFirst(values.count)
            try config.set(name, Array(values), at: .commandLine)
        }

        if requireSeeds && config.seeds.isEmpty {
            throw ConfigError(.missingSeeds)
        }
        return config
    }

    /// Applies parsed config-file lines in order.
    /// - Throws: `ConfigError` located at the offending line of `fileName`.
    public mutating func apply(_ lines: [ConfigLine], fileName: String) throws(ConfigError) {
        for line in lines {
            try set(line.directive, line.arguments, at: .file(name: fileName, line: line.line))
        }
    }

    /// Sets one directive from its arguments, as a config line or `--directive` would.
    /// - Parameters:
    ///   - directive: the name, in any case.
    ///   - arguments: its values, unquoted.
    ///   - location: where they came from, for the error message.
    /// - Throws: `ConfigError` for an unknown directive, a wrong argument count or a bad value.
    public mutating func set(_ directive: String, _ arguments: [String],
                             at location: ConfigError.Location = .none) throws(ConfigError) {
        let name = asciiLowercased(directive)
        guard let entry = ConfigDirective.named(name) else {
            throw ConfigError(.unknownDirective, directive: name, at: location)
        }
        do {
            try entry.apply(arguments, to: &self)
        } catch {
            var located = error
            located.location = location
            throw located
        }
    }
}
