// One worker = one thread, one libevent event_base, its own listening sockets
// (SO_REUSEPORT: the kernel spreads clients over workers), its own client sessions and its
// own backend connections. Nothing here is shared with another worker, so nothing locks;
// the one exception is the `unixsocket` listener, which every worker watches and accepts
// from (UnixListener).
//
// The loop runs one libevent iteration (read callbacks parse requests and queue them on
// backend connections; backend callbacks queue replies on clients), then flushes every
// connection that got bytes: requests from many clients bound for one primary leave in one
// write, and a pipelining client gets all its ready replies in one write (waiting up to 1 ms
// for the rest of them while they are in flight, see `flushClients`).
//
//   loop { event_base_loop(ONCE, its sleep cut to 1 ms while client writes wait) → callbacks
//          mark connections dirty → flush dirty backends, then clients }
//
// A new cluster view (slot map + command table) published by the topology thread is
// adopted between iterations; the topology thread wakes the loop with `wake()`.
//
// Shutdown (SIGTERM/SIGINT, taken by the signal thread) reaches the loop through its own
// event (`beginShutdown()` → event_active): the loop closes its listeners, keeps serving
// the clients it has, closes each once it is owed nothing, and ends when none is left or at
// the `shutdown-timeout` deadline.

import CLibevent
import Glibc
import Logging
import SlotProxyCore
import Synchronization

final class Worker {
    let index: Int
    let context: ProxyContext
    let base: OpaquePointer
    var logger: Logger { context.logger }

    /// The cluster as this worker routes it. `slotMap` starts as the view's and is patched
    /// in place by MOVED replies until the next view arrives.
    private(set) var view: ClusterView
    /// `view.commands` for the request path, unretained (`view` keeps it alive): reading it
    /// through `view` would copy the whole view, a retain and release of each of its
    /// references, on every request.
    private(set) var commandTable: Unmanaged<CommandTable>
    var slotMap: SlotMap
    private var viewGeneration: Int

    let backends: BackendPool
    let stats: WorkerStats
    /// Splits cross-slot requests; reused for every one (ClientSession+FanOut).
    let splitPlanner = SplitPlanner()
    /// Finished merges kept for reuse, and the buffer merged replies are written into.
    var merges = MergePool()
    var mergeOutput: [UInt8] = []
    /// Backend connection states: built each tick in the scratch, published when they change.
    var linkStateScratch: [BackendLinkState] = []
    var publishedLinkStates: [BackendLinkState] = []
    /// Settings read on the request path, copied once (reading `context.config` copies the
    /// whole configuration).
    let readFrom: ReadFrom
    let failoverHoldSeconds: Double
    let clientQueryBufferLimit: Int
    /// The request parser's limits (proto-max-bulk-len, proto-max-multibulk-len, proto-inline-max-size).
    let protoMaxBulkLen: Int
    let protoMaxMultibulkLen: Int
    let protoInlineMaxSize: Int
    /// client-output-buffer-limit, and the pending reply bytes at which each class of client
    /// stops being read from (ClientSession.checkOutput).
    let outputLimits: ClientOutputBufferLimits
    let normalPauseBytes: Int
    let pubsubPauseBytes: Int
    /// backend-max-inflight (Int.max for 0: no limit), and the depth at which paused clients resume.
    let backendMaxInflight: Int
    let backendResumeInflight: Int
    /// backend-timeout-ms and connect-timeout-ms.
    let backendTimeoutMs: Int
    let connectTimeoutMs: Int
    /// timeout: idle seconds before a client is closed (0: never).
    let idleTimeout: Int
    private var clients: [ObjectIdentifier: ClientSession] = [:]
    var clientCount: Int { clients.count }
    /// When to give freed memory back to the system (after a burst of clients left).
    private var memoryTrim = MemoryTrimPolicy()

    /// Shared read buffer: a connection reads here and keeps only an incomplete tail.
    let scratch: UnsafeMutablePointer<UInt8>
    let scratchSize = 64 * 1024

