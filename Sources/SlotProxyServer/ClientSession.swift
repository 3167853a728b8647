// One client connection. Bytes read from the socket are parsed in place into requests;
// each request is answered locally, refused, or forwarded (its original bytes, unchanged)
// to the backend connection of the primary that owns its slot. Replies come back through
// `deliver`, in any order, and leave in request order (ReplyQueue).
//
//   socket → read (worker scratch, or `input` while a frame is partial) → RequestParser
//          → dispatch → BackendConnection.enqueue / local reply
//   BackendConnection → deliver(sequence) → `output` (in order) → flush (once per loop)
//
// Limits: a partial request past client-query-buffer-limit closes the client; replies that
// pile up unread pause reading (backpressure) and, past client-output-buffer-limit, close
// it; a backend connection at backend-max-inflight pauses the clients feeding it. While
// paused, the read event is off and bytes already read wait in `input`, unparsed.

import CLibevent
import Glibc
import SlotProxyCore

final class ClientSession {
    /// The worker outlives every connection it owns: no reference counting on this link.
    unowned(unsafe) let worker: Worker
    let fd: Int32
    let id: Int64
    let parser: RequestParser

    private var readEvent: OpaquePointer?
    private var writeEvent: OpaquePointer?
    private var writeArmed = false
    private var input = ByteBuffer()
    private var output = ByteBuffer()
    var replies = ReplyQueue()
    private var isDirty = false
    /// When (Worker.clock) this client's write began to wait for more replies, 0 when it
    /// does not wait (`Worker.flushClients`).
    var deferredSince: UInt64 = 0
    private(set) var closed = false
    /// Set by QUIT and protocol errors: close once every owed reply is written.
    private var closeAfterReplies = false
    private var lastActiveTick = 0

    /// Why reading from this client is paused (bits of `PauseReason`); 0 = reading.
    private var pausedFor: UInt8 = 0
    /// When pending output was first seen at or above the soft limit (0: it is not).
    private var overSoftLimitSince = 0.0

    /// Why a client is not read from for a while.
    enum PauseReason: UInt8 {
        /// Its replies pile up unread (client-output-buffer-limit's backpressure).
        case outputFull = 1
        /// A backend connection it sent to is at backend-max-inflight.
        case backendFull = 2
    }

    /// 2 or 3, switched by HELLO.
    var protocolVersion = 2
    var name: String?
    /// False until AUTH (or HELLO … AUTH) succeeds when a password is required.
    var authenticated = true
    /// What other workers may read about this session (CLIENT LIST / KILL); set in start().
    var record: ClientRecord?

    // Server-side state (ClientSession+State).
    /// Between MULTI and EXEC.
    var transaction: Transaction?
    /// The client's own connection holding WATCH, kept for the client's next WATCH.
    var watchLink: BackendConnection?
    var watching = false
    var watchSlot = SlotMap.unassigned
    /// Connections of blocking commands still waiting for their reply.
    var blockingLinks: [BackendConnection] = []
    /// SUBSCRIBE / PSUBSCRIBE connection, and SSUBSCRIBE connections (one per primary).
    var pubsubLink: BackendConnection?
    var shardLinks: [BackendConnection] = []
    /// Shard channels the client asked for, and those to subscribe again (+Resubscribe).
    var shardChannels: [[UInt8]: ShardChannel] = [:]
    var pendingResubscribe: [[UInt8]: ShardChannelLoss] = [:]
    /// Confirmations of the proxy's own SSUBSCRIBEs still to swallow, per connection.
    var ownResubscriptions: [ObjectIdentifier: Int] = [:]
    /// Subscriptions per family ("plain", and "shard <node>" for each shard connection), from
    /// the nodes' confirmations.
    var subscriptionCounts: [String: Int] = [:]
    /// In subscribed mode (RESP2 allows only the subscription commands, PING, QUIT, RESET).
    var subscribed = false {
        didSet { if subscribed != oldValue { worker.stats.pubsubClients.add(subscribed ? 1 : -1) } }
    }
    /// The arguments of the request being dispatched (nil outside dispatch): a local reply's
    /// slow log entry takes them.
    var dispatchArguments: RequestArguments?
    var dispatchFrame: UnsafeRawBufferPointer?
    /// Marker PINGs sent behind pub/sub commands, per pub/sub connection, not yet answered.
    var pubsubMarkers: [ObjectIdentifier: Int] = [:]
    /// True while requests wait for a pub/sub command's replies (ClientSession+State).
    var awaitingPubSub = false
    /// True while requests wait for a blocking command's reply, as Redis runs nothing else
    /// for a blocked client (ClientSession+State).
    var awaitingBlocked = false

