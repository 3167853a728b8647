// One multiplexed, pipelined connection from a worker to one Redis node. Requests from any
// number of clients are appended to `output` and leave together at the end of the loop
// iteration; Redis answers in order, so the head of `inFlight` always owns the next reply.
//
//   output:  readIndex ─ sent, awaiting replies ─┬─ not yet written ─ writeIndex
//   inFlight: one entry per request in output, same order
//
// A request's bytes stay in `output` until its reply arrives, so a MOVED or ASK reply can
// resend exactly what the client sent, with nothing copied on the normal path; and when the
// connection is lost, each request still here is either held for the new primary (it was
// never written, or it is idempotent) or answered "outcome unknown".
//
// States: idle ─enqueue─▶ connecting ─▶ ready ─fail─▶ down(retryAt) ─enqueue after retryAt─▶ connecting
//
// A node that stops answering (backend-timeout-ms) fails the connection too, but its written
// requests get a timeout error rather than being resent to a node that may still be frozen,
// and the next connection first sends a PING ("probing": a stopped process's kernel still
// accepts connections) and takes client requests only once it is answered; meanwhile they
// are held (Worker.hold), as during a failover.
//
// backend-max-inflight: a connection with that many requests awaiting replies pauses the
// clients that feed it (ClientSession.pauseReading) until it is down to half.

import CLibevent
import Glibc
import Logging
import SlotProxyCore

final class BackendConnection {
    enum State: Equatable { case idle, connecting, ready, down(retryAt: Double) }

    /// What the connection is for.
    enum Kind {
        /// Pooled and multiplexed: any client's requests, matched to replies in order.
        case shared
        /// One client's own (WATCH, blocking commands): never held or timed out.
        case dedicated
        /// One client's subscriptions: every reply goes to the client as it arrives.
        case pubsub
    }

    /// Reconnect attempts to a node that failed wait 0.1 s, 0.2 s… up to 1 s.
    static let reconnectBackoff = Backoff(base: 0.1, cap: 1.0)
    /// TRYAGAIN / CLUSTERDOWN / LOADING replies are retried after 10 ms, 20 ms… up to 250 ms.
    static let retryBackoff = Backoff(base: 0.01, cap: 0.25)
    static let maxRetries: UInt8 = 80

    struct InFlight {
        /// nil for the proxy's own requests (HELLO, ASKING): their replies are dropped.
        var client: ClientSession?
        var sequence: UInt64
        var length: Int
        var hops: UInt8
        /// Which part of a split or fanned-out request this is; -1 for a whole request.
        var part: Int32 = -1
        /// The slot the request routes by (SlotMap.unassigned: any primary), to route it
        /// again when it has to be resent.
        var slot: UInt16 = SlotMap.unassigned
        /// May be resent when its outcome is unknown.
        var idempotent = false
        /// TRYAGAIN / CLUSTERDOWN retries so far.
        var attempts: UInt8 = 0
        /// A read-only command (may go to a replica with `read-from`).
        var readOnly = false
        /// Replies to drop before this request's own (MULTI and queued commands before EXEC).
        var leadingReplies: Int32 = 0
        /// When the request was first held (0: never): its failover-hold-ms deadline runs from
        /// here however often it is resent and held again.
        var firstHeld: Double = 0
        /// The worker's clock when the request was queued here (backend latency).
        var queuedAt: UInt64 = 0
    }

    /// The worker outlives every connection it owns: no reference counting on this link.
    unowned(unsafe) let worker: Worker
    let address: NodeAddress
    let protocolVersion: Int
    let kind: Kind
    /// The client a dedicated or pub/sub connection belongs to.
    weak var owner: ClientSession?
    private(set) var state = State.idle
    /// A MOVED/ASK seen among a batch's leading replies: the batch is resent there.
    private var batchRedirection: Redirection?