    private var dirtyClients: [ClientSession] = []
    private var dirtyBackends: [BackendConnection] = []
    /// Clients whose ready replies wait a loop iteration for more of theirs (`flushClients`).
    private var deferredClients: [ClientSession] = []
    /// A client's ready replies wait for the rest only while they are fewer bytes than this,
    /// while node replies keep arriving, and for at most `maxDeferNanos` (see docs/PERFORMANCE.md).
    static let deferWriteBelowBytes = 64 * 1024
    static let maxDeferNanos: UInt64 = 1_000_000
    /// Set by every node connection's read: a loop iteration that brought no node reply ends
    /// every wait, since the replies waited for could only have come that way.
    var nodeRepliesArrived = false
    /// Bounds the loop's sleep while some clients' writes wait (one-shot, `maxDeferNanos`).
    private var deferTimer: OpaquePointer?
    /// The next slow log entry's arguments buffer (handed back by the ring), and what writes
    /// the arguments into it (Worker+Metrics `logSlow`).
    var slowlogBuffer: [UInt8] = []
    let slowlogWriter = SlowLogWriter()
    private var listenEvents: [OpaquePointer] = []
    /// This worker's own TCP listeners (closed by it); the shared Unix one is not among them.
    private var listenFDs: [Int32] = []
    /// The shared `unixsocket` listener's descriptor, -1 without one: its clients are not TCP.
    private var unixListenFD: Int32 = -1
    /// What the listeners are bound to, as host:port ([host]:port for IPv6).
    private(set) var listeningAddresses: [String] = []
    /// Activated by other threads: a new view to adopt; a shutdown request (see init).
    private var wakeEvent: OpaquePointer?
    private var shutdownEvent: OpaquePointer?
    private var tickEvent: OpaquePointer?
    /// Cleared by `stop()` or the end of a drain; read by the loop (atomic: stop() may come
    /// from another thread).
    private let running = Atomic<Bool>(true)
    /// Written by the signal thread, read by the loop in `onShutdownRequest`.
    private let shutdownPhase = Atomic<Int>(ShutdownPhase.serving)
    /// Set once the loop has started draining; `drainDeadline` is when it stops waiting.
    private(set) var draining = false
    private var drainDeadline = 0.0
    /// Seconds since the worker started, advanced by the 1 s tick (idle timeouts).
    private(set) var tick = 0
    private var anyPrimaryCursor = 0
    private var replicaCursor = 0
    /// Clients with shard channels to subscribe again (ClientSession+Resubscribe).
    private var resubscribing: [ObjectIdentifier: ClientSession] = [:]
    /// Connections kept for the next blocking commands, by node.
    private var idleBlocking: [NodeAddress: [BackendConnection]] = [:]
    /// The loop's clock (monotonic seconds), read once per iteration.
    private(set) var now = MonotonicClock.coarseSeconds()
    private var held = HoldQueue<HeldRequest>()
    /// Paused clients to read from again, resumed between iterations (never from inside a
    /// callback that is walking another connection's buffers).
    private var pendingResumes: [(client: ClientSession, reason: ClientSession.PauseReason)] = []
    /// The fine clock (monotonic ns), read once per read callback and tick, not per request:
    /// command durations and backend latencies are measured against it (Worker+Metrics).
    var clock: UInt64 = MonotonicClock.nanoseconds()
    /// slowlog-log-slower-than in microseconds; Int.max when the slow log is off.
    let slowlogThreshold: Int
    /// Per `NameRegistry.commands` number: `CommandTiming` bits (blocking, skip_slowlog).
    var commandTiming: [UInt8] = []
    /// Error prefixes this worker has seen, with their `NameRegistry.errors` numbers.
    var errorKinds: [(prefix: [UInt8], index: Int)] = []
    private var maintenanceEvent: OpaquePointer?
    private var maintenanceTicks = 0
    /// Listening paused after accept() failed for want of descriptors (pauseAccepting).
    private var acceptPaused = false
    private var lastAcceptWarning = 0.0

