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
            """,
        version: "slotproxy \(Proxy.version)"
    )

    @Argument(parsing: .allUnrecognized, help: "[proxy.conf] [--directive value ...]")
    var settings: [String] = []

    func run() throws {
        let config: ProxyConfig
        let settings = self.settings
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
