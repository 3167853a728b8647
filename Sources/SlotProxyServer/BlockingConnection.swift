// A plain blocking Redis connection with timeouts, for the topology thread only (never an
// event loop): it asks nodes COMMAND, CLUSTER SHARDS / CLUSTER SLOTS and INFO.

import CLibevent
import Glibc
import SlotProxyCore

final class BlockingConnection {
    private let fd: Int32
    private var buffer: [UInt8] = []

    /// Connects within `timeoutMs`; nil if the node cannot be reached.
    static func open(_ address: SocketAddress, timeoutMs: Int) -> BlockingConnection? {
        guard let fd = Socket.connect(to: address, keepAliveSeconds: 0) else { return nil }
        var pfd = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        guard poll(&pfd, 1, Int32(timeoutMs)) == 1, Socket.pendingError(fd) == 0 else {
            close(fd)
            return nil
        }
        // Back to blocking, with the same timeout on every read and write.
        let flags = fcntl(fd, F_GETFL, 0)
        _ = fcntl(fd, F_SETFL, flags & ~O_NONBLOCK)
        var tv = timeval(tv_sec: timeoutMs / 1000, tv_usec: (timeoutMs % 1000) * 1000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        return BlockingConnection(fd: fd)
    }

    private init(fd: Int32) { self.fd = fd }

    deinit { close(fd) }

    /// Sends one command and waits for its reply.
    func call(_ args: [String]) throws -> RESPValue {
        let request = RESPValueEncoder.command(args)
        var sent = 0
        while sent < request.count {
            let n = request.withUnsafeBytes { write(fd, $0.baseAddress! + sent, request.count - sent) }
            guard n > 0 else { throw SocketError("write failed: \(String(cString: strerror(errno)))") }
            sent += n
        }
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            if let (value, length) = try RESPValueDecoder.decode(buffer) {
                buffer.removeFirst(length)
                return value
            }
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
            guard n > 0 else { throw SocketError(n == 0 ? "connection closed" : "read failed: \(String(cString: strerror(errno)))") }
            buffer.append(contentsOf: chunk[0..<n])
        }
    }
}
