// Every client connection of this proxy, over all workers, for the commands that look at or
// act on other clients (CLIENT LIST, CLIENT KILL). A session registers when it starts and
// unregisters when it closes, both on its own worker. Another worker only reads a session's
// `ClientRecord` (under the record's lock) or asks the owning worker to close it; the session
// object itself is only ever touched by its own worker. A cold path: a lock is fine here.
//
//   ClientSession.start ─register─▶ ClientRegistry ◀─records()── CLIENT LIST (any worker)
//   CLIENT KILL (any worker) ─requestKill─▶ record.killRequested + the owner's kill timer
//        ─▶ owner worker, next iteration ─▶ session.close()

import CLibevent
import Glibc
import SlotProxyCore
import Synchronization

/// What any worker may read about one client session.
final class ClientRecord: @unchecked Sendable {
    /// The fields that change during the session (set by its own worker, on cold paths).
    struct Fields {
        var name = ""
        var user = "default"
        var protocolVersion = 2
        var libraryName = ""
        var libraryVersion = ""
    }

    let id: Int64
    let fd: Int32
    /// The client's `ip:port`.
    let address: String
    /// The proxy's address the client connected to, host alone (nil for the unixsocket) and
    /// as `ip:port`.
    let localHost: String?
    let localAddress: String
    let workerIndex: Int
    let connectedAt: Double
    private let fields = Mutex(Fields())
    private let lastActiveMs: Atomic<Int>
    /// Set by CLIENT KILL on any worker; the owning worker closes the session.
    let killRequested = Atomic<Bool>(false)

    init(id: Int64, fd: Int32, workerIndex: Int, now: Double) {
        self.id = id
        self.fd = fd
        self.workerIndex = workerIndex
        self.connectedAt = now
        self.lastActiveMs = Atomic(Int(now * 1000))
        let local = socketEndpoint(fd, peer: false)
        if local.isUnix {
            // As Redis shows a unixsocket client: addr=/path:0 laddr=/path:0 (its peer has no name).
            self.address = "\(local.host):0"
            self.localHost = nil
            self.localAddress = self.address
        } else {
            let peer = socketEndpoint(fd, peer: true)
            self.address = ClientInfo.formatAddress(host: peer.host, port: peer.port)
            self.localHost = local.host
            self.localAddress = ClientInfo.formatAddress(host: local.host, port: local.port)
        }
    }

    func update(_ body: (inout Fields) -> Void) {
        fields.withLock { body(&$0) }
    }

    var current: Fields { fields.withLock { $0 } }

    /// The session did something at monotonic time `now` (for CLIENT LIST's idle).
    @inline(__always)
    func noteActivity(_ now: Double) {
        lastActiveMs.store(Int(now * 1000), ordering: .relaxed)
    }

    /// The record as CLIENT LIST shows it at monotonic time `now`.
    func info(now: Double) -> ClientInfo {
        let f = current
        let idleMs = Int(now * 1000) - lastActiveMs.load(ordering: .relaxed)
        return ClientInfo(id: id, address: address, localAddress: localAddress, fd: fd, name: f.name,
                          ageSeconds: max(0, Int(now - connectedAt)), idleSeconds: max(0, idleMs / 1000), user: f.user,
                          protocolVersion: f.protocolVersion, libraryName: f.libraryName, libraryVersion: f.libraryVersion)
    }
}

/// The proxy's client sessions, by id, over all workers.
final class ClientRegistry: @unchecked Sendable {
    private struct Entry {
        let record: ClientRecord
        /// Touched by its own worker only (closeKilledClients).
        let session: ClientSession
    }

    private let entries = Mutex<[Int64: Entry]>([:])
    /// One timer event per worker, created on that worker's thread; adding it (any thread,
    /// evthread locking is on) makes that worker close its killed sessions.
    private let killEvents = Mutex<[Int: OpaquePointer]>([:])

