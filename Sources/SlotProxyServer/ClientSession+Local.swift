// Commands the proxy answers itself, because they are about the client's own connection
// (HELLO, AUTH, SELECT, CLIENT SETNAME…) or about the proxy (INFO, SLOWLOG: +Info). Replies match Redis's,
// so client handshakes (redis-py's HELLO 3 + CLIENT SETINFO, redis-cli's) just work.
// Other clients (CLIENT LIST, KILL) are in +Clients, the cluster as the proxy presents it
// and administrative commands in +Cluster.

import Glibc
import SlotProxyCore

extension ClientSession {
    typealias LocalHandler = (ClientSession, RequestArguments) -> Void

    /// One handler per local command, by the name the command table gives it.
    static let localHandlers: [String: LocalHandler] = [
        "ping": { s, a in s.ping(a) },
        "echo": { s, a in s.respond(RESPReply.bulk(Array(a[1]))) },
        "quit": { s, _ in s.quit() },
        "select": { s, a in s.select(a) },
        "hello": { s, a in s.hello(a) },
        "auth": { s, a in s.auth(a) },
        "reset": { s, _ in s.reset() },
        "info": { s, a in s.info(a) },
        "slowlog|get": { s, a in s.slowlogGet(a) },
        "slowlog|len": { s, _ in s.slowlogLen() },
        "slowlog|reset": { s, _ in s.slowlogReset() },
        "slowlog|help": { s, _ in s.slowlogHelp() },
        "client|setname": { s, a in s.setName(a[2]) },
        "client|getname": { s, _ in
            s.respond(s.name.map { RESPReply.bulk($0) } ?? RESPReply.null(protocolVersion: s.protocolVersion))
        },
        "client|id": { s, _ in s.respond(RESPReply.integer(Int(s.id))) },
        "client|setinfo": { s, a in s.setInfo(a) },
        "client|info": { s, _ in s.respond(s.infoReply(s.clientInfo().line + "\n")) },
        "acl|whoami": { s, _ in s.respond(RESPReply.bulk(s.record?.current.user ?? "default")) },
        "client|list": { s, a in s.clientList(a) },
        "client|kill": { s, a in s.clientKill(a) },
        "client|reply": { s, a in s.clientReply(a) },
        "client|no-evict": { s, a in s.onOffOption(a) },
        "client|no-touch": { s, a in s.onOffOption(a) },
        "cluster|info": { s, _ in s.respond(s.infoReply(s.presentedCluster().info())) },
        "cluster|slots": { s, _ in s.respond(RESPReply.encode(s.presentedCluster().slots(), protocolVersion: s.protocolVersion)) },
        "cluster|shards": { s, _ in s.respond(RESPReply.encode(s.presentedCluster().shards(), protocolVersion: s.protocolVersion)) },
        "cluster|nodes": { s, _ in s.respond(s.infoReply(s.presentedCluster().nodes())) },
        "cluster|myid": { s, _ in s.respond(RESPReply.bulk(s.presentedCluster().nodeID)) },
        "cluster|keyslot": { s, a in s.respond(RESPReply.integer(Int(HashSlot(key: a[2]).rawValue))) },
        "cluster|replicas": { s, a in s.clusterNodeQuery(a, answer: RESPReply.arrayHeader(0)) },
        "cluster|slaves": { s, a in s.clusterNodeQuery(a, answer: RESPReply.arrayHeader(0)) },
        "cluster|count-failure-reports": { s, a in s.clusterNodeQuery(a, answer: RESPReply.integer(0)) },
        "cluster|countkeysinslot": { s, a in s.clusterSlotQuery(a) },
        "cluster|getkeysinslot": { s, a in s.clusterSlotQuery(a) },
    ]

    func handleLocal(_ spec: CommandSpec, _ args: RequestArguments) {
        record?.noteActivity(worker.now)
        if let handler = Self.localHandlers[spec.name] {
            handler(self, args)
        } else if spec.policy.administrative {
            administrative(spec, args)
        } else {
            respondError("ERR slotproxy: '\(spec.name)' is not answered by this version")
        }
    }

    private func ping(_ args: RequestArguments) {
        if args.count > 1 {
            respond(RESPReply.bulk(Array(args[1])))
        } else {
            respond(RESPReply.pong)
        }
    }

    private func select(_ args: RequestArguments) {
        guard let db = args.integer(1), db >= Int32.min, db <= Int32.max else {
            respondError("ERR value is not an integer or out of range")
            return
        }
        respond(db == 0 ? RESPReply.ok : RESPReply.error("ERR SELECT is not allowed in cluster mode"))
    }