    init(index: Int, context: ProxyContext) throws {
        self.index = index
        self.context = context
        self.readFrom = context.config.readFrom
        self.failoverHoldSeconds = Double(context.config.failoverHoldMs) / 1000
        let config = context.config
        self.clientQueryBufferLimit = config.clientQueryBufferLimit
        self.protoMaxBulkLen = config.protoMaxBulkLen
        self.protoMaxMultibulkLen = config.protoMaxMultibulkLen
        self.protoInlineMaxSize = config.protoInlineMaxSize
        self.outputLimits = config.clientOutputBufferLimits
        self.normalPauseBytes = Self.pauseBytes(config.clientOutputBufferLimits.normal)
        self.pubsubPauseBytes = Self.pauseBytes(config.clientOutputBufferLimits.pubsub)
        self.backendMaxInflight = config.backendMaxInflight > 0 ? config.backendMaxInflight : Int.max
        self.backendResumeInflight = config.backendMaxInflight / 2
        self.backendTimeoutMs = config.backendTimeoutMs
        self.connectTimeoutMs = config.connectTimeoutMs
        self.idleTimeout = config.timeout
        self.stats = WorkerStats(slowlogCapacity: config.slowlogMaxLen)
        self.slowlogThreshold = config.slowlogLogSlowerThan < 0 ? Int.max : config.slowlogLogSlowerThan
        guard let base = event_base_new() else { throw SocketError("event_base_new failed") }
        self.base = base
        let view = context.store.current()
        self.view = view
        self.commandTable = Unmanaged.passUnretained(view.commands)
        self.slotMap = view.slotMap
        self.viewGeneration = view.generation
        self.scratch = .allocate(capacity: scratchSize)
        self.commandTiming = Self.commandTiming(view.commands)
        self.backends = BackendPool()
        backends.worker = self
        slotMapChanged()
        for address in context.config.bind {
            do {
                listenFDs.append(try Socket.listen(host: address.host, port: context.config.port,
                                                   backlog: Int32(context.config.tcpBacklog)))
                let host = address.host.contains(":") ? "[\(address.host)]" : address.host
                listeningAddresses.append("\(host):\(context.config.port)")
            } catch where address.isOptional {
                // `-::1`: skip an address this machine does not have, as Redis does.
                if index == 0 { context.logger.notice("optional bind address skipped", metadata: ["address": "\(address.host)", "error": "\(error)"]) }
            }
        }
        guard !listenFDs.isEmpty else { throw SocketError("no address to listen on") }
        // The events other threads activate (wake: a new view; shutdown) are made before the
        // worker's thread starts and freed only in deinit, once every thread has stopped: the
        // topology and main threads may activate them at any time, also after this loop ended.
        let me = Unmanaged.passUnretained(self).toOpaque()
        wakeEvent = event_new(base, -1, 0, workerWakeCallback, me)
        shutdownEvent = event_new(base, -1, 0, workerShutdownCallback, me)
    }

    deinit {
        // Freed here, not when the loop ends: another thread may call wake() until then.
        if let e = wakeEvent { event_free(e) }
        if let e = shutdownEvent { event_free(e) }
        event_base_free(base)
        scratch.deallocate()
    }

    /// Registers the listeners and timers, then runs the loop until `stop()`.
    func run() {
        let me = Unmanaged.passUnretained(self).toOpaque()
        unixListenFD = context.unixListener?.fd ?? -1
        for fd in listenFDs + (unixListenFD >= 0 ? [unixListenFD] : []) {
            let ev = event_new(base, fd, Int16(EV_READ | EV_PERSIST), workerAcceptCallback, me)!
            event_add(ev, nil)
            listenEvents.append(ev)
        }
        tickEvent = event_new(base, -1, Int16(EV_PERSIST), workerTickCallback, me)
        var tenth = timeval(tv_sec: 0, tv_usec: 100_000)
        event_add(tickEvent, &tenth)
        deferTimer = event_new(base, -1, 0, workerDeferTimerCallback, nil)
        var deferLimit = timeval(tv_sec: 0, tv_usec: Int(Worker.maxDeferNanos / 1000))
        while running.load(ordering: .acquiring) {
            if deferredClients.isEmpty {
                event_base_loop(base, EVLOOP_ONCE)
            } else {
                // Some clients' writes wait for replies in flight: sleep until they (or
                // anything else) come, but no longer than a deferred write may wait.
                event_add(deferTimer, &deferLimit)
                event_base_loop(base, EVLOOP_ONCE)
                event_del(deferTimer)
            }
            now = MonotonicClock.coarseSeconds()
            flush()
            if draining { drainStep() }
        }
        closeListeners()
        for client in Array(clients.values) { client.close() }
        for request in held.removeAll() where !request.client.closed {
            request.client.deliverError(request.sequence, part: request.part, "ERR slotproxy: shutting down")
        }
        backends.closeAll()
        for links in idleBlocking.values { for link in links { link.close() } }
        if let e = tickEvent { event_free(e) }
        if let e = deferTimer { event_free(e) }
        context.sessions.workerStopped(index)
    }

    /// Asks the loop to adopt the newest view (any thread).
    func wake() {
        if let e = wakeEvent { event_active(e, 0, 0) }
    }

    private enum ShutdownPhase {
        static let serving = 0
        static let draining = 1
        static let stopping = 2
    }

    /// Starts a graceful shutdown (any thread): no new clients; each client is closed once
    /// it is owed no reply; the loop ends when no client is left or `shutdown-timeout`
    /// seconds have passed.
    func beginShutdown() {
        if shutdownPhase.compareExchange(expected: ShutdownPhase.serving, desired: ShutdownPhase.draining,
                                         ordering: .acquiringAndReleasing).exchanged {
            if let e = shutdownEvent { event_active(e, 0, 0) }
        }
    }

