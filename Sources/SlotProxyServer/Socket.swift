// Thin helpers over BSD sockets: resolved addresses, listening sockets, non-blocking
// connects. Everything here is called from event loops, so nothing blocks except
// `SocketAddress.resolve`, which only the topology thread calls for host names.

import CLibevent
import Glibc
import SlotProxyCore

/// A resolved IPv4 or IPv6 socket address.
struct SocketAddress: Sendable {
    var storage = sockaddr_storage()
    var length: socklen_t = 0

    var family: Int32 { Int32(storage.ss_family) }

    /// Parses a numeric IPv4/IPv6 host without any lookup (safe on an event loop).
    static func numeric(host: String, port: Int) -> SocketAddress? {
        lookup(host: host, port: port, flags: AI_NUMERICHOST | AI_NUMERICSERV)
    }

    /// Resolves a host name (blocking: topology thread only).
    static func resolve(host: String, port: Int) -> SocketAddress? {
        numeric(host: host, port: port) ?? lookup(host: host, port: port, flags: AI_NUMERICSERV)
    }

    private static func lookup(host: String, port: Int, flags: Int32) -> SocketAddress? {
        var hints = addrinfo()
        hints.ai_flags = flags
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        let h = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        guard getaddrinfo(h, String(port), &hints, &result) == 0, let first = result else { return nil }
        defer { freeaddrinfo(result) }
        // A name with both kinds of address (localhost: ::1 and 127.0.0.1) gets its IPv4 one:
        // Redis nodes commonly bind IPv4 only, and an IPv6-only node announces an IPv6 name.
        var info = first
        var candidate: UnsafeMutablePointer<addrinfo>? = first
        while let c = candidate {
            if c.pointee.ai_family == AF_INET { info = c; break }
            candidate = c.pointee.ai_next
        }
        var address = SocketAddress()
        withUnsafeMutableBytes(of: &address.storage) { dst in
            dst.copyMemory(from: UnsafeRawBufferPointer(start: info.pointee.ai_addr, count: Int(info.pointee.ai_addrlen)))
        }
        address.length = info.pointee.ai_addrlen
        return address
    }
}

enum Socket {
    /// Marks `fd` non-blocking and close-on-exec.
    static func configureNonBlocking(_ fd: Int32) {
        _ = slotproxy_fcntl_nonblock(fd)
    }

    static func setOption(_ fd: Int32, _ level: Int32, _ name: Int32, _ value: Int32) {
        var v = value
        _ = setsockopt(fd, level, name, &v, socklen_t(MemoryLayout<Int32>.size))
    }

    /// TCP_NODELAY and keepalive for a client or backend connection.
    static func configureStream(_ fd: Int32, keepAliveSeconds: Int) {
        setOption(fd, Int32(IPPROTO_TCP), TCP_NODELAY, 1)
        if keepAliveSeconds > 0 {
            setOption(fd, SOL_SOCKET, SO_KEEPALIVE, 1)
            setOption(fd, Int32(IPPROTO_TCP), TCP_KEEPIDLE, Int32(keepAliveSeconds))
        }
    }

    /// A non-blocking listening socket with SO_REUSEPORT, so every worker can own one.
    static func listen(host: String, port: Int, backlog: Int32) throws -> Int32 {
        let wildcard = host == "*" || host == "0.0.0.0"
        guard let address = wildcard ? SocketAddress.numeric(host: "0.0.0.0", port: port)
                                     : SocketAddress.numeric(host: host, port: port) else {
            throw SocketError("invalid bind address '\(host)'")
        }
        let fd = socket(address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SocketError("socket(): \(String(cString: strerror(errno)))") }
        setOption(fd, SOL_SOCKET, SO_REUSEADDR, 1)
        setOption(fd, SOL_SOCKET, SO_REUSEPORT, 1)
        if address.family == AF_INET6 { setOption(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, 1) }
        var a = address
        let bound = withUnsafePointer(to: &a.storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, a.length) }
        }
        guard bound == 0 else {
            let e = String(cString: strerror(errno))
            close(fd)
            throw SocketError("cannot bind \(host):\(port): \(e)")
        }
        guard Glibc.listen(fd, backlog) == 0 else {
            let e = String(cString: strerror(errno))
            close(fd)
            throw SocketError("cannot listen on \(host):\(port): \(e)")
        }
        configureNonBlocking(fd)
        return fd
    }

    /// Starts a non-blocking connect. Returns the socket, or nil when it failed at once.
    static func connect(to address: SocketAddress, keepAliveSeconds: Int) -> Int32? {
        let fd = socket(address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return nil }
        configureNonBlocking(fd)
        configureStream(fd, keepAliveSeconds: keepAliveSeconds)
        var a = address
        let r = withUnsafePointer(to: &a.storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, a.length) }
        }
        if r == 0 || errno == EINPROGRESS { return fd }
        close(fd)
        return nil
    }

    /// The pending error of a socket whose non-blocking connect finished.
    static func pendingError(_ fd: Int32) -> Int32 {
        var err: Int32 = 0
        var len = socklen_t(MemoryLayout<Int32>.size)
        _ = getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len)
        return err
    }
}