    private var fd: Int32 = -1
    private var readEvent: OpaquePointer?
    private var writeEvent: OpaquePointer?
    private var writeArmed = false
    private var output = ByteBuffer()
    /// Bytes at the front of `output` already written to the socket.
    private var sentCount = 0
    private var inFlight = InFlightQueue()
    private var input = ByteBuffer()
    private var scanner = ReplyScanner()
    private var isDirty = false
    private var reconnectAttempts = 0
    /// Since when the oldest unanswered request has waited (0: nothing is waiting).
    private var waitingSince = 0.0
    /// The node stopped answering: the next connection must get a PING answered before it
    /// takes client requests.
    private var needsProbe = false
    /// That PING is sent and not answered yet: client requests are held (`isDown`).
    private(set) var probing = false
    /// When the node was first found not answering (for the log line when it answers again).
    private var unansweredSince = 0.0
    /// Clients paused because this connection reached backend-max-inflight.
    private var pausedFeeders: [ClientSession] = []
    /// When this connection last logged reaching backend-max-inflight.
    private var saturationLoggedAt = -Double.infinity
    /// This node's latency histogram on this worker (shared connections only).
    private let latency: NodeLatency?

    var pendingCount: Int { inFlight.count }

    /// Frees the buffers and in-flight table a burst grew, when nothing is pending on this
    /// connection (they grow again with the next burst).
    func releaseIdleMemory() {
        guard inFlight.isEmpty else { return }
        inFlight.deallocate()
        output.releaseIfEmpty(keepingUpTo: 16 * 1024)
        input.releaseIfEmpty(keepingUpTo: 16 * 1024)
    }

    deinit {
        inFlight.deallocate()
        output.deallocate()
        input.deallocate()
    }

    /// True while the node is known to be unreachable and not yet due for another try.
    @inline(__always)
    func isDown(at now: Double) -> Bool {
        if probing { return true }
        if case .down(let retryAt) = state { return now < retryAt }
        return false
    }

    init(worker: Worker, address: NodeAddress, protocolVersion: Int, kind: Kind = .shared, owner: ClientSession? = nil) {
        self.worker = worker
        self.address = address
        self.protocolVersion = protocolVersion
        self.kind = kind
        self.owner = owner
        self.latency = kind == .shared ? worker.stats.latency.latency(for: address) : nil
    }

    /// The state as the metrics name it.
    var stateName: String {
        switch state {
        case .idle: return "idle"
        case .connecting: return "connecting"
        case .ready: return "ready"
        case .down: return "down"
        }
    }

    /// Opens the connection ahead of any request (idle, or down and due for another try).
    func warm() {
        guard state == .idle || (!isDown(at: worker.now) && state != .ready && state != .connecting) else { return }
        if connect() && inFlight.isEmpty { waitingSince = worker.now }
    }

    // MARK: - Requests

    /// Queues a request; it is written at the end of this loop iteration. Returns false,
    /// queuing nothing, while the node is down or being probed: the caller holds the request.
    @inline(__always)
    func enqueue(_ frame: UnsafeRawBufferPointer, client: ClientSession?, sequence: UInt64, hops: UInt8 = 0,
                 part: Int32 = -1, slot: UInt16 = SlotMap.unassigned, idempotent: Bool = false,
                 attempts: UInt8 = 0, readOnly: Bool = false, leadingReplies: Int32 = 0,
                 firstHeld: Double = 0) -> Bool {
        if state != .ready && state != .connecting {
            guard !isDown(at: worker.now), connect() else { return false }
        }
        if probing { return false }
        if inFlight.isEmpty { waitingSince = worker.now }
        output.append(frame)
        if kind == .pubsub && client != nil {
            // Subscriptions are not matched to replies: every reply goes to the owner.
            markDirty()
            return true
        }
        inFlight.append(InFlight(client: client, sequence: sequence, length: frame.count, hops: hops, part: part,
                                 slot: slot, idempotent: idempotent, attempts: attempts, readOnly: readOnly,
                                 leadingReplies: leadingReplies, firstHeld: firstHeld, queuedAt: worker.clock))
        if inFlight.count >= worker.backendMaxInflight, kind == .shared, let client { pauseFeeder(client) }
        markDirty()
        return true
    }

