// One multiplexed, pipelined connection from a worker to one Redis node. Requests from any
// number of clients are appended to `output` and leave together at the end of the loop
// iteration; Redis answers in order, so the head of `inFlight` always owns the next reply.
//
//   output:  readIndex ─ sent, awaiting replies ─┬─ not yet written ─ writeIndex
//   inFlight: one entry per request in output, same order
//
// A request's bytes stay in `output` until its reply arrives, so a MOVED or ASK reply can
// resend exactly what the client sent, with nothing copied on the normal path.

import CLibevent
import Glibc
import SlotProxyCore

final class BackendConnection {
    enum State { case idle, connecting, ready }

    struct InFlight {
        /// nil for the proxy's own requests (HELLO, ASKING): their replies are dropped.
        var client: ClientSession?
        var sequence: UInt64
        var length: Int
        var hops: UInt8
        /// Which part of a split or fanned-out request this is; -1 for a whole request.
        var part: Int32 = -1
    }

    unowned let worker: Worker
    let address: NodeAddress
    let protocolVersion: Int
    private(set) var state = State.idle

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

    var pendingCount: Int { inFlight.count }

    init(worker: Worker, address: NodeAddress, protocolVersion: Int) {
        self.worker = worker
        self.address = address
        self.protocolVersion = protocolVersion
    }

    // MARK: - Requests

    /// Queues a request; it is written at the end of this loop iteration.
    @inline(__always)
    func enqueue(_ frame: UnsafeRawBufferPointer, client: ClientSession?, sequence: UInt64, hops: UInt8 = 0,
                 part: Int32 = -1) {
        if state == .idle && !connect() {
            client?.deliverError(sequence, part: part, "ERR slotproxy: cannot connect to \(address)")
            worker.context.topology?.requestRefresh()
            return
        }
        output.append(frame)
        inFlight.append(InFlight(client: client, sequence: sequence, length: frame.count, hops: hops, part: part))
        markDirty()
    }

    /// ASKING before a request that follows an ASK redirection; its +OK is dropped.
    func enqueueAsking() {
        Self.asking.withUnsafeBytes { enqueue($0, client: nil, sequence: 0) }
    }

    private static let asking = RESPValueEncoder.command(["ASKING"])
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
        guard let socketAddress = worker.socketAddress(for: address),
              let fd = Socket.connect(to: socketAddress, keepAliveSeconds: worker.context.config.tcpKeepalive) else {
            return false
        }
        self.fd = fd
        state = .connecting
        let me = Unmanaged.passUnretained(self).toOpaque()
        readEvent = event_new(worker.base, fd, Int16(EV_READ | EV_PERSIST), backendReadCallback, me)
        writeEvent = event_new(worker.base, fd, Int16(EV_WRITE | EV_PERSIST), backendWriteCallback, me)
        event_add(writeEvent, nil)
        writeArmed = true
        if protocolVersion == 3 {
            // RESP3 clients are served by RESP3 connections: switch before anything else.
            output.append(Self.hello3)
            inFlight.append(InFlight(client: nil, sequence: 0, length: Self.hello3.count, hops: 0))
        }
        return true
    }

    fileprivate func onWritable() {
        if state == .connecting {
            let error = Socket.pendingError(fd)
            guard error == 0 else {
                fail(String(cString: strerror(error)))
                return
            }
            state = .ready
            event_add(readEvent, nil)
            worker.stats.backendConnects.add(1)
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
        if input.isEmpty {
            let n = read(fd, worker.scratch, worker.scratchSize)
            guard n > 0 else { return readFailed(n) }
            let consumed = process(worker.scratch, count: n)
            if consumed < n && state == .ready { input.append(worker.scratch + consumed, n - consumed) }
        } else {
            input.reserveWritable(max(16 * 1024, scanner.bytesNeeded - input.readableCount))
            let n = read(fd, input.writePointer, input.writableCount)
            guard n > 0 else { return readFailed(n) }
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
        guard let entry = inFlight.popFirst() else {
            fail("reply without a request")
            return
        }
        defer {
            output.consume(entry.length)
            sentCount -= entry.length
        }
        guard let client = entry.client else { return }
        if reply[0] == UInt8(ascii: "-"), reply.count > 6,
           let redirection = Redirection(errorLine: UnsafeRawBufferPointer(rebasing: reply[1..<(reply.count - 2)])) {
            let request = Array(UnsafeRawBufferPointer(start: output.readPointer, count: entry.length))
            worker.redirect(redirection, request: request, client: client, sequence: entry.sequence,
                            part: entry.part, hops: entry.hops &+ 1, from: self)
            return
        }
        client.deliver(entry.sequence, part: entry.part, reply)
    }

    // MARK: - Failure

    /// Drops the connection; every request on it gets an error. The next request reconnects.
    func fail(_ reason: String) {
        if fd >= 0 {
            if let e = readEvent { event_free(e) }
            if let e = writeEvent { event_free(e) }
            readEvent = nil
            writeEvent = nil
            Glibc.close(fd)
            fd = -1
        }
        let wasConnected = state == .ready
        state = .idle
        writeArmed = false
        isDirty = false
        let failed = inFlight.removeAll()
        output.deallocate()
        input.deallocate()
        sentCount = 0
        scanner.reset()
        if wasConnected || !failed.isEmpty {
            worker.logger.warning("backend connection failed", metadata: ["node": "\(address)", "reason": "\(reason)"])
        }
        worker.context.topology?.requestRefresh()
        let message = "ERR slotproxy: connection to \(address) failed (\(reason))"
        for entry in failed {
            entry.client?.deliverError(entry.sequence, part: entry.part, message)
        }
    }

    func close() {
        if fd >= 0 {
            if let e = readEvent { event_free(e) }
            if let e = writeEvent { event_free(e) }
            Glibc.close(fd)
            fd = -1
        }
        state = .idle
    }
}

/// FIFO of requests awaiting replies on one backend connection (a ring buffer).
struct InFlightQueue {
    private var items: [BackendConnection.InFlight?] = []
    private var head = 0
    private(set) var count = 0

    var isEmpty: Bool { count == 0 }

    @inline(__always)
    mutating func append(_ item: BackendConnection.InFlight) {
        if count == items.count { grow() }
        items[(head + count) & (items.count - 1)] = item
        count += 1
    }

    @inline(__always)
    mutating func popFirst() -> BackendConnection.InFlight? {
        guard count > 0 else { return nil }
        let item = items[head]
        items[head] = nil
        head = (head + 1) & (items.count - 1)
        count -= 1
        return item
    }

    mutating func removeAll() -> [BackendConnection.InFlight] {
        var out: [BackendConnection.InFlight] = []
        while let i = popFirst() { out.append(i) }
        return out
    }

    private mutating func grow() {
        let newCapacity = max(16, items.count * 2)
        var newItems = [BackendConnection.InFlight?](repeating: nil, count: newCapacity)
        for i in 0..<count { newItems[i] = items[(head + i) & (items.count - 1)] }
        items = newItems
        head = 0
    }
}

private let backendReadCallback: event_callback_fn = { _, _, ctx in
    Unmanaged<BackendConnection>.fromOpaque(ctx!).takeUnretainedValue().onReadable()
}

private let backendWriteCallback: event_callback_fn = { _, _, ctx in
    Unmanaged<BackendConnection>.fromOpaque(ctx!).takeUnretainedValue().onWritable()
}
