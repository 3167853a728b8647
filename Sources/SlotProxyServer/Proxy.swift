// Starts and stops slotproxy: binds the listeners (failing fast if the port is taken),
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
    /// The admin HTTP endpoint (/metrics, /healthz, /readyz), when metrics-port is set.
    private let admin: AdminServer?

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
        admin?.start()
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
        admin?.stop()
        context.topology?.stop()
        for worker in context.workers { worker.stop() }
        _ = finished.wait(timeout: .now() + 5)
    }
}
