// Starts and stops slotproxy: binds the listeners (failing fast if the port is taken),
// asks the cluster for its topology once before serving, starts the topology thread and
// one thread per worker, then takes signals on the calling thread (sigtimedwait: no work
// ever runs in a signal handler):
//   SIGTERM/SIGINT ─▶ every worker drains through its own loop ─▶ all stopped ─▶ return (exit 0)
//   SIGHUP         ─▶ reopen the log file, reload loglevel

import CLibevent
import Foundation
import Glibc
import Logging
import SlotProxyCore

public final class Proxy {
    private let context: ProxyContext
    private var workerThreads: [Thread] = []
    private let finished = DispatchGroup()
    /// The admin HTTP endpoint (/metrics, /healthz, /readyz), when metrics-port is set.
    private let admin: AdminServer?

    /// The version `--version`, the start line and INFO report.
    public static let version = "0.1.0"

    /// Reads the configuration again (same file, same command line) for SIGHUP; nil: SIGHUP
    /// only reopens the log file.
    public var reloadConfiguration: (() throws -> ProxyConfig)?

    /// Prepares the proxy; throws when a listener cannot be bound.
    public init(config: ProxyConfig, logger: Logger) throws {
        evthread_use_pthreads()
        signal(SIGPIPE, SIG_IGN)
        let initial = ClusterView(generation: 0, slotMap: SlotMap(), commands: CommandTable.snapshot,
                                  resolved: [:], redisVersion: "7.0.0")
        let context = ProxyContext(config: config, logger: logger, store: ClusterViewStore(initial))
        self.context = context
        context.topology = TopologyManager(context: context)
        context.workers = try (0..<config.threads).map { try Worker(index: $0, context: context) }
        admin = config.metricsPort == 0 ? nil
            : try AdminServer(context: context, host: config.metricsBind, port: config.metricsPort)
    }

    /// Serves until SIGINT or SIGTERM, drains, stops every thread and returns (the process
    /// then exits 0). Signals are taken by this thread with sigtimedwait, never in a handler:
    ///   SIGTERM, SIGINT  graceful shutdown (Worker.beginShutdown); a second one stops at once
    ///   SIGHUP           reopen `logfile`, reload `loglevel` (see `reload()`)
    public func run() {
        let logger = context.logger
        let config = context.config
        // Block the signals in every thread (the workers inherit the mask); this thread
        // collects them.
        var signals = sigset_t()
        sigemptyset(&signals)
        for s in [SIGINT, SIGTERM, SIGHUP] { sigaddset(&signals, s) }
        pthread_sigmask(SIG_BLOCK, &signals, nil)

        let complete = context.topology!.refresh()
        if !complete {
            logger.warning("slot map incomplete at start: answering CLUSTERDOWN until the cluster is reachable")
        }
        context.topology!.start()
        for worker in context.workers {
            finished.enter()
            let t = Thread { [finished] in
                worker.run()
                finished.leave()
            }
            t.name = "slotproxy-worker-\(worker.index)"
            t.stackSize = 1 << 20
            workerThreads.append(t)
            t.start()
        }
        admin?.start()
        let view = context.store.current()
        logger.notice("slotproxy \(Self.version) ready", metadata: [
            "listening": "\(context.workers.first?.listeningAddresses.joined(separator: ",") ?? "")",
            "seeds": "\(config.seeds.map(\.description).joined(separator: ","))",
            "threads": "\(config.threads)", "pid": "\(getpid())",
            "primaries": "\(view.slotMap.primaries.count)", "slot_map_complete": "\(view.slotMap.isComplete)",
            "read_from": "\(config.readFrom.rawValue)", "maxclients": "\(config.maxClients)",
            "failover_hold_ms": "\(config.failoverHoldMs)", "shutdown_timeout": "\(config.shutdownTimeout)",
            "auth": "\(config.requirePass.isEmpty ? "off" : "on")",
            "loglevel": "\(config.logLevel.rawValue)",
        ])

        var shutdownStarted: Double?
        var tenth = timespec(tv_sec: 0, tv_nsec: 100_000_000)
        while true {
            let received = sigtimedwait(&signals, nil, &tenth)
            switch received {
            case SIGHUP:
                reload()
            case SIGTERM, SIGINT:
                let name = received == SIGTERM ? "SIGTERM" : "SIGINT"
                if shutdownStarted == nil {
                    shutdownStarted = MonotonicClock.seconds()
                    context.shuttingDown.store(true, ordering: .relaxed)
                    logger.notice("\(name) received: shutting down", metadata: [
                        "clients": "\(context.connectedClients)", "shutdown_timeout": "\(config.shutdownTimeout)"])
                    for worker in context.workers { worker.beginShutdown() }
                } else {
                    logger.warning("\(name) received again: stopping now", metadata: ["clients": "\(context.connectedClients)"])
                    for worker in context.workers { worker.stop() }
                }
            default:
                break
            }
            guard let started = shutdownStarted else { continue }
            if finished.wait(timeout: .now()) == .success { break }
            // The workers keep their own deadline; this one only guards against a stuck loop.
            if MonotonicClock.seconds() - started > Double(config.shutdownTimeout) + 5 {
                logger.warning("workers did not stop in time: exiting anyway")
                break
            }
        }
        admin?.stop()
        context.topology?.stop()
        logger.notice("slotproxy stopped", metadata: [
            "uptime_seconds": "\(Int(MonotonicClock.seconds() - context.startedAt))"])
    }

    /// SIGHUP: reopens `logfile` (logrotate moved it: the new file is created at the same
    /// path) and reloads `loglevel` from the configuration (file and command line, read
    /// again). Every other directive needs a restart; the line names those that changed.
    private func reload() {
        let logger = context.logger
        do {
            try ProxyLogging.reopen()
        } catch {
            logger.warning("SIGHUP: the log file could not be reopened; still writing the old one", metadata: ["error": "\(error)"])
        }
        guard let reloadConfiguration else {
            logger.notice("SIGHUP received: log file reopened")
            return
        }
        do {
            let fresh = try reloadConfiguration()
            ProxyLogging.setLevel(fresh.logLevel)
            let ignored = ConfigDirective.all
                .filter { $0.name != "loglevel" && $0.currentValue(in: fresh) != $0.currentValue(in: context.config) }
                .map(\.name)
            logger.notice("SIGHUP received: log file reopened, loglevel reloaded", metadata: [
                "loglevel": "\(fresh.logLevel.rawValue)",
                "changed_but_need_restart": "\(ignored.isEmpty ? "none" : ignored.joined(separator: ","))"])
        } catch {
            logger.warning("SIGHUP received: log file reopened; the configuration could not be read again, loglevel unchanged",
                           metadata: ["error": "\(error)"])
        }
    }
}
