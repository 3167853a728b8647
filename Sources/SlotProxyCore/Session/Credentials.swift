// Who a client may authenticate as, and the check AUTH and HELLO … AUTH make: the default
// user (its password is `requirepass`) plus the users of the `users` directive. Also the
// AUTH request the proxy itself sends first on every connection to a cluster node.
//
//   requirepass + users ──▶ Credentials ──accepts(user, password)──▶ ClientSession.authenticated
//   backend-user + backend-password ──▶ ProxyConfig.backendAuthArguments ──▶ every node connection

/// The users clients may authenticate as.
public struct Credentials: Sendable {
    /// The default user's password; nil when it has none (Redis's `nopass`).
    private let defaultPassword: [UInt8]?
    private let users: [String: [UInt8]]

    public init(requirePass: String, users: [ProxyUser] = []) {
        self.defaultPassword = requirePass.isEmpty ? nil : Array(requirePass.utf8)
        var table: [String: [UInt8]] = [:]
        for user in users { table[user.name] = Array(user.password.utf8) }
        self.users = table
    }

    public init(_ config: ProxyConfig) {
        self.init(requirePass: config.requirePass, users: config.users)
    }

    /// True when a new connection must authenticate before anything else (requirepass set).
    public var defaultUserRequiresPassword: Bool { defaultPassword != nil }

    /// Every user name: "default" first, then the configured users in name order.
    public var userNames: [String] { ["default"] + users.keys.sorted() }

    /// True when `password` is `user`'s. The default user without requirepass takes any
    /// password, as a Redis `nopass` user does.
    public func accepts(user: [UInt8], password: [UInt8]) -> Bool {
        let name = String(decoding: user, as: UTF8.self)
        if name == "default" {
            guard let expected = defaultPassword else { return true }
            return Self.constantTimeEquals(expected, password)
        }
        guard let expected = users[name] else { return false }
        return Self.constantTimeEquals(expected, password)
    }

    /// Compares without returning early at the first difference, so the time taken does not
    /// tell how much of a guess was right.
    static func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(truncatingIfNeeded: a.count ^ b.count)
        if a.count != b.count { difference |= 1 }
        let n = max(a.count, b.count)
        for i in 0..<n {
            let x = i < a.count ? a[i] : 0
            let y = i < b.count ? b[i] : 0
            difference |= x ^ y
        }
        return difference == 0
    }
}

extension ProxyConfig {
    /// The AUTH request that opens every connection to a cluster node: `AUTH password`, or
    /// `AUTH user password` with `backend-user`; nil when `backend-password` is "".
    public var backendAuthArguments: [String]? {
        guard !backendPassword.isEmpty else { return nil }
        return backendUser.isEmpty ? ["AUTH", backendPassword] : ["AUTH", backendUser, backendPassword]
    }

    /// `backendAuthArguments` as RESP bytes.
    public var backendAuthCommand: [UInt8]? {
        backendAuthArguments.map { RESPValueEncoder.command($0) }
    }
}
