// slotproxy's command line, like redis-server's: `slotproxy [proxy.conf] [--directive value ...]`.
// Loads the configuration (file first, then the command line), sets up logging, starts the
// proxy and serves until SIGINT/SIGTERM (then drains and exits 0; see Proxy.run).
//
// The command line is read here by hand: every argument but --help, --version and
// --check-config goes to ProxyConfig.load, which owns the directives. (An argument-parsing
// package would bring Foundation's runtime with it: megabytes of resident memory per sidecar.)

import Glibc
import SlotProxyCore
import SlotProxyServer

enum SlotProxyCommand {
    static let usage = """
        OVERVIEW: A Redis Cluster proxy: one plain Redis endpoint in front of a whole cluster.

        Every directive of proxy.conf can be given on the command line as --directive value, and
        overrides the file. Example:
          slotproxy proxy.conf --port 7777 --seeds 127.0.0.1:7001,127.0.0.1:7002
        --check-config (anywhere) only validates the configuration: it prints the effective value
        of every directive and exits 0, or names the bad line and exits 1.
        Signals: SIGTERM/SIGINT drain and exit 0 (within shutdown-timeout); SIGHUP reopens the log
        file and reloads loglevel.

        USAGE: slotproxy [proxy.conf] [--directive value ...]

        OPTIONS:
          --check-config          Validate the configuration, print it and exit.
          --version               Show the version.
          -h, --help              Show help information.

        """

    /// A file's text, or the system's reason it cannot be read.
    struct UnreadableFile: Error, CustomStringConvertible {
        let description: String
    }

    static func readTextFile(_ path: String) throws -> String {
        guard let file = fopen(path, "rb") else { throw UnreadableFile(description: String(cString: strerror(errno))) }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = fread(&chunk, 1, chunk.count, file)
            bytes.append(contentsOf: chunk[0..<n])
            if n < chunk.count {
                if ferror(file) != 0 { throw UnreadableFile(description: String(cString: strerror(errno))) }
                break
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func fail(_ message: String) -> Never {
        fputs("slotproxy: \(message)\n", stderr)
        exit(1)
    }

    nonisolated static func run(_ arguments: [String]) {
        var settings = arguments
        if settings.contains("--help") || settings.contains("-h") {
            print(usage, terminator: "")
            return
        }
        if settings.contains("--version") {
            print("slotproxy \(Proxy.version)")
            return
        }
        // --check-config: load and validate, print the effective settings, exit (0 when valid).
        let checkOnly = settings.contains("--check-config")
        settings.removeAll { $0 == "--check-config" }
        let load = { () throws -> ProxyConfig in
            try ProxyConfig.load(arguments: settings, readFile: readTextFile)
        }
        let config: ProxyConfig
        do {
            config = try load()
        } catch {
            fail("\(error)")
        }
        if checkOnly {
            print("slotproxy: configuration OK")
            for directive in ConfigDirective.all {
                print("\(directive.name) \(directive.currentValue(in: config))")
            }
            return
        }
        do {
            let logger = try ProxyLogging.bootstrap(config)
            let proxy = try Proxy(config: config, logger: logger)
            // SIGHUP reads the same file and command line again (for loglevel).
            proxy.reloadConfiguration = load
            proxy.run()
        } catch {
            fail("\(error)")
        }
    }
}

SlotProxyCommand.run(Array(CommandLine.arguments.dropFirst()))
