import Testing
@testable import SlotProxyCore

/// A readFile over an in-memory set of files; a missing one throws like the real one would.
private struct NoSuchFile: Error, CustomStringConvertible {
    var description: String { "No such file or directory" }
}

private func files(_ files: [String: String]) -> (String) throws -> String {
    { path in
        guard let text = files[path] else { throw NoSuchFile() }
        return text
    }
}

/// The ConfigError `load` throws, or nil.
private func loadError(_ arguments: [String], _ files: [String: String] = [:], requireSeeds: Bool = false) -> ConfigError? {
    do {
        _ = try ProxyConfig.load(arguments: arguments, readFile: SlotProxyCoreTests.files(files), requireSeeds: requireSeeds)
        return nil
    } catch {
        return error
    }
}

@Suite("ProxyConfig")
struct ProxyConfigTests {
    @Test("defaults come from the directive table")
    func defaults() {
        let config = ProxyConfig()
        #expect(config.bind == [BindAddress(host: "127.0.0.1"), BindAddress(host: "::1", isOptional: true)])
        #expect(config.port == 7777)
        #expect(config.seeds == [])
        #expect(config.threads == 1)
        #expect(config.timeout == 0)
        #expect(config.maxClients == 10000)
        #expect(config.logLevel == .notice)
        #expect(config.logFile == "")
        #expect(config.protoMaxBulkLen == 512 * 1024 * 1024)
        #expect(config.clientQueryBufferLimit == 1024 * 1024 * 1024)
        #expect(config.backendConnections == 1)
        #expect(config.backendTimeoutMs == 5000)
        #expect(config.connectTimeoutMs == 1000)
        #expect(config.topologyRefreshMs == 10000)
        #expect(config.tcpKeepalive == 300)
        #expect(config.tcpBacklog == 511)
        #expect(config.unixSocket == "")
        #expect(config.unixSocketPerm == 0)
    }

    @Test("every directive writes back the value it read")
    func roundTrip() throws {
        let config = ProxyConfig()
        for directive in ConfigDirective.all {
            var copy = config
            let text = directive.currentValue(in: config)
            try copy.set(directive.name, ConfigLine.splitArguments(text) ?? [])
            #expect(copy == config, "\(directive.name) \(text)")
        }
        #expect(ConfigDirective.named("PROTO-MAX-BULK-LEN")?.currentValue(in: config) == "512mb")
        #expect(ConfigDirective.named("logfile")?.currentValue(in: config) == "\"\"")
        #expect(ConfigDirective.named("bind")?.currentValue(in: config) == "127.0.0.1 -::1")
        #expect(ConfigDirective.named("nope") == nil)
        var socket = config
        try socket.set("unixsocket", ["/run/slotproxy.sock"])
        try socket.set("unixsocketperm", ["0770"])
        #expect(socket.unixSocket == "/run/slotproxy.sock" && socket.unixSocketPerm == 0o770)
        #expect(ConfigDirective.named("unixsocketperm")?.currentValue(in: socket) == "770")
    }

    @Test("directive names in the table are unique and lower case")
    func tableNames() {
        let names = ConfigDirective.all.map(\.name)
        #expect(Set(names).count == names.count)
        #expect(names.allSatisfy { $0 == asciiLowercased($0) })
    }

