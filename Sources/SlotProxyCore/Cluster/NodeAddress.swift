// Where a cluster node listens: a host (IP address or DNS name) and a port. Addresses come in
// from seeds in the config, from CLUSTER SHARDS / CLUSTER SLOTS and from MOVED / ASK errors;
// the SlotMap keeps one per primary and the I/O layer connects to them. Cold path.

/// The host and port of a cluster node.
public struct NodeAddress: Hashable, Sendable, CustomStringConvertible {
    /// An IPv4 or IPv6 address (without brackets) or a host name.
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `host:port`, splitting at the last colon so bare IPv6 works ("::1:7000"),
    /// and the bracketed form "[::1]:7000". Nil for an empty host or a port outside 0...65535.
    public init?(parsing text: String) {
        guard let colon = text.lastIndex(of: ":") else { return nil }
        var host = Substring(text[..<colon])
        let portText = text[text.index(after: colon)...]
        if host.hasPrefix("[") {
            // "[::1]:7000": the brackets only delimit the host.
            guard host.hasSuffix("]") && host.count >= 2 else { return nil }
            host = host.dropFirst().dropLast()
        }
        guard !host.isEmpty, let port = NodeAddress.port(portText) else { return nil }
        self.init(host: String(host), port: port)
    }

    /// "host:port", with IPv6 hosts in brackets: "[::1]:7000".
    public var description: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// A decimal TCP port: digits only, 0...65535.
    static func port<S: StringProtocol>(_ text: S) -> Int? {
        guard !text.isEmpty, text.utf8.count <= 5, text.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }),
              let port = Int(text), port <= 65535 else { return nil }
        return port
    }
}