    /// HELLO [protover [AUTH username password] [SETNAME clientname]]
    private func hello(_ args: RequestArguments) {
        var version = protocolVersion
        if args.count > 1 {
            guard let v = args.integer(1), v >= Int32.min, v <= Int32.max else {
                respondError("ERR Protocol version is not an integer or out of range")
                return
            }
            guard v == 2 || v == 3 else {
                respondError("NOPROTO unsupported protocol version")
                return
            }
            version = Int(v)
        }
        var newName: [UInt8]?
        var i = 2
        while i < args.count {
            let more = args.count - i - 1
            if args.equalsLowercased(i, "auth") && more >= 2 {
                guard authenticate(user: Array(args[i + 1]), password: Array(args[i + 2])) else {
                    respondError(Self.wrongPassword)
                    return
                }
                i += 3
            } else if args.equalsLowercased(i, "setname") && more >= 1 {
                newName = Array(args[i + 1])
                i += 2
            } else {
                respondError("ERR Syntax error in HELLO option '\(args.string(i))'")
                return
            }
        }
        if let newName {
            guard Self.isValidName(newName) else {
                respondError("ERR Client names cannot contain spaces, newlines or special characters.")
                return
            }
            name = newName.isEmpty ? nil : String(decoding: newName, as: UTF8.self)
            record?.update { [name] in $0.name = name ?? "" }
        }
        guard authenticated else {
            respondError("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time")
            return
        }
        protocolVersion = version
        record?.update { $0.protocolVersion = version }
        let fields: [RESPValue] = [
            .bulkString(Array("server".utf8)), .bulkString(Array("redis".utf8)),
            .bulkString(Array("version".utf8)), .bulkString(Array(worker.view.redisVersion.utf8)),
            .bulkString(Array("proto".utf8)), .integer(Int64(version)),
            .bulkString(Array("id".utf8)), .integer(id),
            .bulkString(Array("mode".utf8)), .bulkString(Array("standalone".utf8)),
            .bulkString(Array("role".utf8)), .bulkString(Array("master".utf8)),
            .bulkString(Array("modules".utf8)), .array([]),
        ]
        respond(RESPReply.encode(.map(fields), protocolVersion: version))
    }

    static let wrongPassword = "WRONGPASS invalid username-password pair or user is disabled."

    /// AUTH password | AUTH username password
    private func auth(_ args: RequestArguments) {
        guard args.count <= 3 else {
            respondError("ERR syntax error")
            return
        }
        var user = Array("default".utf8)
        if args.count == 3 {
            user = Array(args[1])
        } else if worker.context.config.requirePass.isEmpty {
            respondError("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?")
            return
        }
        if authenticate(user: user, password: Array(args[args.count - 1])) {
            respond(RESPReply.ok)
        } else {
            respondError(Self.wrongPassword)
        }
    }

    /// Checks a user's password (requirepass for "default", the `users` directive for the
    /// others); on success the session is that user's. A failure leaves the session as it was,
    /// as in Redis.
    private func authenticate(user: [UInt8], password: [UInt8]) -> Bool {
        guard Credentials(worker.context.config).accepts(user: user, password: password) else { return false }
        authenticated = true
        let userName = String(decoding: user, as: UTF8.self)
        record?.update { $0.user = userName }
        return true
    }

    /// Back to a fresh connection's state: RESP2, no name, the default user (needing AUTH
    /// again when requirepass is set).
    private func reset() {
        transaction = nil
        closeOwnConnections()
        protocolVersion = 2
        name = nil
        authenticated = worker.context.config.requirePass.isEmpty
        record?.update { $0.name = ""; $0.user = "default"; $0.protocolVersion = 2 }
        respond(RESPReply.simple("RESET"))
    }

    private func setName(_ raw: UnsafeRawBufferPointer) {
        let bytes = Array(raw)
        guard Self.isValidName(bytes) else {
            respondError("ERR Client names cannot contain spaces, newlines or special characters.")
            return
        }
        name = bytes.isEmpty ? nil : String(decoding: bytes, as: UTF8.self)
        record?.update { [name] in $0.name = name ?? "" }
        respond(RESPReply.ok)
    }

    private func setInfo(_ args: RequestArguments) {
        let isName = args.equalsLowercased(2, "lib-name")
        guard isName || args.equalsLowercased(2, "lib-ver") else {
            respondError("ERR Unrecognized option '\(args.string(2))'")
            return
        }
        guard Self.isValidName(Array(args[3])) else {
            respondError("ERR \(args.string(2)) cannot contain spaces, newlines or special characters.")
            return
        }
        let value = args.string(3)
        record?.update { if isName { $0.libraryName = value } else { $0.libraryVersion = value } }
        respond(RESPReply.ok)
    }

    /// Redis accepts names of printable ASCII without spaces.
    static func isValidName(_ bytes: [UInt8]) -> Bool {
        bytes.allSatisfy { $0 > 32 && $0 < 127 }
    }

    /// This session as CLIENT INFO / CLIENT LIST show it.
    func clientInfo(command: String = "client|info") -> ClientInfo {
        var info = record?.info(now: MonotonicClock.seconds())
            ?? ClientInfo(id: id, address: "?", localAddress: "?", fd: fd, name: name ?? "", protocolVersion: protocolVersion)
        info.lastCommand = command
        return info
    }

    /// The preloaded allocation counter's count, when the test suite preloads it.
    static let allocationCounter: UnsafeMutablePointer<Int>? =
        dlsym(nil, "slotproxy_alloc_count")?.assumingMemoryBound(to: Int.self)
}