    /// Stops the loop at once (any thread): clients are closed whatever they are owed.
    func stop() {
        shutdownPhase.store(ShutdownPhase.stopping, ordering: .releasing)
        running.store(false, ordering: .releasing)
        if let e = shutdownEvent { event_active(e, 0, 0) }
    }

    fileprivate func onShutdownRequest() {
        switch shutdownPhase.load(ordering: .acquiring) {
        case ShutdownPhase.stopping:
            running.store(false, ordering: .releasing)
        case ShutdownPhase.draining where !draining:
            draining = true
            drainDeadline = now + Double(context.config.shutdownTimeout)
            closeListeners()
            drainStep()
        default:
            break
        }
    }

    /// Closing the listening sockets refuses new connections (and resets those the kernel
    /// had queued but this worker had not accepted yet). The Unix listener is shared: this
    /// worker only stops watching it (Proxy removes its file and closes it).
    private func closeListeners() {
        for ev in listenEvents { event_free(ev) }
        for fd in listenFDs { close(fd) }
        listenEvents = []
        listenFDs = []
    }

    /// While draining, after each iteration: closes the clients owed nothing; ends the loop
    /// when none is left, or closes the rest at the deadline.
    private func drainStep() {
        if now >= drainDeadline {
            let owed = clients.count
            if owed > 0 {
                logger.warning("shutdown-timeout reached: closing clients still owed replies",
                               metadata: ["worker": "\(index)", "clients": "\(owed)"])
            }
            running.store(false, ordering: .releasing)
            return
        }
        for client in Array(clients.values) where client.isQuiet {
            client.close()
        }
        if clients.isEmpty { running.store(false, ordering: .releasing) }
    }

    // MARK: - Events

    fileprivate func acceptClients(_ listenFD: Int32) {
        for _ in 0..<64 {
            let fd = slotproxy_accept(listenFD)
            if fd < 0 {
                let error = errno
                if error == EMFILE || error == ENFILE || error == ENOBUFS || error == ENOMEM {
                    pauseAccepting(error)
                }
                return
            }
            if listenFD != unixListenFD {
                Socket.configureStream(fd, keepAliveSeconds: context.config.tcpKeepalive)
            }
            stats.connectionsReceived.add(1)
            if !context.admitClient() {
                stats.connectionsRejected.add(1)
                let msg: StaticString = "-ERR max number of clients reached\r\n"
                _ = write(fd, msg.utf8Start, msg.utf8CodeUnitCount)
                close(fd)
                clientRefused()
                continue
            }
            let client = ClientSession(worker: self, fd: fd, id: context.nextClientID())
            clients[ObjectIdentifier(client)] = client
            memoryTrim.noteClients(clients.count)
            client.start()
        }
    }

    /// One log line when maxclients starts refusing clients, then at most one every 10 s
    /// with the count, so a flood of connections does not become a flood of log lines.
    private func clientRefused() {
        guard let refused = context.clientRefused(nowMs: Int((now - context.startedAt) * 1000)) else { return }
        logger.warning("refusing clients: maxclients reached", metadata: [
            "maxclients": "\(context.config.maxClients)", "refused": "\(refused)"])
    }

    /// Out of file descriptors (or kernel memory): the pending connection stays in the
    /// backlog and the listener stays readable, so accepting again at once would spin the
    /// loop. Listening pauses until the next 100 ms tick instead, and says so at most every
    /// 10 s.
    private func pauseAccepting(_ error: Int32) {
        guard !acceptPaused else { return }
        acceptPaused = true
        for ev in listenEvents { event_del(ev) }
        if lastAcceptWarning == 0 || now - lastAcceptWarning >= 10 {
            lastAcceptWarning = now
            logger.warning("cannot accept client connections: pausing the listener", metadata: [
                "error": "\(String(cString: strerror(error)))", "worker": "\(index)",
                "clients": "\(clients.count)",
            ])
        }
    }

    private func resumeAccepting() {
        guard acceptPaused else { return }
        acceptPaused = false
        for ev in listenEvents { event_add(ev, nil) }
    }

    fileprivate func adoptNewestView() {
        let generation = context.store.generation
        guard generation != viewGeneration else { return }
        let newView = context.store.current()
        if newView.commands !== view.commands { commandTiming = Self.commandTiming(newView.commands) }
        view = newView
        commandTable = Unmanaged.passUnretained(newView.commands)
        slotMap = newView.slotMap
        viewGeneration = newView.generation
        slotMapChanged()
        releaseHeld()
    }