    // MARK: - backend-max-inflight

    /// This connection is full: `client` is not read from until it is down to half.
    private func pauseFeeder(_ client: ClientSession) {
        guard !client.isPaused(.backendFull) else { return }
        client.pauseReading(.backendFull)
        pausedFeeders.append(client)
        if worker.now - saturationLoggedAt >= 60 {
            saturationLoggedAt = worker.now
            worker.logger.notice("backend connection at backend-max-inflight: pausing the clients that feed it", metadata: [
                "node": "\(address)", "inflight": "\(inFlight.count)"])
        }
    }

    /// Reads from every paused feeder again (between iterations: see Worker.scheduleResume).
    private func resumeFeeders() {
        for client in pausedFeeders { worker.scheduleResume(client, .backendFull) }
        pausedFeeders.removeAll()
    }

    /// ASKING before a request that follows an ASK redirection; its +OK is dropped.
    func enqueueAsking() -> Bool {
        Self.asking.withUnsafeBytes { enqueue($0, client: nil, sequence: 0) }
    }

    private static let asking = RESPValueEncoder.command(["ASKING"])
    private static let readonly = RESPValueEncoder.command(["READONLY"])
    private static let hello3 = RESPValueEncoder.command(["HELLO", "3"])

    @inline(__always)
    private func markDirty() {
        if !isDirty && state == .ready {
            isDirty = true
            worker.markDirty(self)
        }
    }

    // MARK: - Connecting

    /// Starts connecting; false when that failed at once (no address, no socket).
    private func connect() -> Bool {
        guard let socketAddress = worker.socketAddress(for: address) else {
            markDown()
            reportLost("address not resolved", pending: 0)
            return false
        }
        guard let fd = Socket.connect(to: socketAddress, keepAliveSeconds: worker.context.config.tcpKeepalive) else {
            let error = errno
            markDown()
            reportLost(String(cString: strerror(error)), pending: 0)
            return false
        }
        self.fd = fd
        state = .connecting
        let me = Unmanaged.passUnretained(self).toOpaque()
        readEvent = event_new(worker.base, fd, Int16(EV_READ | EV_PERSIST), backendReadCallback, me)
        writeEvent = event_new(worker.base, fd, Int16(EV_WRITE | EV_PERSIST), backendWriteCallback, me)
        event_add(writeEvent, nil)
        writeArmed = true
        if let auth = worker.context.config.backendAuthCommand {
            // backend-password: AUTH [backend-user] password before anything else.
            waitingSince = worker.now
            output.append(auth)
            inFlight.append(InFlight(client: nil, sequence: 0, length: auth.count, hops: 0))
        }
        if protocolVersion == 3 {
            // RESP3 clients are served by RESP3 connections: switch before anything else.
            waitingSince = worker.now
            output.append(Self.hello3)
            inFlight.append(InFlight(client: nil, sequence: 0, length: Self.hello3.count, hops: 0))
        }
        if worker.context.config.readFrom != .primary {
            // Lets this connection read from a replica; a no-op on a primary.
            output.append(Self.readonly)
            inFlight.append(InFlight(client: nil, sequence: 0, length: Self.readonly.count, hops: 0))
        }
        if needsProbe {
            // The node stopped answering last time: it gets client requests again only once
            // it answers this (checkTimeout fails the connection again if it does not).
            waitingSince = worker.now
            probing = true
            output.append(Self.ping)
            inFlight.append(InFlight(client: nil, sequence: 0, length: Self.ping.count, hops: 0))
        }
        return true
    }

    private static let ping = RESPValueEncoder.command(["PING"])

