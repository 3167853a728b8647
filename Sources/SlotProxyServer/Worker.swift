// One worker = one thread, one libevent event_base, its own listening sockets
// (SO_REUSEPORT: the kernel spreads clients over workers), its own client sessions and its
// own backend connections. Nothing here is shared with another worker, so nothing locks.
//
// The loop runs one libevent iteration (read callbacks parse requests and queue them on
// backend connections; backend callbacks queue replies on clients), then flushes every
// connection that got bytes: requests from many clients bound for one primary leave in one
// write, and a pipelining client gets all its ready replies in one write.
//
//   loop { event_base_loop(ONCE) → callbacks mark connections dirty → flush dirty backends,
//          then dirty clients }
//
// A new cluster view (slot map + command table) published by the topology thread is
// adopted between iterations; the topology thread wakes the loop with `wake()`.

import CLibevent
import Glibc
import Logging
import SlotProxyCore

final class Worker {
    let index: Int
    let context: ProxyContext
    let base: OpaquePointer
    var logger: Logger { context.logger }

    /// The cluster as this worker routes it. `slotMap` starts as the view's and is patched
    /// in place by MOVED replies until the next view arrives.
    private(set) var view: ClusterView
    var slotMap: SlotMap
    private var viewGeneration: Int

    let backends: BackendPool
    let stats = WorkerStats()
    private var clients: [ObjectIdentifier: ClientSession] = [:]
    var clientCount: Int { clients.count }

    /// Shared read buffer: a connection reads here and keeps only an incomplete tail.
    let scratch: UnsafeMutablePointer<UInt8>
    let scratchSize = 64 * 1024

    private var dirtyClients: [ClientSession] = []
    private var dirtyBackends: [BackendConnection] = []
    private var listenEvents: [OpaquePointer] = []
    private var listenFDs: [Int32] = []
    private var wakeEvent: OpaquePointer?
    private var tickEvent: OpaquePointer?
    private var running = true
    /// Seconds since the worker started, advanced by the 1 s tick (idle timeouts).
    private(set) var tick = 0
    private var anyPrimaryCursor = 0

    init(index: Int, context: ProxyContext) throws {
        self.index = index
        self.context = context
        guard let base = event_base_new() else { throw SocketError("event_base_new failed") }
        self.base = base
        let view = context.store.current()
        self.view = view
        self.slotMap = view.slotMap
        self.viewGeneration = view.generation
        self.scratch = .allocate(capacity: scratchSize)
        self.backends = BackendPool()
        backends.worker = self
        slotMapChanged()
        for address in context.config.bind {
            do {
                listenFDs.append(try Socket.listen(host: address.host, port: context.config.port,
                                                   backlog: Int32(context.config.tcpBacklog)))
            } catch where address.isOptional {
                // `-::1`: skip an address this machine does not have, as Redis does.
                if index == 0 { context.logger.notice("optional bind address skipped", metadata: ["address": "\(address.host)", "error": "\(error)"]) }
            }
        }
        guard !listenFDs.isEmpty else { throw SocketError("no address to listen on") }
    }

    deinit {
        scratch.deallocate()
    }

    /// Registers the listeners and timers, then runs the loop until `stop()`.
    func run() {
        let me = Unmanaged.passUnretained(self).toOpaque()
        for fd in listenFDs {
            let ev = event_new(base, fd, Int16(EV_READ | EV_PERSIST), workerAcceptCallback, me)!
            event_add(ev, nil)
            listenEvents.append(ev)
        }
        wakeEvent = event_new(base, -1, 0, workerWakeCallback, me)
        tickEvent = event_new(base, -1, Int16(EV_PERSIST), workerTickCallback, me)
        var second = timeval(tv_sec: 1, tv_usec: 0)
        event_add(tickEvent, &second)
        while running {
            event_base_loop(base, EVLOOP_ONCE)
            flush()
        }
        for ev in listenEvents { event_free(ev) }
        for fd in listenFDs { close(fd) }
        for client in Array(clients.values) { client.close() }
        backends.closeAll()
        if let e = wakeEvent { event_free(e) }
        if let e = tickEvent { event_free(e) }
        event_base_free(base)
    }

