import Testing
@testable import SlotProxyCore

@Suite("limit directives")
struct LimitDirectivesTests {
    @Test("defaults: Redis's protocol limits, a bounded backend depth")
    func defaults() {
        let config = ProxyConfig()
        #expect(config.protoMaxMultibulkLen == 1024 * 1024)
        #expect(config.protoInlineMaxSize == 64 * 1024)
        #expect(config.backendMaxInflight == 16384)
    }

    @Test("each limit is set from a file line or the command line")
    func set() throws {
        var config = ProxyConfig()
        try config.set("proto-max-multibulk-len", ["1000"])
        try config.set("proto-inline-max-size", ["4kb"])
        try config.set("backend-max-inflight", ["0"])
        #expect(config.protoMaxMultibulkLen == 1000)
        #expect(config.protoInlineMaxSize == 4096)
        #expect(config.backendMaxInflight == 0)
    }

    @Test("out-of-range limits are refused", arguments: [
        ("proto-max-multibulk-len", "0"), ("proto-max-multibulk-len", "2147483648"),
        ("proto-inline-max-size", "100"), ("backend-max-inflight", "-1"),
    ])
    func outOfRange(name: String, value: String) {
        var config = ProxyConfig()
        #expect(throws: ConfigError.self) { try config.set(name, [value]) }
    }
}
