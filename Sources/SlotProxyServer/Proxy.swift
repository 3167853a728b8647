// Starts and stops slotproxy: raises the open-file limit (lowering maxclients when it
// cannot), binds the listeners (failing fast if the port is taken),
// asks the cluster for its topology once before serving, starts the topology thread and
// one thread per worker, then waits for a signal on the calling thread.

import CLibevent
import Foundation
import Glibc
import Logging
import SlotProxyCore

public final class Proxy {
    private let context: ProxyContext
    private var workerThreads: [Thread] = []
    private let finished = DispatchGroup()

    /// Prepares the proxy; throws when a listener cannot be bound.
    public init(config: ProxyConfig, logger: Logger) throws {
        evthread_use_pthreads()
        signal(SIGPIPE, SIG_IGN)
        var config = config
        config.maxClients = Self.raiseOpenFileLimit(maxClients: config.maxClients, threads: config.threads,
                                                    logger: logger)
        let initial = ClusterView(generation: 0, slotMap: SlotMap(), commands: CommandTable.snapshot,
                                  resolved: [:], redisVersion: "7.0.0")
        context = ProxyContext(config: config, logger: logger, store: ClusterViewStore(initial))
        context.topology = TopologyManager(context: context)
        context.workers = try (0..<config.threads).map { try Worker(index: $0, context: context) }
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

    /// Serves until SIGINT or SIGTERM, then stops every thread and returns.
    public func run() {
        let logger = context.logger
        // Block the signals in every thread; this thread collects them with sigwait.
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
        logger.notice("slotproxy ready", metadata: [
            "port": "\(context.config.port)", "bind": "\(context.config.bind)",
            "threads": "\(context.config.threads)", "pid": "\(getpid())",
        ])
        while true {
            var received: Int32 = 0
            sigwait(&signals, &received)
            if received == SIGHUP {
                logger.notice("SIGHUP received")
                continue
            }
            logger.notice("shutting down", metadata: ["signal": "\(received)"])
            break
        }
        context.topology?.stop()
        for worker in context.workers { worker.stop() }
        let workersStopped = finished.wait(timeout: .now() + 5) == .success
        let topologyStopped = context.topology?.join(timeout: 5) ?? true
        if workersStopped && topologyStopped {
            // Nothing runs any more: break the context <-> worker and context <-> topology
            // manager cycles, so everything is freed (LeakSanitizer checks at exit).
            context.workers = []
            context.topology = nil
        }
    }
}