    /// Asks the loop to adopt the newest view (any thread).
    func wake() {
        if let e = wakeEvent { event_active(e, 0, 0) }
    }

    /// Stops the loop (any thread).
    func stop() {
        running = false
        wake()
    }

    // MARK: - Events

    fileprivate func acceptClients(_ listenFD: Int32) {
        for _ in 0..<64 {
            let fd = slotproxy_accept(listenFD)
            if fd < 0 { return }
            Socket.configureStream(fd, keepAliveSeconds: context.config.tcpKeepalive)
            if !context.admitClient() {
                let msg: StaticString = "-ERR max number of clients reached\r\n"
                _ = write(fd, msg.utf8Start, msg.utf8CodeUnitCount)
                close(fd)
                continue
            }
            let client = ClientSession(worker: self, fd: fd, id: context.nextClientID())
            clients[ObjectIdentifier(client)] = client
            client.start()
        }
    }

    fileprivate func adoptNewestView() {
        let generation = context.store.generation
        guard generation != viewGeneration else { return }
        let newView = context.store.current()
        view = newView
        slotMap = newView.slotMap
        viewGeneration = newView.generation
        slotMapChanged()
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

    fileprivate func onTick() {
        tick += 1
        adoptNewestView()
        let timeout = context.config.timeout
        if timeout > 0 {
            for client in Array(clients.values) where client.isIdle(since: tick - timeout) {
                client.close()
            }
        }
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

    private func flush() {
        if !dirtyBackends.isEmpty {
            for b in dirtyBackends { b.flush() }
            dirtyBackends.removeAll(keepingCapacity: true)
        }
        if !dirtyClients.isEmpty {
            for c in dirtyClients { c.flush() }
            dirtyClients.removeAll(keepingCapacity: true)
        }
    }

    // MARK: - Routing helpers

    /// A primary for keyless commands, round robin.
    func anyPrimaryIndex() -> UInt16? {
        let n = slotMap.primaries.count
        guard n > 0 else { return nil }
        anyPrimaryCursor = (anyPrimaryCursor + 1) % n
        return UInt16(anyPrimaryCursor)
    }

    /// Where a node is, without blocking: the topology thread's resolution, or a numeric host.
    func socketAddress(for address: NodeAddress) -> SocketAddress? {
        view.resolved[address] ?? SocketAddress.numeric(host: address.host, port: address.port)
    }

    /// Follows a MOVED or ASK reply: `request` goes to the named node, with ASKING first for ASK.
    func redirect(_ redirection: Redirection, request: [UInt8], client: ClientSession, sequence: UInt64,
                  part: Int32, hops: UInt8, from backend: BackendConnection) {
        stats.redirections.add(1)
        guard hops <= ProxyContext.maxRedirections else {
            client.deliverError(sequence, part: part, "ERR slotproxy: too many redirections for this request (last: \(redirection))")
            return
        }
        switch redirection {
        case .moved(let slot, var address):
            if address.host.isEmpty { address = NodeAddress(host: backend.address.host, port: address.port) }
            let nodeIndex = slotMap.assign(slot, to: address)
            slotMapChanged()
            context.topology?.requestRefresh()
            let target = backends.connection(node: nodeIndex, protocolVersion: backend.protocolVersion)
            request.withUnsafeBytes { target.enqueue($0, client: client, sequence: sequence, hops: hops, part: part) }
        case .ask(_, var address):
            if address.host.isEmpty { address = NodeAddress(host: backend.address.host, port: address.port) }
            let target = backends.connection(address: address, protocolVersion: backend.protocolVersion)
            target.enqueueAsking()
            request.withUnsafeBytes { target.enqueue($0, client: client, sequence: sequence, hops: hops, part: part) }
        }
    }
}

private let workerAcceptCallback: event_callback_fn = { fd, _, ctx in
    Unmanaged<Worker>.fromOpaque(ctx!).takeUnretainedValue().acceptClients(fd)
}

private let workerWakeCallback: event_callback_fn = { _, _, ctx in
    Unmanaged<Worker>.fromOpaque(ctx!).takeUnretainedValue().adoptNewestView()
}

private let workerTickCallback: event_callback_fn = { _, _, ctx in
    Unmanaged<Worker>.fromOpaque(ctx!).takeUnretainedValue().onTick()
}