    enum ReplyMode { case on, off, skipNext }
    /// CLIENT REPLY: whether replies are written to this client.
    var replyMode = ReplyMode.on

    init(worker: Worker, fd: Int32, id: Int64) {
        self.worker = worker
        self.fd = fd
        self.id = id
        self.parser = RequestParser(maxBulkLength: worker.protoMaxBulkLen, maxMultibulkCount: worker.protoMaxMultibulkLen,
                                    maxInlineLength: worker.protoInlineMaxSize)
        self.lastActiveTick = worker.tick
    }

    func start() {
        authenticated = worker.context.config.requirePass.isEmpty
        record = worker.context.sessions.register(self)
        let me = Unmanaged.passUnretained(self).toOpaque()
        readEvent = event_new(worker.base, fd, Int16(EV_READ | EV_PERSIST), clientReadCallback, me)
        writeEvent = event_new(worker.base, fd, Int16(EV_WRITE | EV_PERSIST), clientWriteCallback, me)
        event_add(readEvent, nil)
    }

    /// Idle for the `timeout` directive: nothing read or written during `tick` or after it, no
    /// reply owed, and neither blocked nor subscribed (Redis exempts those too).
    func isIdle(since tick: Int) -> Bool {
        lastActiveTick < tick && replies.isEmpty && output.isEmpty && !subscribed && blockingLinks.isEmpty
            && !awaitingBlocked
    }