    /// Primaries that own at least one slot, in the order of their lowest slot: the targets
    /// of a fan-out.
    private(set) var activePrimaries: [UInt16] = []

    private func slotMapChanged() {
        backends.adopt(slotMap)
        activePrimaries = (0..<slotMap.primaries.count).compactMap { i -> (UInt16, UInt16)? in
            slotMap.firstSlot(ownedBy: UInt16(i)).map { (UInt16(i), $0.rawValue) }
        }.sorted { $0.1 < $1.1 }.map(\.0)
    }

    /// Every 100 ms: held requests, backend timeouts; every second: idle clients, and freed
    /// memory returned after a burst of clients left.
    fileprivate func onTick() {
        now = MonotonicClock.coarseSeconds()
        clock = MonotonicClock.nanoseconds()
        if !draining { resumeAccepting() }
        adoptNewestView()
        releaseHeld()
        warmPrimaries()
        publishBackendStates()
        if !resubscribing.isEmpty {
            for (id, client) in resubscribing where client.retryResubscribe() { resubscribing[id] = nil }
        }
        backends.checkTimeouts(now: now, timeout: Double(backendTimeoutMs) / 1000,
                               connectTimeout: Double(connectTimeoutMs) / 1000)
        maintenanceTicks += 1
        guard maintenanceTicks % 10 == 0 else { return }
        tick += 1
        if idleTimeout > 0 {
            // Nothing during the last `timeout` whole ticks: idle for at least `timeout` seconds
            // (and less than one more), as Redis closes a client idle for more than `timeout`.
            for client in Array(clients.values) where client.isIdle(since: tick - idleTimeout) {
                logger.info("closing idle client", metadata: ["id": "\(client.id)", "timeout": "\(idleTimeout)"])
                client.close()
            }
        }
        if memoryTrim.shouldTrim(clients: clients.count) { returnFreedMemory() }
    }

    /// Clients left: shrink the tables sized for them and the node connections' buffers their
    /// requests grew, then return every free page.
    private func returnFreedMemory() {
        clients = clients.compacted()
        context.sessions.compact()
        backends.releaseIdleMemory()
        ProcessMemory.trim()
        logger.debug("returned freed memory to the system", metadata: ["clients": "\(clients.count)"])
    }

    // MARK: - Connection bookkeeping

    func clientClosed(_ client: ClientSession) {
        if clients.removeValue(forKey: ObjectIdentifier(client)) != nil {
            context.releaseClient()
        }
    }

    @inline(__always)
    func markDirty(_ client: ClientSession) { dirtyClients.append(client) }

    @inline(__always)
    func markDirty(_ backend: BackendConnection) { dirtyBackends.append(backend) }

    /// Reads from `client` again once this iteration's callbacks are done (see `flush`).
    func scheduleResume(_ client: ClientSession, _ reason: ClientSession.PauseReason) {
        pendingResumes.append((client, reason))
    }

    private func flush() {
        repeat {
            if !pendingResumes.isEmpty {
                // Resumed clients parse what they buffered meanwhile: their requests join
                // this round's writes.
                let resumes = pendingResumes
                pendingResumes.removeAll(keepingCapacity: true)
                for (client, reason) in resumes { client.resumeReading(reason) }
            }
            if !dirtyBackends.isEmpty {
                for b in dirtyBackends { b.flush() }
                dirtyBackends.removeAll(keepingCapacity: true)
            }
            flushClients()
        } while !pendingResumes.isEmpty
        nodeRepliesArrived = false
    }

    /// Writes the replies clients got this iteration. A pipelining client whose requests went
    /// to several primaries would otherwise get one write per primary's reply batch (and
    /// wake up for each): while more of its replies are in flight, its ready ones wait, so
    /// that they mostly leave in one write, the way Redis answers one read's requests
    /// together. They wait only while node replies keep arriving and for at most
    /// `maxDeferNanos`; meanwhile the loop sleeps no longer than that (`run`), so a reply that
    /// takes long (a blocked command) holds the ready ones up for at most 1 ms.
    private func flushClients() {
        // By index: a for-in over the array would keep its buffer and make the first store a copy.
        var kept = 0
        for i in deferredClients.indices {
            let client = deferredClients[i]
            if writeOrWait(client) {
                deferredClients[kept] = client
                kept += 1
            }
        }
        deferredClients.removeLast(deferredClients.count - kept)
        for client in dirtyClients {
            if writeOrWait(client) { deferredClients.append(client) }
        }
        dirtyClients.removeAll(keepingCapacity: true)
    }