    /// Adds a starting session (on its worker's thread) and returns its record.
    func register(_ session: ClientSession) -> ClientRecord {
        let worker = session.worker
        let record = ClientRecord(id: session.id, fd: session.fd, workerIndex: worker.index, now: MonotonicClock.seconds())
        entries.withLock { $0[session.id] = Entry(record: record, session: session) }
        killEvents.withLock { events in
            if events[worker.index] == nil {
                let me = Unmanaged.passUnretained(worker).toOpaque()
                events[worker.index] = event_new(worker.base, -1, 0, workerKillCallback, me)
            }
        }
        return record
    }

    func unregister(_ session: ClientSession) {
        _ = entries.withLock { $0.removeValue(forKey: session.id) }
    }

    /// Gives back the table's room for clients that have left (a dictionary keeps its
    /// largest capacity otherwise); see ProcessMemory.
    func compact() {
        entries.withLock { $0 = $0.compacted() }
    }

    /// Every registered session's record, in id order.
    func records() -> [ClientRecord] {
        entries.withLock { $0.values.map(\.record) }.sorted { $0.id < $1.id }
    }

    /// Asks the workers owning these sessions to close them (in their next loop iteration,
    /// so a reply already owed to the client asking goes out first).
    func requestKill(_ records: [ClientRecord]) {
        var workers = Set<Int>()
        for record in records {
            record.killRequested.store(true, ordering: .relaxed)
            workers.insert(record.workerIndex)
        }
        killEvents.withLock { events in
            for index in workers {
                guard let event = events[index] else { continue }
                var now = timeval(tv_sec: 0, tv_usec: 0)
                event_add(event, &now)
            }
        }
    }

    /// Frees worker `index`'s kill event: on that worker's thread when its loop ended, before
    /// its event base is freed (under the lock, so no requestKill can add it meanwhile).
    func workerStopped(_ index: Int) {
        killEvents.withLock { events in
            if let event = events.removeValue(forKey: index) { event_free(event) }
        }
    }

    /// The sessions of worker `index` that CLIENT KILL asked to close.
    fileprivate func killed(onWorker index: Int) -> [ClientSession] {
        entries.withLock { entries in
            entries.values.filter { $0.record.workerIndex == index && $0.record.killRequested.load(ordering: .relaxed) }
                .map(\.session)
        }
    }
}

extension Worker {
    /// Closes the sessions of this worker that CLIENT KILL asked for (this worker's thread).
    fileprivate func closeKilledClients() {
        for session in context.sessions.killed(onWorker: index) where !session.closed {
            session.close()
        }
    }
}

private let workerKillCallback: event_callback_fn = { _, _, ctx in
    Unmanaged<Worker>.fromOpaque(ctx!).takeUnretainedValue().closeKilledClients()
}

/// The numeric host and port at either end of a connected socket ("?" and 0 if unknown); for
/// a Unix socket, its path as the host.
private func socketEndpoint(_ fd: Int32, peer: Bool) -> (host: String, port: Int, isUnix: Bool) {
    var storage = sockaddr_storage()
    var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
    let status = withUnsafeMutablePointer(to: &storage) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { peer ? getpeername(fd, $0, &length) : getsockname(fd, $0, &length) }
    }
    guard status == 0 else { return ("?", 0, false) }
    var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
    switch Int32(storage.ss_family) {
    case AF_INET:
        return withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { sin in
                var address = sin.pointee.sin_addr
                inet_ntop(AF_INET, &address, &text, socklen_t(text.count))
                return (String(cString: text), Int(UInt16(bigEndian: sin.pointee.sin_port)), false)
            }
        }
    case AF_INET6:
        return withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { sin6 in
                var address = sin6.pointee.sin6_addr
                inet_ntop(AF_INET6, &address, &text, socklen_t(text.count))
                return (String(cString: text), Int(UInt16(bigEndian: sin6.pointee.sin6_port)), false)
            }
        }
    case AF_UNIX:
        return withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr_un.self, capacity: 1) { sun in
                var path = sun.pointee.sun_path
                let name = withUnsafeBytes(of: &path) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                return (name, 0, true)
            }
        }
    default:
        return ("?", 0, false)
    }
}
