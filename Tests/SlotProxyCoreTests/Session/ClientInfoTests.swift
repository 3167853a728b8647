import Testing
@testable import SlotProxyCore

private func client(_ id: Int64, addr: String = "127.0.0.1:5000", user: String = "default") -> ClientInfo {
    ClientInfo(id: id, address: addr, localAddress: "127.0.0.1:7777", fd: Int32(10 + id), user: user)
}

@Suite("ClientInfo and the CLIENT LIST / KILL filters")
struct ClientInfoTests {
    @Test("a CLIENT LIST line has Redis's key=value fields; unknown last command is NULL")
    func line() {
        var info = ClientInfo(id: 7, address: "127.0.0.1:51046", localAddress: "127.0.0.1:7777", fd: 12, name: "web",
                              ageSeconds: 3, idleSeconds: 1, user: "alice", protocolVersion: 3, libraryName: "redis-py",
                              libraryVersion: "8.1")
        #expect(info.line == "id=7 addr=127.0.0.1:51046 laddr=127.0.0.1:7777 fd=12 name=web age=3 idle=1 flags=N db=0 cmd=NULL user=alice resp=3 lib-name=redis-py lib-ver=8.1")
        info.lastCommand = "client|list"
        #expect(info.line.contains(" cmd=client|list "))
    }

    @Test("addresses are ip:port, IPv6 in brackets")
    func addresses() {
        #expect(ClientInfo.formatAddress(host: "127.0.0.1", port: 6379) == "127.0.0.1:6379")
        #expect(ClientInfo.formatAddress(host: "::1", port: 6379) == "[::1]:6379")
    }

    @Test("CLIENT LIST: everyone, TYPE, ID, and Redis's errors")
    func listFilter() throws {
        let all = try ClientListFilter.parse([]).get()
        #expect(all.matches(client(1)))
        let normal = try ClientListFilter.parse(["TYPE", "Normal"]).get()
        #expect(normal.matches(client(1)))
        let pubsub = try ClientListFilter.parse(["type", "pubsub"]).get()
        #expect(!pubsub.matches(client(1)))
        let ids = try ClientListFilter.parse(["ID", "2", "3"]).get()
        #expect(!ids.matches(client(1)) && ids.matches(client(2)) && ids.matches(client(3)))
        #expect(ClientListFilter.parse(["TYPE", "x"]) == .failure(ClientCommandError("ERR Unknown client type 'x'")))
        #expect(ClientListFilter.parse(["ID", "0"]) == .failure(ClientCommandError("ERR Invalid client ID")))
        #expect(ClientListFilter.parse(["ID", "x"]) == .failure(ClientCommandError("ERR Invalid client ID")))
        #expect(ClientListFilter.parse(["TYPE", "normal", "ID", "1"]) == .failure(ClientCommandError("ERR syntax error")))
        #expect(ClientListFilter.parse(["FOO"]) == .failure(ClientCommandError("ERR syntax error")))
    }

    @Test("CLIENT KILL old form: by address, may kill the caller")
    func killOldForm() throws {
        let filter = try ClientKillFilter.parse(["127.0.0.1:5000"], userNames: ["default"]).get()
        #expect(filter.isOldForm && !filter.skipMe)
        #expect(filter.matches(client(1), callerID: 1))
        #expect(!filter.matches(client(2, addr: "127.0.0.1:5001"), callerID: 1))
    }

    @Test("CLIENT KILL filters combine; SKIPME yes spares the caller by default")
    func killFilters() throws {
        let byID = try ClientKillFilter.parse(["ID", "2"], userNames: ["default"]).get()
        #expect(!byID.isOldForm && byID.skipMe)
        #expect(byID.matches(client(2), callerID: 1))
        #expect(!byID.matches(client(3), callerID: 1))
        #expect(!byID.matches(client(2), callerID: 2))
        let me = try ClientKillFilter.parse(["id", "2", "skipme", "NO"], userNames: ["default"]).get()
        #expect(me.matches(client(2), callerID: 2))
        let byUser = try ClientKillFilter.parse(["USER", "alice", "ADDR", "127.0.0.1:5000"], userNames: ["default", "alice"]).get()
        #expect(byUser.matches(client(4, user: "alice"), callerID: 1))
        #expect(!byUser.matches(client(4, user: "default"), callerID: 1))
        #expect(!byUser.matches(client(4, addr: "127.0.0.1:1", user: "alice"), callerID: 1))
        let byLocal = try ClientKillFilter.parse(["LADDR", "127.0.0.1:7778"], userNames: []).get()
        #expect(!byLocal.matches(client(4), callerID: 1))
        let replicas = try ClientKillFilter.parse(["TYPE", "replica"], userNames: []).get()
        #expect(!replicas.matches(client(4), callerID: 1))
    }

    @Test("CLIENT KILL errors are Redis 7.0's")
    func killErrors() {
        func error(_ args: [String]) -> String? {
            if case .failure(let e) = ClientKillFilter.parse(args, userNames: ["default"]) { return e.message }
            return nil
        }
        #expect(error([]) == "ERR syntax error")
        #expect(error(["a", "b", "c"]) == "ERR syntax error")
        #expect(error(["ID", "0"]) == "ERR client-id should be greater than 0")
        #expect(error(["ID", "x"]) == "ERR client-id should be greater than 0")
        #expect(error(["TYPE", "x"]) == "ERR Unknown client type 'x'")
        #expect(error(["USER", "bob"]) == "ERR No such user 'bob'")
        #expect(error(["SKIPME", "maybe"]) == "ERR syntax error")
        #expect(error(["MAXAGE", "1"]) == "ERR syntax error")
    }
}
