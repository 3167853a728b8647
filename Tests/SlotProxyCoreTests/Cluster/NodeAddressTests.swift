import Testing
@testable import SlotProxyCore

@Suite("NodeAddress")
struct NodeAddressTests {
    @Test("parses host:port, splitting at the last colon")
    func parses() {
        #expect(NodeAddress(parsing: "127.0.0.1:7000") == NodeAddress(host: "127.0.0.1", port: 7000))
        #expect(NodeAddress(parsing: "redis-0.redis:6379") == NodeAddress(host: "redis-0.redis", port: 6379))
        #expect(NodeAddress(parsing: "::1:7000") == NodeAddress(host: "::1", port: 7000))
        #expect(NodeAddress(parsing: "[::1]:7000") == NodeAddress(host: "::1", port: 7000))
        #expect(NodeAddress(parsing: "[fe80::1%eth0]:6379") == NodeAddress(host: "fe80::1%eth0", port: 6379))
    }

    @Test("rejects malformed addresses", arguments: [
        "", "7000", "host", ":7000", "host:", "host:-1", "host:65536", "host:7x", "[::1:7000", "[]:7000", "host: 7000",
    ])
    func rejects(text: String) {
        #expect(NodeAddress(parsing: text) == nil)
    }

    @Test("prints host:port, IPv6 in brackets, and round-trips")
    func prints() {
        #expect(NodeAddress(host: "127.0.0.1", port: 7000).description == "127.0.0.1:7000")
        #expect(NodeAddress(host: "::1", port: 7000).description == "[::1]:7000")
        for text in ["127.0.0.1:7000", "[::1]:7000", "node-1.example:36001"] {
            #expect(NodeAddress(parsing: text)?.description == text)
        }
    }
}