/// The Unix domain socket clients may connect to (`unixsocket`). Linux does not spread a
/// Unix socket's connections over SO_REUSEPORT listeners, so there is one listening socket,
/// made by Proxy before the workers run; every worker's loop watches it and accepts from it
/// (a worker that finds nothing left gets EAGAIN). Its file is removed when the shutdown
/// starts, so new clients are refused at once, and the socket closed once every worker
/// has stopped.
final class UnixListener: Sendable {
    let path: String
    let fd: Int32
    /// The socket file's identity, so that removing it never removes another process's file.
    private let device: UInt64
    private let inode: UInt64

    /// sockaddr_un's sun_path holds 108 bytes, the last one the terminating NUL.
    static let maxPathBytes = 107

    /// Binds and listens on `path`, replacing a socket file nobody listens on any more.
    /// - Parameter permissions: chmod bits for the file; 0 leaves what the umask gave.
    init(path: String, permissions: Int, backlog: Int32) throws {
        guard path.utf8.count <= Self.maxPathBytes else {
            throw SocketError("unixsocket path is too long: \(path.utf8.count) bytes, at most \(Self.maxPathBytes)")
        }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { dst in
            dst.copyBytes(from: path.utf8)
            dst[path.utf8.count] = 0
        }
        try Self.removeStaleSocket(path, address)
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SocketError("socket(AF_UNIX): \(String(cString: strerror(errno)))") }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0 else {
            let e = String(cString: strerror(errno))
            Glibc.close(fd)
            throw SocketError("cannot bind unixsocket \(path): \(e)")
        }
        // After the bind a failure also removes the file the bind made.
        func failure(_ what: String) -> SocketError {
            let e = String(cString: strerror(errno))
            Glibc.close(fd)
            unlink(path)
            return SocketError("\(what) unixsocket \(path): \(e)")
        }
        if permissions != 0 && chmod(path, mode_t(permissions)) != 0 { throw failure("cannot chmod") }
        guard Glibc.listen(fd, backlog) == 0 else { throw failure("cannot listen on") }
        var info = stat()
        guard stat(path, &info) == 0 else { throw failure("cannot stat") }
        Socket.configureNonBlocking(fd)
        self.path = path
        self.fd = fd
        self.device = UInt64(info.st_dev)
        self.inode = UInt64(info.st_ino)
    }

    /// A socket file at `path` is removed when connecting to it is refused (its proxy is
    /// gone); one that accepts the connection, or a file of any other kind, is an error.
    private static func removeStaleSocket(_ path: String, _ address: sockaddr_un) throws {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        guard info.st_mode & S_IFMT == S_IFSOCK else {
            throw SocketError("unixsocket \(path) exists and is not a socket")
        }
        // Non-blocking: a live listener whose backlog is full answers EAGAIN instead of waiting.
        let probe = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard probe >= 0 else { return }
        defer { Glibc.close(probe) }
        var a = address
        let connected = withUnsafePointer(to: &a) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(probe, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        if connected == 0 || errno == EAGAIN {
            throw SocketError("unixsocket \(path) is in use: another process accepts connections on it")
        }
        unlink(path)
    }

    /// Removes the socket file if it is still this listener's (any thread; new connections
    /// are refused from then on).
    func removeFile() {
        var info = stat()
        guard lstat(path, &info) == 0, UInt64(info.st_dev) == device, UInt64(info.st_ino) == inode else { return }
        unlink(path)
    }

    /// Closes the listening socket; only once no worker watches it any more.
    func close() {
        Glibc.close(fd)
    }
}

struct SocketError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