    /// Writes `client`'s ready replies, or, when they may wait another iteration, counts it
    /// and returns true.
    @inline(__always)
    private func writeOrWait(_ client: ClientSession) -> Bool {
        guard nodeRepliesArrived && client.canDeferWrite else {
            client.flush()
            return false
        }
        if client.deferredSince == 0 {
            client.deferredSince = clock
        } else if clock &- client.deferredSince >= Worker.maxDeferNanos {
            client.flush()
            return false
        }
        return true
    }

    /// The pending reply bytes at which a client of a class stops being read from: 1 MB, or
    /// half the class's hard limit when that is lower (so backpressure comes before the cut).
    static func pauseBytes(_ limit: ClientOutputBufferLimit) -> Int {
        let oneMB = 1 << 20
        return limit.hardBytes > 0 ? max(1, min(oneMB, limit.hardBytes / 2)) : oneMB
    }

    /// "primary", "replica" or "node": how error texts name a node of the current slot map.
    func role(of address: NodeAddress) -> String {
        if slotMap.primaries.contains(address) { return "primary" }
        return slotMap.replicas.contains { $0.contains(address) } ? "replica" : "node"
    }

    // MARK: - Routing helpers

    /// A primary for keyless commands, round robin over those that own slots (a failed
    /// primary stays listed as a slotless shard until it returns as a replica).
    func anyPrimaryIndex() -> UInt16? {
        let n = activePrimaries.count
        guard n > 0 else { return nil }
        anyPrimaryCursor = (anyPrimaryCursor + 1) % n
        return activePrimaries[anyPrimaryCursor]
    }

    /// Where a node is, without blocking: the topology thread's resolution, or a numeric host.
    func socketAddress(for address: NodeAddress) -> SocketAddress? {
        view.resolved[address] ?? SocketAddress.numeric(host: address.host, port: address.port)
    }

    /// Follows a MOVED or ASK reply: the request goes to the named node, behind ASKING for ASK.
    func redirect(_ redirection: Redirection, request: [UInt8], client: ClientSession,
                  entry: BackendConnection.InFlight, from backend: BackendConnection) {
        if case .ask = redirection { stats.askRedirections.add(1) } else { stats.movedRedirections.add(1) }
        var entry = entry
        entry.hops &+= 1
        guard entry.hops <= ProxyContext.maxRedirections else {
            client.deliverError(entry.sequence, part: entry.part,
                                "ERR slotproxy: too many redirections for this request (last: \(redirection))")
            return
        }
        let redirection = redirection.hasUnknownHost ? redirection.resolvingUnknownHost(backend.address.host) : redirection
        let target: BackendConnection
        switch redirection {
        case .moved(let slot, let address):
            let nodeIndex = slotMap.assign(slot, to: address)
            slotMapChanged()
            context.topology?.requestRefresh()
            target = backends.connection(node: nodeIndex, protocolVersion: backend.protocolVersion)
        case .ask(_, let address):
            target = backends.connection(address: address, protocolVersion: backend.protocolVersion)
            guard target.enqueueAsking() else {
                hold(request, client: client, entry: entry, protocolVersion: backend.protocolVersion, notBefore: 0)
                return
            }
        }
        let sent = request.withUnsafeBytes {
            target.enqueue($0, client: client, sequence: entry.sequence, hops: entry.hops, part: entry.part,
                           slot: entry.slot, idempotent: entry.idempotent, attempts: entry.attempts,
                           readOnly: entry.readOnly, leadingReplies: entry.leadingReplies, firstHeld: entry.firstHeld)
        }
        if !sent { hold(request, client: client, entry: entry, protocolVersion: backend.protocolVersion, notBefore: 0) }
    }

    // MARK: - Sending, holding through failovers

