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

struct SocketError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