    /// The probe (and the handshake before it) is answered: the node serves again.
    private func probeAnswered() {
        probing = false
        needsProbe = false
        worker.logger.notice("backend node answers again", metadata: [
            "node": "\(address)", "after": "\(Int((worker.now - unansweredSince) * 1000)) ms"])
        worker.backendReconnected()
    }

    fileprivate func onWritable() {
        if state == .connecting {
            let error = Socket.pendingError(fd)
            guard error == 0 else {
                fail(String(cString: strerror(error)))
                return
            }
            state = .ready
            reconnectAttempts = 0
            if inFlight.isEmpty { waitingSince = 0 }  // a warmed connection waits for nothing
            if let downFor = worker.context.reachability.restored(address, at: worker.now) {
                worker.logger.notice("connection to node restored", metadata: [
                    "node": "\(address)", "unreachable_seconds": "\(Int(downFor.rounded()))"])
            }
            event_add(readEvent, nil)
            worker.stats.backendConnects.add(1)
            worker.backendReconnected()
        }
        flush()
    }

    // MARK: - Writing

    func flush() {
        isDirty = false
        guard state == .ready else { return }
        while output.readableCount > sentCount {
            let n = write(fd, output.readPointer + sentCount, output.readableCount - sentCount)
            if n > 0 {
                worker.stats.backendBytesOut.add(n)
                if kind == .pubsub {
                    // Nothing to resend later: what is written is done with.
                    output.consume(n)
                    continue
                }
                sentCount += n
            } else if n < 0 && errno == EINTR {
                continue
            } else if n < 0 && errno == EAGAIN {
                if !writeArmed { writeArmed = true; event_add(writeEvent, nil) }
                return
            } else {
                fail(String(cString: strerror(errno)))
                return
            }
        }
        if writeArmed { writeArmed = false; event_del(writeEvent) }
    }

    // MARK: - Reading

    fileprivate func onReadable() {
        worker.stampClock()
        worker.nodeRepliesArrived = true
        if input.isEmpty {
            let n = read(fd, worker.scratch, worker.scratchSize)
            guard n > 0 else { return readFailed(n) }
            worker.stats.backendBytesIn.add(n)
            let consumed = process(worker.scratch, count: n)
            if consumed < n && state == .ready { input.append(worker.scratch + consumed, n - consumed) }
        } else {
            // Grow toward the reply's announced end no faster than bytes arrive (at most
            // doubling), so a length a node announces (or garbles) costs nothing until it comes.
            let missing = scanner.bytesNeeded - input.readableCount
            input.reserveWritable(max(16 * 1024, min(missing, max(64 * 1024, input.readableCount))))
            let n = read(fd, input.writePointer, input.writableCount)
            guard n > 0 else { return readFailed(n) }
            worker.stats.backendBytesIn.add(n)
            input.didWrite(n)
            let consumed = process(input.readPointer, count: input.readableCount)
            guard state == .ready else { return }
            input.consume(consumed)
            if input.isEmpty { input.releaseIfEmpty(keepingUpTo: 64 * 1024) }
        }
    }

    private func readFailed(_ n: Int) {
        if n < 0 && (errno == EAGAIN || errno == EINTR) { return }
        fail(n == 0 ? "connection closed by the node" : String(cString: strerror(errno)))
    }

    private func process(_ base: UnsafeMutablePointer<UInt8>, count: Int) -> Int {
        var offset = 0
        while offset < count {
            switch scanner.scan(base + offset, count: count - offset) {
            case .complete(let length):
                handleReply(UnsafeRawBufferPointer(start: base + offset, count: length))
                offset += length
                guard state == .ready else { return count }
            case .needMore:
                return offset
            case .malformed:
                fail("malformed reply")
                return count
            }
        }
        return offset
    }