    /// The one way requests leave for a node: to the owner of `slot` (any primary for
    /// `SlotMap.unassigned`) or, for reads with `read-from`, one of its replicas; held while
    /// no suitable node is reachable.
    @inline(__always)
    func send(_ frame: UnsafeRawBufferPointer, client: ClientSession, sequence: UInt64, part: Int32 = -1,
              slot: UInt16, idempotent: Bool, protocolVersion: Int, attempts: UInt8 = 0, readOnly: Bool = false,
              leadingReplies: Int32 = 0, firstHeld: Double = 0) {
        // Built only when the request has to wait: the normal path takes no extra reference.
        func holdIt() {
            let entry = BackendConnection.InFlight(client: client, sequence: sequence, length: frame.count, hops: 0,
                                                   part: part, slot: slot, idempotent: idempotent, attempts: attempts,
                                                   readOnly: readOnly, leadingReplies: leadingReplies, firstHeld: firstHeld)
            hold(Array(frame), client: client, entry: entry, protocolVersion: protocolVersion, notBefore: 0)
        }
        switch target(slot: slot, readOnly: readOnly, protocolVersion: protocolVersion) {
        case .connection(let link):
            let queued = link._withUnsafeGuaranteedRef {
                $0.enqueue(frame, client: client, sequence: sequence, part: part, slot: slot, idempotent: idempotent,
                           attempts: attempts, readOnly: readOnly, leadingReplies: leadingReplies, firstHeld: firstHeld)
            }
            if !queued { holdIt() }
        case .unavailable:
            holdIt()
        case .error(let message):
            client.deliverError(sequence, part: part, message)
        }
    }

    enum Target {
        /// Unretained: the worker's BackendPool keeps every connection alive.
        case connection(Unmanaged<BackendConnection>)
        /// The right node is unreachable for now: hold the request.
        case unavailable
        case error(String)
    }

    /// Which connection serves a request for `slot` now.
    func target(slot: UInt16, readOnly: Bool, protocolVersion: Int) -> Target {
        guard let node = primary(for: slot) else {
            return .error(slotMap.primaries.isEmpty ? "CLUSTERDOWN The cluster is down" : "CLUSTERDOWN Hash slot not served")
        }
        if readOnly && readFrom != .primary {
            let replicas = slotMap.replicas[Int(node)]
            for i in 0..<replicas.count {
                let candidate = backends.connection(address: replicas[(replicaCursor &+ i) % replicas.count],
                                                    protocolVersion: protocolVersion)
                if !candidate.isDown(at: now) {
                    replicaCursor = replicaCursor &+ i &+ 1
                    return .connection(Unmanaged.passUnretained(candidate))
                }
            }
            // `replica` waits for one of the shard's replicas; a shard listing none (yet)
            // serves reads from its primary.
            if readFrom == .replica && !replicas.isEmpty {
                return .unavailable
            }
        }
        let link = backends.link(node: node, protocolVersion: protocolVersion)
        return link._withUnsafeGuaranteedRef { $0.isDown(at: now) } ? .unavailable : .connection(link)
    }

    @inline(__always)
    private func primary(for slot: UInt16) -> UInt16? {
        slot == SlotMap.unassigned ? anyPrimaryIndex() : slotMap.primaryIndex(for: HashSlot(rawValue: slot))
    }

    /// A request that cannot be sent now: it waits (in order) until its slot's primary is
    /// reachable again or a new primary takes over, up to `failover-hold-ms`.
    func hold(_ request: [UInt8], client: ClientSession, entry: BackendConnection.InFlight, protocolVersion: Int,
              notBefore: Double) {
        let holdSeconds = failoverHoldSeconds
        guard holdSeconds > 0 else {
            client.deliverError(entry.sequence, part: entry.part, holdExpiredError(entry.slot, readOnly: entry.readOnly))
            return
        }
        stats.heldRequests.add(1)
        let since = entry.firstHeld > 0 ? entry.firstHeld : now
        held.hold(HeldRequest(client: client, sequence: entry.sequence, part: entry.part, slot: entry.slot,
                              bytes: request, idempotent: entry.idempotent, protocolVersion: protocolVersion,
                              attempts: entry.attempts &+ (notBefore > 0 ? 1 : 0), readOnly: entry.readOnly,
                              leadingReplies: entry.leadingReplies, firstHeld: since),
                  deadline: since + holdSeconds, notBefore: notBefore)
        stats.heldNow.set(held.count)
        context.topology?.requestRefresh()
    }

    /// What a client gets when its request waited `failover-hold-ms` in vain: for the slot's
    /// primary, or, for a read with `read-from replica`, for one of its replicas (see `target`).
    func holdExpiredError(_ slot: UInt16, readOnly: Bool = false) -> String {
        guard slot != SlotMap.unassigned else {
            return "CLUSTERDOWN slotproxy: no primary could be reached within failover-hold-ms"
        }
        guard let index = slotMap.primaryIndex(for: HashSlot(rawValue: slot)) else {
            return "CLUSTERDOWN slotproxy: the primary for slot \(slot) could not be reached within failover-hold-ms"
        }
        let primary = slotMap.primaries[Int(index)]
        if readOnly && readFrom == .replica && !slotMap.replicas[Int(index)].isEmpty {
            return "CLUSTERDOWN slotproxy: no replica of \(primary) (slot \(slot)) could be reached within failover-hold-ms (read-from replica)"
        }
        return "CLUSTERDOWN slotproxy: the primary for slot \(slot) (\(primary)) could not be reached within failover-hold-ms"
    }

