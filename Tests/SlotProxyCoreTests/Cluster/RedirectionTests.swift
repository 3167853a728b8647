import Testing
@testable import SlotProxyCore

@Suite("Redirection")
struct RedirectionTests {
    private func address(_ host: String, _ port: Int) -> NodeAddress { NodeAddress(host: host, port: port) }

    @Test("parses MOVED and ASK")
    func movedAndAsk() {
        #expect(Redirection(errorLine: "MOVED 3999 127.0.0.1:6381") == .moved(slot: HashSlot(rawValue: 3999), address: address("127.0.0.1", 6381)))
        #expect(Redirection(errorLine: "ASK 3999 127.0.0.1:6381") == .ask(slot: HashSlot(rawValue: 3999), address: address("127.0.0.1", 6381)))
        #expect(Redirection(errorLine: "MOVED 0 a:1")?.slot == HashSlot(rawValue: 0))
        #expect(Redirection(errorLine: "MOVED 16383 redis-2.example:6379")?.address == address("redis-2.example", 6379))
        // A leading '-' is tolerated.
        #expect(Redirection(errorLine: "-ASK 1 h:2") == .ask(slot: HashSlot(rawValue: 1), address: address("h", 2)))
    }

    @Test("splits IPv6 hosts at the last colon")
    func ipv6() {
        #expect(Redirection(errorLine: "MOVED 3999 ::1:7000")?.address == address("::1", 7000))
        #expect(Redirection(errorLine: "ASK 12 2001:db8::5:6379")?.address == address("2001:db8::5", 6379))
        #expect(Redirection(errorLine: "MOVED 3999 [::1]:7000")?.address == address("::1", 7000))
    }

    @Test("keeps an unknown host as \"\" and substitutes the sender's host on request")
    func unknownHost() throws {
        let empty = try #require(Redirection(errorLine: "MOVED 3999 :6381"))
        #expect(empty == .moved(slot: HashSlot(rawValue: 3999), address: address("", 6381)))
        #expect(empty.hasUnknownHost)
        #expect(empty.resolvingUnknownHost("10.0.0.7") == .moved(slot: HashSlot(rawValue: 3999), address: address("10.0.0.7", 6381)))
        let question = try #require(Redirection(errorLine: "ASK 5 ?:6381"))
        #expect(question == .ask(slot: HashSlot(rawValue: 5), address: address("", 6381)))
        let known = try #require(Redirection(errorLine: "MOVED 5 h:1"))
        #expect(!known.hasUnknownHost)
        #expect(known.resolvingUnknownHost("other") == known)
    }

    @Test("rejects other errors and garbage", arguments: [
        "", "MOVED", "MOVED ", "MOVED 3999", "MOVED 3999 ", "MOVED 3999 127.0.0.1", "MOVED 3999 127.0.0.1:",
        "MOVED 16384 127.0.0.1:6381", "MOVED 123456 h:1", "MOVED -1 h:1", "MOVED x h:1", "MOVED  3999 h:1",
        "MOVED 3999 h:65536", "MOVED 3999 h:12ab", "MOVED 3999 h:1 extra", "moved 3999 h:1", "ASKING 3999 h:1",
        "ERR unknown command", "CLUSTERDOWN The cluster is down", "TRYAGAIN Multiple keys request during rehashing of slot",
        "MOVED 3999 h:-1", "MOVED 3999 h:123456",
    ])
    func garbage(line: String) {
        #expect(Redirection(errorLine: line) == nil)
    }

    @Test("parses the MOVED and ASK errors captured from Redis 7.0.15")
    func captured() throws {
        let replies = try RESPValueDecoder.decodeAll(ClusterFixtures.bytes("redirections.resp"))
        let parsed = replies.map { reply -> Redirection? in
            guard case .error(let line) = reply else { return nil }
            return Redirection(errorLine: line)
        }
        let slot = HashSlot(key: "foo")
        #expect(slot.rawValue == 12182)
        #expect(parsed == [
            .moved(slot: slot, address: address("127.0.0.1", 36003)),
            .ask(slot: slot, address: address("127.0.0.1", 36001)),
            .moved(slot: slot, address: address("node-36003.example", 36003)),  // preferred endpoint: hostname
            .moved(slot: slot, address: address("", 36003)),                    // unknown-endpoint: ":36003"
            .moved(slot: slot, address: address("", 36003)),                    // hostname preferred, none set: "?:36003"
        ])
    }
}