    @inline(__always)
    private func handleReply(_ reply: UnsafeRawBufferPointer) {
        if kind == .pubsub {
            if inFlight.firstClient == nil && !inFlight.isEmpty {
                _ = inFlight.popFirst()  // the handshake's own reply
            } else {
                owner?.deliverPush(reply, from: self)
            }
            return
        }
        if inFlight.headHasLeadingReplies {
            // A batch (MULTI … EXEC): drop the replies before the last, noting a redirection.
            inFlight.dropLeadingReply()
            if reply[0] == UInt8(ascii: "-") && reply.count > 6 && batchRedirection == nil {
                batchRedirection = Redirection(errorLine: UnsafeRawBufferPointer(rebasing: reply[1..<(reply.count - 2)]))
            }
            return
        }
        guard var entry = inFlight.popFirst() else {
            fail("reply without a request")
            return
        }
        waitingSince = inFlight.isEmpty ? 0 : worker.now
        defer {
            output.consume(entry.length)
            sentCount -= entry.length
        }
        // Moved out of the entry, not copied: one reference, released once, per reply.
        guard let client = entry.client.take() else {
            if probing && inFlight.isEmpty { probeAnswered() }
            return
        }
        if let latency { latency.record(microseconds: Int(truncatingIfNeeded: (worker.clock &- entry.queuedAt) / 1000)) }
        if !pausedFeeders.isEmpty && inFlight.count <= worker.backendResumeInflight { resumeFeeders() }
        if let redirection = batchRedirection {
            // A queued command was redirected, so EXEC was aborted: resend the whole batch.
            batchRedirection = nil
            if kind == .shared {
                let request = Array(UnsafeRawBufferPointer(start: output.readPointer, count: entry.length))
                worker.redirect(redirection, request: request, client: client, entry: entry, from: self)
                return
            }
        }
        if reply[0] == UInt8(ascii: "-") && reply.count > 6 {
            let line = UnsafeRawBufferPointer(rebasing: reply[1..<(reply.count - 2)])
            if kind == .shared, let redirection = Redirection(errorLine: line) {
                let request = Array(UnsafeRawBufferPointer(start: output.readPointer, count: entry.length))
                worker.redirect(redirection, request: request, client: client, entry: entry, from: self)
                return
            }
            if kind == .shared && Self.isRetryable(line) && entry.attempts < Self.maxRetries {
                // The node did not run the command (slots migrating, cluster down, loading):
                // try again shortly; a refresh may move the slot meanwhile.
                let request = Array(UnsafeRawBufferPointer(start: output.readPointer, count: entry.length))
                worker.stats.retries.add(1)
                worker.hold(request, client: client, entry: entry, protocolVersion: protocolVersion,
                            notBefore: worker.now + Self.retryBackoff.delay(attempt: Int(entry.attempts)))
                if !asciiHasPrefix(line, "TRYAGAIN") { worker.context.topology?.requestRefresh() }
                return
            }
            if asciiHasPrefix(line, "NOSCRIPT") && entry.attempts == 0 {
                // A node that never saw the script (a promoted replica, a SCRIPT FLUSH): load
                // it there from the proxy's memory and run the request once more.
                let request = Array(UnsafeRawBufferPointer(start: output.readPointer, count: entry.length))
                if let load = worker.context.scripts.loadCommand(forEvalsha: request) {
                    load.withUnsafeBytes { _ = enqueue($0, client: nil, sequence: 0) }
                    var again = entry
                    again.attempts = 1
                    request.withUnsafeBytes {
                        _ = enqueue($0, client: client, sequence: again.sequence, hops: again.hops, part: again.part,
                                    slot: again.slot, idempotent: again.idempotent, attempts: 1, readOnly: again.readOnly)
                    }
                    worker.stats.retries.add(1)
                    return
                }
            }
        }
        client.deliver(entry.sequence, part: entry.part, reply,
                       request: UnsafeRawBufferPointer(start: output.readPointer, count: entry.length))
        if kind == .dedicated && inFlight.isEmpty { owner?.ownConnectionIdle(self) }
    }

