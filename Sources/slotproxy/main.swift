// slotproxy's command line, like redis-server's: `slotproxy [proxy.conf] [--directive value ...]`.
// Loads the configuration (file first, then the command line), sets up logging, starts the
// proxy and serves until SIGINT/SIGTERM (then drains and exits 0; see Proxy.run).

import ArgumentParser
import Foundation
import SlotProxyCore
import SlotProxyServer

struct SlotProxyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "slotproxy",
        abstract: "A Redis Cluster proxy: one plain Redis endpoint in front of a whole cluster.",
        discussion: """
            Every directive of proxy.conf can be given on the command line as --directive value, \
            and overrides the file. Example:
              slotproxy proxy.conf --port 7777 --seeds 127.0.0.1:7001,127.0.0.1:7002
            --check-config (anywhere) only validates the configuration: it prints the effective \
            value of every directive and exits 0, or names the bad line and exits 1.
            Signals: SIGTERM/SIGINT drain and exit 0 (within shutdown-timeout); SIGHUP reopens \
            the log file and reloads loglevel.
            """,
        version: "slotproxy \(Proxy.version)"
    )

    @Argument(parsing: .allUnrecognized, help: "[proxy.conf] [--directive value ...]")
    var settings: [String] = []

    func run() throws {
        let config: ProxyConfig
        // --check-config: load and validate, print the effective settings, exit (0 when valid).
        let checkOnly = self.settings.contains("--check-config")
        let settings = self.settings.filter { $0 != "--check-config" }
        let load = { () throws -> ProxyConfig in
            try ProxyConfig.load(arguments: settings, readFile: { path in
                try String(contentsOfFile: path, encoding: .utf8)
            })
        }
        do {
            config = try load()
        } catch {
            FileHandle.standardError.write(Data("slotproxy: \(error)\n".utf8))
            throw ExitCode(1)
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
            FileHandle.standardError.write(Data("slotproxy: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }
}

SlotProxyCommand.main()
