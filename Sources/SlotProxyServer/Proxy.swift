// Starts and stops slotproxy: raises the open-file limit (lowering maxclients when it
// cannot), binds the listeners (failing fast if the port is taken),
// asks the cluster for its topology once before serving, starts the topology thread and
// one thread per worker, then takes signals on the calling thread (sigtimedwait: no work
// ever runs in a signal handler):
//   SIGTERM/SIGINT ─▶ every worker drains through its own loop ─▶ all stopped ─▶ return (exit 0)
//   SIGHUP         ─▶ reopen the log file, reload loglevel

import CLibevent
import Glibc
import Logging
import SlotProxyCore

public final class Proxy {
    private let context: ProxyContext
    /// The admin HTTP endpoint (/metrics, /healthz, /readyz), when metrics-port is set.
    private let admin: AdminServer?

    /// The version `--version`, the start line and INFO report.
    public static let version = "0.1.0"

    /// Reads the configuration again (same file, same command line) for SIGHUP; nil: SIGHUP
    /// only reopens the log file.
    public var reloadConfiguration: (() throws -> ProxyConfig)?

    /// Prepares the proxy; throws when a listener cannot be bound.
    public init(config: ProxyConfig, logger: Logger) throws {
        ProcessMemory.configure()  // before any libevent call and any other thread
        evthread_use_pthreads()
        signal(SIGPIPE, SIG_IGN)
        var config = config
        config.maxClients = Self.raiseOpenFileLimit(maxClients: config.maxClients, threads: config.threads,
                                                    logger: logger)
        let initial = ClusterView(generation: 0, slotMap: SlotMap(), commands: CommandTable.snapshot,
                                  resolved: [:], redisVersion: "7.0.0")
        let context = ProxyContext(config: config, logger: logger, store: ClusterViewStore(initial))
        self.context = context
        context.topology = TopologyManager(context: context)
        context.workers = try (0..<config.threads).map { try Worker(index: $0, context: context) }
        admin = config.metricsPort == 0 ? nil
            : try AdminServer(context: context, host: config.metricsBind, port: config.metricsPort)
        if !config.unixSocket.isEmpty {
            context.unixListener = try UnixListener(path: config.unixSocket, permissions: config.unixSocketPerm,
                                                    backlog: Int32(config.tcpBacklog))
        }
    }

    /// Raises the soft open-file limit to the hard limit, so a flood of clients (and their own
    /// node connections) finds descriptors; returns the `maxclients` that fits under the limit
    /// obtained, lowered with a warning when it falls short, as Redis does.
    static func raiseOpenFileLimit(maxClients: Int, threads: Int, logger: Logger) -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return maxClients }
        let original = limit.rlim_cur
        let wanted = rlim_t(FileDescriptorBudget.wanted(maxClients: maxClients, threads: threads))
        if limit.rlim_cur < limit.rlim_max {
            // RLIM_INFINITY (all ones) is refused for descriptors (past fs.nr_open): ask for what is needed.
            var raised = limit
            raised.rlim_cur = limit.rlim_max == rlim_t.max ? max(wanted, limit.rlim_cur) : limit.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) != 0 && raised.rlim_cur > wanted && wanted > original {
                raised.rlim_cur = wanted
                _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised)
            }
            _ = getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
            if limit.rlim_cur > original {
                logger.notice("raised the open-file limit", metadata: [
                    "from": "\(original)", "to": "\(limit.rlim_cur)"])
            }
        }
        let current = limit.rlim_cur > rlim_t(Int.max) ? Int.max : Int(limit.rlim_cur)
        let fitting = FileDescriptorBudget.maxClients(maxClients, fittingUnder: current, threads: threads)
        if fitting < maxClients {
            logger.warning("open-file limit too low for maxclients: maxclients lowered; raise 'ulimit -n' (the hard limit) to serve more", metadata: [
                "maxclients_requested": "\(maxClients)", "maxclients": "\(fitting)",
                "open_file_limit": "\(current)", "hard_limit": "\(limit.rlim_max)",
                "needed": "\(wanted)",
            ])
        }
        return fitting
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
        // Counts the worker threads still running.
        let finished = Latch(count: context.workers.count)
        for worker in context.workers {
            OSThread.start(name: "worker-\(worker.index)") { [finished] in
                worker.run()
                finished.countDown()
            }
        }
        admin?.start()
        let view = context.store.current()
        logger.notice("slotproxy \(Self.version) ready", metadata: [
            "listening": "\(context.workers.first?.listeningAddresses.joined(separator: ",") ?? "")",
            "unixsocket": "\(config.unixSocket.isEmpty ? "none" : config.unixSocket)",
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
                    context.unixListener?.removeFile()
                    for worker in context.workers { worker.beginShutdown() }
                } else {
                    logger.warning("\(name) received again: stopping now", metadata: ["clients": "\(context.connectedClients)"])
                    for worker in context.workers { worker.stop() }
                }
            default:
                break
            }
            guard let started = shutdownStarted else { continue }
            if finished.wait(timeout: 0) { break }
            // The workers keep their own deadline; this one only guards against a stuck loop.
            if MonotonicClock.seconds() - started > Double(config.shutdownTimeout) + 5 {
                logger.warning("workers did not stop in time: exiting anyway")
                break
            }
        }
        admin?.stop()
        _ = admin?.join(timeout: 5)
        context.topology?.stop()
        for worker in context.workers { worker.stop() }  // only those past the drain deadline still run
        let workersStopped = finished.wait(timeout: 5)
        let topologyStopped = context.topology?.join(timeout: 5) ?? true
        if workersStopped { context.unixListener?.close() }  // its file went when the shutdown began
        if workersStopped && topologyStopped {
            // Nothing runs any more: break the context <-> worker and context <-> topology
            // manager cycles, so everything is freed (LeakSanitizer checks at exit).
            context.workers = []
            context.topology = nil
        }
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