    /// Errors that mean the command was not executed and may simply be tried again.
    private static func isRetryable(_ line: UnsafeRawBufferPointer) -> Bool {
        asciiHasPrefix(line, "TRYAGAIN") || asciiHasPrefix(line, "CLUSTERDOWN") || asciiHasPrefix(line, "LOADING")
    }

    /// Fails the connection when its oldest request has waited longer than the timeout.
    func checkTimeout(now: Double, timeout: Double, connectTimeout: Double) {
        guard waitingSince > 0, kind == .shared || state == .connecting else { return }
        if state == .connecting && now - waitingSince > connectTimeout {
            fail("connect timed out")
        } else if state == .ready && now - waitingSince > timeout {
            fail("no reply within backend-timeout-ms", timedOut: true)
        }
    }

    // MARK: - Failure

    /// Drops the connection and marks the node down for a short while. Each request still on
    /// it is held for whichever primary serves its slot next if it was never written or is
    /// idempotent; any other gets an error saying its outcome is unknown.
    /// - Parameter timedOut: the node did not answer within backend-timeout-ms: written
    ///   requests get a timeout error instead (resent, they would wait on the same frozen
    ///   node), and the next connection probes the node first.
    func fail(_ reason: String, timedOut: Bool = false) {
        closeSocket()
        let wasConnected = state == .ready
        let wasProbing = probing
        probing = false
        markDown()
        isDirty = false
        waitingSince = 0
        var offset = 0
        let written = sentCount
        let pending = inFlight.removeAll()
        let clientRequests = pending.reduce(0) { $0 + ($1.client == nil ? 0 : 1) }
        if timedOut && kind == .shared {
            if !needsProbe {
                unansweredSince = worker.now
                worker.logger.warning("backend node does not answer: backend-timeout-ms passed", metadata: [
                    "node": "\(address)", "timeout_ms": "\(worker.backendTimeoutMs)", "pending": "\(clientRequests)"])
            }
            needsProbe = true
        } else if (wasConnected && !wasProbing) || clientRequests > 0 {
            reportLost(reason, pending: pending.count)
        }
        let timeoutError = timedOut
            ? "ERR slotproxy: no reply from \(worker.role(of: address)) \(address) within \(worker.backendTimeoutMs) ms (backend-timeout-ms)"
            : ""
        for entry in pending {
            defer { offset += entry.length }
            guard let client = entry.client else { continue }
            if timedOut && offset < written && kind == .shared {
                // Written to a node that stopped answering: it may yet run it, or never.
                client.deliverError(entry.sequence, part: entry.part,
                                    entry.idempotent ? timeoutError : timeoutError + "; its outcome is unknown")
            } else if kind != .shared {
                // A client's own connection: its state (WATCH, a blocked pop) is gone with it.
                client.deliverError(entry.sequence, part: entry.part,
                                    "ERR slotproxy: the connection to \(address) was lost (\(reason))")
            } else if offset >= written || entry.idempotent {
                let request = Array(UnsafeRawBufferPointer(start: output.readPointer + offset, count: entry.length))
                if offset < written { worker.stats.retries.add(1) }
                worker.hold(request, client: client, entry: entry, protocolVersion: protocolVersion, notBefore: 0)
            } else {
                client.deliverError(entry.sequence, part: entry.part,
                    "ERR slotproxy: the connection to \(address) was lost (\(reason)) after the command was sent; its outcome is unknown")
            }
        }
        output.deallocate()
        input.deallocate()
        sentCount = 0
        scanner.reset()
        batchRedirection = nil
        resumeFeeders()
        worker.context.topology?.requestRefresh()
        if kind != .shared { owner?.ownConnectionLost(self) }
    }

    /// One warning per node however many connections (workers, protocol versions, clients'
    /// own connections) lose it; the rest go to the debug level.
    private func reportLost(_ reason: String, pending: Int) {
        let metadata: Logger.Metadata = ["node": "\(address)", "reason": "\(reason)", "pending": "\(pending)"]
        if worker.context.reachability.lost(address, at: worker.now) {
            worker.logger.warning("connection to node lost", metadata: metadata)
        } else {
            worker.logger.debug("backend connection failed", metadata: metadata)
        }
    }