    /// Owed no reply, nothing left to write or to parse, and no unread request bytes on the
    /// socket: a shutdown may close it now without losing anything the client sent.
    var isQuiet: Bool {
        guard !closed, replies.isEmpty, input.isEmpty, output.isEmpty else { return false }
        var byte: UInt8 = 0
        // > 0: a request (or part of one) the loop has not read yet; 0: the client hung up.
        return recv(fd, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT)) <= 0
    }

    // MARK: - Reading and parsing

    fileprivate func onReadable() {
        guard !closed else { return }
        worker.stampClock()
        lastActiveTick = worker.tick
        record?.noteActivity(worker.now)
        if input.isEmpty {
            let n = read(fd, worker.scratch, worker.scratchSize)
            guard n > 0 else { return readFailed(n) }
            worker.stats.bytesIn.add(n)
            let consumed = process(worker.scratch, count: n)
            if consumed < n && !closed && !closeAfterReplies {
                input.append(worker.scratch + consumed, n - consumed)
            }
        } else {
            // A frame is partial: read straight behind it, as much as it still needs, but
            // grow the buffer no faster than bytes arrive (at most doubling), so a request
            // that only announces a large value costs no memory until the value comes.
            let missing = parser.bytesNeeded - input.readableCount
            input.reserveWritable(max(16 * 1024, min(missing, max(64 * 1024, input.readableCount))))
            let n = read(fd, input.writePointer, input.writableCount)
            guard n > 0 else { return readFailed(n) }
            worker.stats.bytesIn.add(n)
            input.didWrite(n)
            let consumed = process(input.readPointer, count: input.readableCount)
            guard !closed else { return }
            input.consume(consumed)
            if input.isEmpty { input.releaseIfEmpty() }
        }
        if input.readableCount > worker.clientQueryBufferLimit {
            worker.logger.warning("closing client: client-query-buffer-limit reached", metadata: [
                "id": "\(id)", "addr": "\(record?.address ?? "?")", "qbuf": "\(input.readableCount)",
                "limit": "\(worker.clientQueryBufferLimit)"])
            close()
        }
    }

    private func readFailed(_ n: Int) {
        if n < 0 && (errno == EAGAIN || errno == EINTR) { return }
        if n == 0 { return peerFinishedSending() }
        close()
    }

    /// End of file: the client sent all it ever will (shutdown(SHUT_WR), or a close we cannot
    /// tell apart from one). Requests it completed are still answered, then the connection
    /// closes, so `printf 'GET k\r\n' | nc -N` gets its reply; a partial last frame is dropped.
    /// A client waiting on a blocking command or subscribed could wait forever for nothing it
    /// can still read or end, so it is closed at once, as Redis closes every client on EOF
    /// (its node connection is closed too, which unblocks the command there).
    private func peerFinishedSending() {
        if (replies.isEmpty && output.isEmpty) || awaitingBlocked || !blockingLinks.isEmpty || subscribed
            || awaitingPubSub || pubsubLink != nil || !shardLinks.isEmpty {
            close()
            return
        }
        stopReading()
    }

    /// Handles every complete request in `count` bytes at `base`; returns the bytes used.
    private func process(_ base: UnsafeMutablePointer<UInt8>, count: Int) -> Int {
        var offset = 0
        while offset < count && !closed && !closeAfterReplies && !awaitingPubSub && !awaitingBlocked && pausedFor == 0 {
            switch parser.parse(base + offset, count: count - offset) {
            case .frame(let length, let inline):
                if inline {
                    parser.inlineFrame.withUnsafeBufferPointer { f in
                        dispatch(parser.arguments(base: f.baseAddress!), frame: UnsafeRawBufferPointer(f))
                    }
                } else {
                    dispatch(parser.arguments(base: base + offset),
                             frame: UnsafeRawBufferPointer(start: base + offset, count: length))
                }
                offset += length
            case .empty(let length):
                offset += length
            case .needMore:
                return offset
            case .error(let error):
                respond(error.reply)
                stopReading()
                return count
            }
        }
        return offset
    }

    /// Handles the requests that waited in `input` while a pub/sub or blocking command was answered.
    func resumeRequests() {
        guard !closed, !input.isEmpty else { return }
        let consumed = process(input.readPointer, count: input.readableCount)
        guard !closed else { return }
        input.consume(consumed)
        if input.isEmpty { input.releaseIfEmpty() }
    }

    /// Redis closes a connection after a protocol error (once its reply is out) and so do we.
    func stopReading() {
        closeAfterReplies = true
        if let e = readEvent { event_del(e) }
        markDirty()
    }

    // MARK: - Pausing (backpressure)

    /// Stops reading from the client until `resumeReading(reason)`; requests already read
    /// but not parsed wait in `input`.
    func pauseReading(_ reason: PauseReason) {
        guard !closed else { return }
        if pausedFor == 0 && !closeAfterReplies, let e = readEvent { event_del(e) }
        pausedFor |= reason.rawValue
    }

    func isPaused(_ reason: PauseReason) -> Bool { pausedFor & reason.rawValue != 0 }

    /// Lifts one reason to pause; with none left, reads again and parses what waited.
    /// Called between loop iterations (Worker.scheduleResume), never from inside a callback.
    func resumeReading(_ reason: PauseReason) {
        guard !closed, isPaused(reason) else { return }
        pausedFor &= ~reason.rawValue
        guard pausedFor == 0, !closeAfterReplies else { return }
        if let e = readEvent { event_add(e, nil) }
        resumeRequests()
    }

    /// QUIT: +OK, then close once it is written.
    func quit() {
        respond(RESPReply.ok)
        stopReading()
    }

    // MARK: - Replies

    /// A reply known now (local answer or error), queued behind any reply still owed.
    func respond(_ bytes: [UInt8]) {
        if replies.command >= 0 {
            // The reply of the command being dispatched (a local answer or a refusal).
            bytes.withUnsafeBytes { completed(Int(replies.command), started: replies.started, reply: $0, request: nil) }
            replies.command = -1
        } else if bytes.first == UInt8(ascii: "-") {
            bytes.withUnsafeBytes { worker.countError($0) }
        }
        if replies.isEmpty {
            guard !replies.silencing else { return }
            output.append(bytes)
            markDirty()
        } else {
            bytes.withUnsafeBytes { _ = replies.appendReady($0) }
        }
    }

    func respondError(_ message: String) {
        respond(RESPReply.error(message))
    }

    /// A backend's reply for request `sequence`.
    @inline(__always)
    func deliver(_ sequence: UInt64, _ reply: UnsafeRawBufferPointer, request: UnsafeRawBufferPointer? = nil) {
        guard !closed else { return }
        let timing = replies.timing(for: sequence)
        if timing.command >= 0 {
            completed(Int(timing.command), started: timing.started, reply: reply, request: request, sequence: sequence)
        } else if reply.count > 0 && reply[0] == UInt8(ascii: "-") {
            worker.countError(reply)
        }
        if sequence == replies.headSequence {
            if !replies.headDiscards { output.append(reply) }
            replies.removeHead()
            replies.popReadyHeads(into: &output)
            markDirty()
        } else {
            replies.hold(sequence, reply)
        }
    }

    /// A backend's reply for part `part` of request `sequence` (-1: the whole request).
    @inline(__always)
    func deliver(_ sequence: UInt64, part: Int32, _ reply: UnsafeRawBufferPointer,
                 request: UnsafeRawBufferPointer? = nil) {
        if part < 0 {
            deliver(sequence, reply, request: request)
        } else {
            deliverPart(sequence, Int(part), reply)
        }
    }

    func deliverError(_ sequence: UInt64, part: Int32 = -1, _ message: String) {
        RESPReply.error(message).withUnsafeBytes { deliver(sequence, part: part, $0) }
    }

    /// Counts a command whose reply is queued now; logs it when slow. The arguments come from
    /// the request's bytes (forwarded), the request being dispatched (local) or the merge's
    /// copy (split and fanned-out requests).
    @inline(__always)
    private func completed(_ command: Int, started: UInt64, reply: UnsafeRawBufferPointer,
                           request: UnsafeRawBufferPointer?, sequence: UInt64 = 0) {
        let micros = worker.commandDone(command, started: started, reply: reply)
        if micros >= worker.slowlogThreshold { logSlow(micros, request: request, sequence: sequence) }
    }

    private func logSlow(_ micros: Int, request: UnsafeRawBufferPointer?, sequence: UInt64) {
        worker.logSlow(micros: micros, client: self) { out, writer in
            if let request {
                writer.append(frame: request, to: &out)
            } else if let dispatched = dispatchArguments {
                writer.append(dispatched, to: &out)
            } else if let merge = replies.merge(for: sequence), merge.hasSlowlogFrame {
                merge.slowlogFrame.withUnsafeBytes { writer.append(frame: $0, to: &out) }
            } else {
                RESPEncoding.appendHeader(UInt8(ascii: "*"), 0, to: &out)
            }
        }
    }

    @inline(__always)
    private func markDirty() {
        if !isDirty {
            isDirty = true
            worker.markDirty(self)
        }
    }

    // MARK: - Writing

    /// Whether this iteration's write can wait a loop iteration for the rest of the
    /// replies this client is owed (`Worker.flushClients`): only when some are still in flight,
    /// the ready ones are few, and nothing else is pending on the socket.
    @inline(__always)
    var canDeferWrite: Bool {
        !replies.isEmpty && output.readableCount < Worker.deferWriteBelowBytes && !writeArmed && !closed
    }

    func flush() {
        isDirty = false
        deferredSince = 0
        guard !closed else { return }
        while !output.isEmpty {
            let n = write(fd, output.readPointer, output.readableCount)
            if n > 0 {
                worker.stats.bytesOut.add(n)
                output.consume(n)
                lastActiveTick = worker.tick
            } else if n < 0 && errno == EINTR {
                continue
            } else if n < 0 && errno == EAGAIN {
                if !writeArmed { writeArmed = true; event_add(writeEvent, nil) }
                checkOutput()
                return
            } else {
                close()
                return
            }
        }
        if writeArmed { writeArmed = false; event_del(writeEvent) }
        if pausedFor != 0 || overSoftLimitSince != 0 || replies.heldBytes > 0 { checkOutput() }
        output.releaseIfEmpty(keepingUpTo: 4096)
        replies.shrinkIfIdle()
        if closeAfterReplies && replies.isEmpty { close() }
    }

    fileprivate func onWritable() {
        flush()
    }

    /// After a write: closes a client past its client-output-buffer-limit, pauses reading
    /// from one whose replies pile up, and resumes it once it has read half of them.
    private func checkOutput() {
        let pending = output.readableCount + replies.heldBytes
        let pubsub = subscribed
        let limit = pubsub ? worker.outputLimits.pubsub : worker.outputLimits.normal
        let verdict = limit.check(pending: pending, now: worker.now, overSoftSince: &overSoftLimitSince)
        guard verdict == .within else {
            worker.logger.warning("closing client: client-output-buffer-limit reached", metadata: [
                "id": "\(id)", "addr": "\(record?.address ?? "?")", "class": "\(pubsub ? "pubsub" : "normal")",
                "pending": "\(pending)", "limit": "\(verdict == .overHard ? "hard" : "soft")"])
            close()
            return
        }
        let pauseAt = pubsub ? worker.pubsubPauseBytes : worker.normalPauseBytes
        if pending >= pauseAt {
            pauseReading(.outputFull)
        } else if pending <= pauseAt / 2 && isPaused(.outputFull) {
            worker.scheduleResume(self, .outputFull)
        }
    }

    /// Closes the socket at once. Replies still in flight are dropped when they arrive.
    func close() {
        guard !closed else { return }
        closed = true
        if let e = readEvent { event_free(e) }
        if let e = writeEvent { event_free(e) }
        readEvent = nil
        writeEvent = nil
        Glibc.close(fd)
        input.deallocate()
        output.deallocate()
        replies = ReplyQueue()
        transaction = nil
        closeOwnConnections()
        worker.context.sessions.unregister(self)
        worker.clientClosed(self)
    }
}

private let clientReadCallback: event_callback_fn = { _, _, ctx in
    Unmanaged<ClientSession>.fromOpaque(ctx!).takeUnretainedValue().onReadable()
}

private let clientWriteCallback: event_callback_fn = { _, _, ctx in
    Unmanaged<ClientSession>.fromOpaque(ctx!).takeUnretainedValue().onWritable()
}
