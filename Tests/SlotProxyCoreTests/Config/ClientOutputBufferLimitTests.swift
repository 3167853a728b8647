import Testing
@testable import SlotProxyCore

@Suite("client-output-buffer-limit")
struct ClientOutputBufferLimitTests {
    let limit = ClientOutputBufferLimit(hardBytes: 1000, softBytes: 100, softSeconds: 10)

    @Test("the hard limit closes at once, at or past it")
    func hard() {
        var since = 0.0
        #expect(limit.check(pending: 999, now: 1, overSoftSince: &since) == .within)
        #expect(limit.check(pending: 1000, now: 1, overSoftSince: &since) == .overHard)
    }

    @Test("the soft limit closes only after more than its seconds above it")
    func soft() {
        var since = 0.0
        #expect(limit.check(pending: 100, now: 50, overSoftSince: &since) == .within)
        #expect(since == 50)
        #expect(limit.check(pending: 500, now: 60, overSoftSince: &since) == .within)
        #expect(limit.check(pending: 500, now: 60.5, overSoftSince: &since) == .overSoft)
    }

    @Test("dropping below the soft limit restarts its clock")
    func softReset() {
        var since = 0.0
        _ = limit.check(pending: 200, now: 1, overSoftSince: &since)
        #expect(limit.check(pending: 99, now: 5, overSoftSince: &since) == .within)
        #expect(since == 0)
        #expect(limit.check(pending: 200, now: 20, overSoftSince: &since) == .within)
        #expect(limit.check(pending: 200, now: 30, overSoftSince: &since) == .within)
        #expect(limit.check(pending: 200, now: 31, overSoftSince: &since) == .overSoft)
    }

    @Test("0 disables a limit")
    func unlimited() {
        var since = 0.0
        #expect(ClientOutputBufferLimit.unlimited.check(pending: Int.max, now: 1, overSoftSince: &since) == .within)
        #expect(ClientOutputBufferLimit.unlimited.check(pending: Int.max, now: 1_000_000, overSoftSince: &since) == .within)
        #expect(since == 0)
    }

    @Test("the default is Redis's: normal unlimited, pubsub 32mb 8mb 60")
    func defaults() {
        let config = ProxyConfig()
        #expect(config.clientOutputBufferLimits.normal == .unlimited)
        #expect(config.clientOutputBufferLimits.pubsub == ClientOutputBufferLimit(hardBytes: 32 << 20, softBytes: 8 << 20, softSeconds: 60))
        #expect(ConfigDirective.named("client-output-buffer-limit")?.currentValue(in: config) == "normal 0 0 0 pubsub 32mb 8mb 60")
    }

    @Test("a line changes only the classes it names; several may share one")
    func perClass() throws {
        let conf = """
            seeds a:1
            client-output-buffer-limit pubsub 1mb 256kb 5
            client-output-buffer-limit NORMAL 64mb 16mb 30 pubsub 2mb 0 0
            """
        let config = try ProxyConfig.load(arguments: ["p.conf"], readFile: { _ in conf })
        #expect(config.clientOutputBufferLimits.normal == ClientOutputBufferLimit(hardBytes: 64 << 20, softBytes: 16 << 20, softSeconds: 30))
        #expect(config.clientOutputBufferLimits.pubsub == ClientOutputBufferLimit(hardBytes: 2 << 20, softBytes: 0, softSeconds: 0))

        let fromCommandLine = try ProxyConfig.load(
            arguments: ["--seeds", "a:1", "--client-output-buffer-limit", "pubsub", "100k", "0", "0", "--port", "7100"],
            readFile: { _ in "" })
        #expect(fromCommandLine.clientOutputBufferLimits.pubsub.hardBytes == 100_000)
        #expect(fromCommandLine.clientOutputBufferLimits.normal == .unlimited)
        #expect(fromCommandLine.port == 7100)
    }

    @Test("malformed groups are refused and change nothing", arguments: [
        ["normal", "1mb", "0"], ["replica", "1mb", "0", "0"], ["normal", "1tb", "0", "0"], ["normal", "0", "0", "-1"],
        ["normal", "0", "0", "0", "pubsub"], ["pubsub 1mb 0 x"],
    ])
    func malformed(arguments: [String]) {
        var config = ProxyConfig()
        #expect(throws: ConfigError.self) { try config.set("client-output-buffer-limit", arguments) }
        #expect(config == ProxyConfig())
    }
}