    @Test("a file with comments, quotes and escapes sets its directives")
    func loadFile() throws {
        let conf = """
            # slotproxy test config
            Port 7000
            bind 0.0.0.0   # every IPv4 interface
            seeds "10.0.0.1:7001, 10.0.0.2:7001" [::1]:7003
            logfile '/var/log/slot proxy.log'
            LOGLEVEL Warning

            proto-max-bulk-len 1MB
            client-query-buffer-limit "64mb"
            timeout 30
            threads 4
            """
        let config = try ProxyConfig.load(arguments: ["/etc/proxy.conf"], readFile: files(["/etc/proxy.conf": conf]))
        #expect(config.port == 7000)
        #expect(config.bind == [BindAddress(host: "0.0.0.0")])
        #expect(config.seeds == [SeedAddress(host: "10.0.0.1", port: 7001), SeedAddress(host: "10.0.0.2", port: 7001),
                                 SeedAddress(host: "::1", port: 7003)])
        #expect(config.logFile == "/var/log/slot proxy.log")
        #expect(config.logLevel == .warning)
        #expect(config.protoMaxBulkLen == 1 << 20)
        #expect(config.clientQueryBufferLimit == 64 << 20)
        #expect(config.timeout == 30)
        #expect(config.threads == 4)
        #expect(config.tcpBacklog == 511)  // untouched directives keep their defaults
    }

    @Test("a later line replaces an earlier one")
    func laterWins() throws {
        let config = try ProxyConfig.load(arguments: ["p.conf"], readFile: files(["p.conf": "seeds a:1 b:2\nport 1\nseeds c:3\nport 2\n"]))
        #expect(config.seeds == [SeedAddress(host: "c", port: 3)])
        #expect(config.port == 2)
    }

    @Test("--directive values override the file's")
    func commandLineOverrides() throws {
        let config = try ProxyConfig.load(
            arguments: ["p.conf", "--port", "7100", "--SEEDS", "x:1", "y:2,z:3", "--bind", "127.0.0.1 ::1", "--logfile", "", "--timeout", "-0"],
            readFile: files(["p.conf": "port 7000\nseeds a:1\nthreads 2\nlogfile /tmp/x.log\n"]))
        #expect(config.port == 7100)
        #expect(config.seeds.map(\.description) == ["x:1", "y:2", "z:3"])
        #expect(config.bind.map(\.description) == ["127.0.0.1", "::1"])
        #expect(config.logFile == "")
        #expect(config.threads == 2)  // from the file
        #expect(config.timeout == 0)
    }

    @Test("the command line alone works without a file")
    func commandLineOnly() throws {
        var readPaths: [String] = []
        let config = try ProxyConfig.load(arguments: ["--seeds", "127.0.0.1:7001", "--threads", "2"], readFile: { path in
            readPaths.append(path)
            return ""
        })
        #expect(readPaths == [])
        #expect(config.seeds == [SeedAddress(host: "127.0.0.1", port: 7001)])
        #expect(config.threads == 2)
    }

    @Test("seeds are required to start, unless the caller says otherwise")
    func seedsRequired() throws {
        #expect(throws: ConfigError(.missingSeeds)) { try ProxyConfig.load(arguments: [], readFile: files([:])) }
        #expect(throws: ConfigError(.missingSeeds)) {
            try ProxyConfig.load(arguments: ["--seeds", ""], readFile: files([:]))
        }
        #expect(try ProxyConfig.load(arguments: [], readFile: files([:]), requireSeeds: false) == ProxyConfig())
        #expect(ConfigError(.missingSeeds).description.hasPrefix("no seeds"))
    }

    // MARK: - Errors

    @Test("an unknown directive in a file names the file and line")
    func unknownDirectiveInFile() {
        let error = loadError(["proxy.conf"], ["proxy.conf": "# x\n\n\n\n\n\n\n\n\n\nport 7000\nPROT 7001\n"])
        #expect(error == ConfigError(.unknownDirective, directive: "prot", at: .file(name: "proxy.conf", line: 12)))
        #expect(error?.description == "proxy.conf:12: unknown directive 'prot'")
    }

    @Test("an out-of-range value in a file names the file, line, directive and range")
    func outOfRangeInFile() {
        let error = loadError(["proxy.conf"], ["proxy.conf": "bind 127.0.0.1\n\nport 99999\n"])
        #expect(error?.description == "proxy.conf:3: invalid value for 'port': '99999' (must be 1-65535)")
    }

    @Test("a bad integer on the command line names the --directive and the rule")
    func badIntegerOnCommandLine() {
        let error = loadError(["--threads", "x"])
        #expect(error == ConfigError(.invalidValue(value: "x", expected: "must be an integer from 1 to 64"),
                                     directive: "threads", at: .commandLine))
        #expect(error?.description == "--threads: invalid value 'x' (must be an integer from 1 to 64)")
        #expect(loadError(["--threads", "65"])?.description == "--threads: invalid value '65' (must be 1-64)")
        #expect(loadError(["--threads", "0"])?.description == "--threads: invalid value '0' (must be 1-64)")
    }

    @Test("an unknown directive on the command line")
    func unknownDirectiveOnCommandLine() {
        #expect(loadError(["--prot", "1"])?.description == "--prot: unknown directive 'prot'")
    }

    @Test("bad memory sizes, enums and seeds are refused with what is expected")
    func badValues() {
        #expect(loadError(["--proto-max-bulk-len", "12qb"])?.description ==
                "--proto-max-bulk-len: invalid value '12qb' (must be a size in bytes with an optional unit: k, kb, m, mb, g, gb)")
        #expect(loadError(["--proto-max-bulk-len", "1kb"])?.description ==
                "--proto-max-bulk-len: invalid value '1kb' (must be from 1mb to 2147483647 bytes)")
        #expect(loadError(["--client-query-buffer-limit", "2gb"]) != nil)
        #expect(loadError(["p.conf"], ["p.conf": "loglevel loud"])?.description ==
                "p.conf:1: invalid value for 'loglevel': 'loud' (must be one of debug, verbose, notice, warning)")
        #expect(loadError(["--seeds", "a:1", "[::1]7000"])?.description ==
                "--seeds: invalid value '[::1]7000' (must be host:port with a port from 1 to 65535, IPv6 as [::1]:7000)")
        #expect(loadError(["--seeds", "a:70000"]) == ConfigError(
            .invalidValue(value: "a:70000", expected: "must be host:port with a port from 1 to 65535, IPv6 as [::1]:7000"),
            directive: "seeds", at: .commandLine))
        #expect(loadError(["--bind", "300.0.0.1"]) != nil)
        #expect(loadError(["--bind", ""])?.description == "--bind: invalid value '' (must name at least one address)")
    }

    @Test("a missing or extra value is a wrong number of arguments")
    func argumentCounts() {
        #expect(loadError(["--port"])?.description == "--port: wrong number of arguments (expected 1, got 0)")
        #expect(loadError(["--port", "--threads", "2"])?.description == "--port: wrong number of arguments (expected 1, got 0)")
        #expect(loadError(["--port", "1", "2"])?.description == "--port: wrong number of arguments (expected 1, got 2)")
        #expect(loadError(["--seeds"])?.description == "--seeds: wrong number of arguments (expected at least 1, got 0)")
        #expect(loadError(["p.conf"], ["p.conf": "port"])?.description ==
                "p.conf:1: wrong number of arguments for 'port' (expected 1, got 0)")
        #expect(loadError(["p.conf"], ["p.conf": "logfile a b"])?.description ==
                "p.conf:1: wrong number of arguments for 'logfile' (expected 1, got 2)")
    }

    @Test("stray command-line arguments are refused")
    func strayArguments() {
        #expect(loadError(["a.conf", "b.conf"], ["a.conf": ""]) == ConfigError(.unexpectedArgument("b.conf"), at: .commandLine))
        #expect(loadError(["--"])?.description.hasPrefix("unexpected argument '--'") == true)
    }

    @Test("a file that cannot be read is reported with its path")
    func unreadableFile() {
        let error = loadError(["/nowhere/proxy.conf", "--port", "1"])
        #expect(error == ConfigError(.unreadableFile(path: "/nowhere/proxy.conf", reason: "No such file or directory")))
        #expect(error?.description == "can't open config file '/nowhere/proxy.conf': No such file or directory")
    }

    @Test("unbalanced quotes in the file stop loading at that line")
    func unbalancedQuotes() {
        #expect(loadError(["p.conf"], ["p.conf": "port 1\nlogfile \"oops\n"])?.description ==
                "p.conf:2: unbalanced quotes in configuration line")
    }

    @Test("set() applies one directive the way a config line does")
    func setDirective() throws {
        var config = ProxyConfig()
        try config.set("TCP-KEEPALIVE", ["0"])
        #expect(config.tcpKeepalive == 0)
        #expect(throws: ConfigError(.invalidValue(value: "-1", expected: "must be 0-2147483647"), directive: "tcp-keepalive")) {
            try config.set("tcp-keepalive", ["-1"])
        }
        #expect(ConfigError(.invalidValue(value: "-1", expected: "must be 0-2147483647"), directive: "tcp-keepalive").description ==
                "invalid value for 'tcp-keepalive': '-1' (must be 0-2147483647)")
    }
}