    /// Sends every held request whose primary is reachable now, in order; answers those past
    /// their deadline with an error.
    func releaseHeld() {
        guard !held.isEmpty else { return }
        defer { stats.heldNow.set(held.count) }
        let (ready, expired) = held.drain(now: now) { request in
            guard !request.client.closed else { return true }
            if case .unavailable = target(slot: request.slot, readOnly: request.readOnly,
                                          protocolVersion: request.protocolVersion) {
                return false
            }
            return true
        }
        for request in expired where !request.client.closed {
            request.client.deliverError(request.sequence, part: request.part,
                                        holdExpiredError(request.slot, readOnly: request.readOnly))
        }
        for request in ready where !request.client.closed {
            request.bytes.withUnsafeBytes {
                send($0, client: request.client, sequence: request.sequence, part: request.part, slot: request.slot,
                     idempotent: request.idempotent, protocolVersion: request.protocolVersion, attempts: request.attempts,
                     readOnly: request.readOnly, leadingReplies: request.leadingReplies, firstHeld: request.firstHeld)
            }
        }
        if !held.isEmpty { context.topology?.requestRefresh() }
    }

    func backendReconnected() {
        releaseHeld()
    }

    // MARK: - Connections for blocking commands

    /// A connection of its own for one blocking command, reused from the idle ones to that
    /// node when possible; nil when `max-blocking-clients` commands already wait.
    func checkoutBlockingConnection(to address: NodeAddress, protocolVersion: Int,
                                    for client: ClientSession) -> BackendConnection? {
        let limit = context.config.maxBlockingClients
        let now = context.blockedClients.wrappingAdd(1, ordering: .relaxed).newValue
        guard now <= limit else {
            context.blockedClients.wrappingSubtract(1, ordering: .relaxed)
            return nil
        }
        if var idle = idleBlocking[address], let i = idle.firstIndex(where: { $0.protocolVersion == protocolVersion }) {
            let link = idle.remove(at: i)
            idleBlocking[address] = idle
            link.owner = client
            return link
        }
        return BackendConnection(worker: self, address: address, protocolVersion: protocolVersion,
                                 kind: .dedicated, owner: client)
    }

    /// Takes back a blocking command's connection once its reply came: kept for reuse.
    func checkinBlockingConnection(_ link: BackendConnection) {
        releaseBlockingSlot()
        link.owner = nil
        guard link.state == .ready || link.state == .connecting else { return }
        var idle = idleBlocking[link.address] ?? []
        if idle.count < Self.idleBlockingPerNode {
            idle.append(link)
            idleBlocking[link.address] = idle
        } else {
            link.close()
        }
    }

    func releaseBlockingSlot() {
        context.blockedClients.wrappingSubtract(1, ordering: .relaxed)
    }

    static let idleBlockingPerNode = 16

    func needsResubscribe(_ client: ClientSession) {
        resubscribing[ObjectIdentifier(client)] = client
    }
}

/// A request waiting for its primary (see Worker.hold).
struct HeldRequest {
    let client: ClientSession
    let sequence: UInt64
    let part: Int32
    let slot: UInt16
    let bytes: [UInt8]
    let idempotent: Bool
    let protocolVersion: Int
    let attempts: UInt8
    let readOnly: Bool
    let leadingReplies: Int32
    let firstHeld: Double
}

private let workerAcceptCallback: event_callback_fn = { fd, _, ctx in
    Unmanaged<Worker>.fromOpaque(ctx!).takeUnretainedValue().acceptClients(fd)
}

private let workerWakeCallback: event_callback_fn = { _, _, ctx in
    Unmanaged<Worker>.fromOpaque(ctx!).takeUnretainedValue().adoptNewestView()
}

private let workerShutdownCallback: event_callback_fn = { _, _, ctx in
    Unmanaged<Worker>.fromOpaque(ctx!).takeUnretainedValue().onShutdownRequest()
}

/// Only ends the loop's sleep (`Worker.run`): the deferred writes are then flushed.
private let workerDeferTimerCallback: event_callback_fn = { _, _, _ in }

private let workerTickCallback: event_callback_fn = { _, _, ctx in
    Unmanaged<Worker>.fromOpaque(ctx!).takeUnretainedValue().onTick()
}
