// One client connection as CLIENT LIST, CLIENT INFO and CLIENT KILL see it, and the
// arguments of those two commands. The server layer fills ClientInfo from its session
// registry (any worker's clients); this file only formats, parses and matches.
//
//   CLIENT LIST [TYPE t] [ID id…]  ─ClientListFilter.parse─▶ filter ─▶ ClientInfo.line per client
//   CLIENT KILL addr | filters…    ─ClientKillFilter.parse─▶ filter ─matches─▶ clients to close

/// What CLIENT LIST shows of one client. Fields the proxy does not track (buffer sizes,
/// subscriptions) are left out rather than invented.
public struct ClientInfo: Equatable, Sendable {
    public var id: Int64
    /// The client's address as `ip:port` (`[ip]:port` for IPv6).
    public var address: String
    /// The proxy's address the client connected to.
    public var localAddress: String
    public var fd: Int32
    public var name: String
    public var ageSeconds: Int
    public var idleSeconds: Int
    public var user: String
    public var protocolVersion: Int
    public var libraryName: String
    public var libraryVersion: String
    /// The last command, when known (`client|list` for the client asking).
    public var lastCommand: String?

    public init(id: Int64, address: String, localAddress: String, fd: Int32, name: String = "", ageSeconds: Int = 0,
                idleSeconds: Int = 0, user: String = "default", protocolVersion: Int = 2, libraryName: String = "",
                libraryVersion: String = "", lastCommand: String? = nil) {
        self.id = id
        self.address = address
        self.localAddress = localAddress
        self.fd = fd
        self.name = name
        self.ageSeconds = ageSeconds
        self.idleSeconds = idleSeconds
        self.user = user
        self.protocolVersion = protocolVersion
        self.libraryName = libraryName
        self.libraryVersion = libraryVersion
        self.lastCommand = lastCommand
    }

    /// Redis's `key=value` line, without the newline.
    public var line: String {
        "id=\(id) addr=\(address) laddr=\(localAddress) fd=\(fd) name=\(name) age=\(ageSeconds) idle=\(idleSeconds)"
            + " flags=N db=0 cmd=\(lastCommand ?? "NULL") user=\(user) resp=\(protocolVersion)"
            + " lib-name=\(libraryName) lib-ver=\(libraryVersion)"
    }

    /// `ip:port` as Redis writes a peer address: IPv6 hosts in brackets.
    public static func formatAddress(host: String, port: Int) -> String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}

/// The client types of CLIENT LIST TYPE / CLIENT KILL TYPE. Every proxy client is `normal`.
public enum ClientType: Sendable {
    case normal, master, replica, pubsub

    /// Redis's names (`slave` is `replica`), any case; nil for an unknown one.
    public init?(name: String) {
        switch name.lowercased() {
        case "normal": self = .normal
        case "master": self = .master
        case "replica", "slave": self = .replica
        case "pubsub": self = .pubsub
        default: return nil
        }
    }
}

/// CLIENT LIST's arguments: every client, those of one type, or those with given ids.
public struct ClientListFilter: Equatable, Sendable {
    public var type: ClientType?
    public var ids: [Int64]?

    /// Parses the arguments after `CLIENT LIST`; the error is Redis's text (no leading '-').
    public static func parse(_ arguments: [String]) -> Result<ClientListFilter, ClientCommandError> {
        if arguments.isEmpty { return .success(ClientListFilter()) }
        if arguments.count == 2 && arguments[0].lowercased() == "type" {
            guard let type = ClientType(name: arguments[1]) else {
                return .failure(ClientCommandError("ERR Unknown client type '\(arguments[1])'"))
            }
            return .success(ClientListFilter(type: type))
        }
        if arguments.count > 1 && arguments[0].lowercased() == "id" {
            var ids: [Int64] = []
            for text in arguments.dropFirst() {
                guard let id = Int64(text), id >= 1 else { return .failure(ClientCommandError("ERR Invalid client ID")) }
                ids.append(id)
            }
            return .success(ClientListFilter(ids: ids))
        }
        return .failure(ClientCommandError("ERR syntax error"))
    }

    public func matches(_ client: ClientInfo) -> Bool {
        if let type, type != .normal { return false }
        if let ids, !ids.contains(client.id) { return false }
        return true
    }
}

/// CLIENT KILL's arguments: the old form (`CLIENT KILL ip:port`, answers +OK or an error)
/// or filters (`ID`, `ADDR`, `LADDR`, `USER`, `TYPE`, `SKIPME`; answers the count).
public struct ClientKillFilter: Equatable, Sendable {
    public var id: Int64?
    public var type: ClientType?
    public var address: String?
    public var localAddress: String?
    public var user: String?
    /// Spare the client asking (the new form's default; the old form may kill itself).
    public var skipMe = true
    /// `CLIENT KILL ip:port`: the reply is +OK or "No such client", not a count.
    public var isOldForm = false

    /// Parses the arguments after `CLIENT KILL` as Redis 7.0 does; `userNames` are the users
    /// a USER filter may name.
    public static func parse(_ arguments: [String], userNames: [String]) -> Result<ClientKillFilter, ClientCommandError> {
        var filter = ClientKillFilter()
        if arguments.count == 1 {
            filter.address = arguments[0]
            filter.skipMe = false
            filter.isOldForm = true
            return .success(filter)
        }
        guard arguments.count >= 2, arguments.count % 2 == 0 else { return .failure(ClientCommandError("ERR syntax error")) }
        var i = 0
        while i < arguments.count {
            let option = arguments[i].lowercased()
            let value = arguments[i + 1]
            switch option {
            case "id":
                guard let id = Int64(value), id >= 1 else {
                    return .failure(ClientCommandError("ERR client-id should be greater than 0"))
                }
                filter.id = id
            case "type":
                guard let type = ClientType(name: value) else {
                    return .failure(ClientCommandError("ERR Unknown client type '\(value)'"))
                }
                filter.type = type
            case "addr":
                filter.address = value
            case "laddr":
                filter.localAddress = value
            case "user":
                guard userNames.contains(value) else { return .failure(ClientCommandError("ERR No such user '\(value)'")) }
                filter.user = value
            case "skipme":
                switch value.lowercased() {
                case "yes": filter.skipMe = true
                case "no": filter.skipMe = false
                default: return .failure(ClientCommandError("ERR syntax error"))
                }
            default:
                return .failure(ClientCommandError("ERR syntax error"))
            }
            i += 2
        }
        return .success(filter)
    }

    /// True when `client` is to be closed at the request of client `callerID`.
    public func matches(_ client: ClientInfo, callerID: Int64) -> Bool {
        if skipMe && client.id == callerID { return false }
        if let id, client.id != id { return false }
        if let type, type != .normal { return false }
        if let address, client.address != address { return false }
        if let localAddress, client.localAddress != localAddress { return false }
        if let user, client.user != user { return false }
        return true
    }
}

/// An error reply for a CLIENT subcommand, Redis's text without the leading '-'.
public struct ClientCommandError: Error, Equatable, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
}