    private func markDown() {
        state = .down(retryAt: worker.now + Self.reconnectBackoff.delay(attempt: reconnectAttempts))
        reconnectAttempts += 1
        writeArmed = false
    }

    private func closeSocket() {
        guard fd >= 0 else { return }
        if let e = readEvent { event_free(e) }
        if let e = writeEvent { event_free(e) }
        readEvent = nil
        writeEvent = nil
        Glibc.close(fd)
        fd = -1
    }

    func close() {
        closeSocket()
        resumeFeeders()
        probing = false
        state = .idle
        inFlight.deallocate()
        output.deallocate()
        input.deallocate()
        sentCount = 0
        scanner.reset()
    }
}

/// FIFO of requests awaiting replies on one backend connection: a ring buffer over memory
/// it allocates itself, so entries are initialized and moved in place (an array of optionals
/// destroyed and copied every entry through Optional's generic value witnesses, ~300
/// instructions per request). The owner calls `deallocate()` when it is done with it.
struct InFlightQueue {
    private var storage: UnsafeMutablePointer<BackendConnection.InFlight>?
    private var capacity = 0
    private var head = 0
    private(set) var count = 0

    var isEmpty: Bool { count == 0 }

    @inline(__always)
    mutating func append(_ item: consuming BackendConnection.InFlight) {
        if count == capacity { grow() }
        if item.leadingReplies > 0 { batches += 1 }
        (storage! + ((head + count) & (capacity - 1))).initialize(to: item)
        count += 1
    }

    /// The oldest entry's client (nil: the proxy's own request, or none).
    var firstClient: ClientSession? { count > 0 ? storage![head].client : nil }

    /// Entries still expecting leading replies (MULTI … EXEC batches): while 0, no reply needs
    /// the batch check and the head entry is not even looked at.
    private(set) var batches = 0

    /// The head is a batch still expecting replies before its own.
    @inline(__always)
    var headHasLeadingReplies: Bool { batches > 0 && storage![head].leadingReplies > 0 }

    /// Counts one of the head batch's leading replies as received.
    mutating func dropLeadingReply() {
        storage![head].leadingReplies -= 1
        if storage![head].leadingReplies == 0 { batches -= 1 }
    }

    @inline(__always)
    mutating func popFirst() -> BackendConnection.InFlight? {
        guard count > 0 else { return nil }
        // Moved out of its slot, not copied: no retain and release of its client per reply.
        let item = (storage! + head).move()
        if item.leadingReplies > 0 { batches -= 1 }
        head = (head + 1) & (capacity - 1)
        count -= 1
        return item
    }

    mutating func removeAll() -> [BackendConnection.InFlight] {
        var out: [BackendConnection.InFlight] = []
        out.reserveCapacity(count)
        while let i = popFirst() { out.append(i) }
        return out
    }

    /// Frees the ring (its entries first).
    mutating func deallocate() {
        while popFirst() != nil {}
        storage?.deallocate()
        storage = nil
        capacity = 0
        head = 0
    }

    private mutating func grow() {
        let newCapacity = max(16, capacity * 2)
        let newStorage = UnsafeMutablePointer<BackendConnection.InFlight>.allocate(capacity: newCapacity)
        for i in 0..<count { (newStorage + i).moveInitialize(from: storage! + ((head + i) & (capacity - 1)), count: 1) }
        storage?.deallocate()
        storage = newStorage
        capacity = newCapacity
        head = 0
    }
}

private let backendReadCallback: event_callback_fn = { _, _, ctx in
    Unmanaged<BackendConnection>.fromOpaque(ctx!).takeUnretainedValue().onReadable()
}

private let backendWriteCallback: event_callback_fn = { _, _, ctx in
    Unmanaged<BackendConnection>.fromOpaque(ctx!).takeUnretainedValue().onWritable()
}
