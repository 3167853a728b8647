import Foundation
import Testing
@testable import SlotProxyCore

/// The committed proxy.conf must be exactly what the directive table generates, so the
/// documentation cannot drift from the code. After changing the table, regenerate it:
///
///     SLOTPROXY_WRITE_PROXY_CONF=1 swift test --filter ProxyConfigFile
@Suite("proxy.conf")
struct ProxyConfigFileTests {
    static let path = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("proxy.conf").path

    static func committed() throws -> String {
        if ProcessInfo.processInfo.environment["SLOTPROXY_WRITE_PROXY_CONF"] == "1" {
            try ConfigDirective.annotatedFile().write(toFile: path, atomically: true, encoding: .utf8)
        }
        return try String(contentsOfFile: path, encoding: .utf8)
    }

    @Test("the committed proxy.conf is the one the table generates")
    func matchesTable() throws {
        let text = try Self.committed()
        #expect(text == ConfigDirective.annotatedFile(),
                "proxy.conf is out of date: run SLOTPROXY_WRITE_PROXY_CONF=1 swift test --filter ProxyConfigFile")
    }

    @Test("proxy.conf sets every directive once, in table order, to its default (seeds: the example)")
    func listsEveryDirective() throws {
        let lines = try ConfigLine.parse(fileContents: Self.committed(), fileName: "proxy.conf")
        #expect(lines.map(\.directive) == ConfigDirective.all.map(\.name))

        let loaded = try ProxyConfig.load(arguments: [Self.path], readFile: { try String(contentsOfFile: $0, encoding: .utf8) })
        var expected = ProxyConfig()
        // The one documented difference: seeds has no default, the file shows an example.
        expected.seeds = [SeedAddress(host: "127.0.0.1", port: 7001), SeedAddress(host: "127.0.0.1", port: 7002),
                          SeedAddress(host: "127.0.0.1", port: 7003)]
        #expect(loaded == expected)
        #expect(ConfigDirective.all.filter { $0.example != nil }.map(\.name) == ["seeds"])
    }

    @Test("every paragraph explains its directive")
    func everyDirectiveHasHelp() {
        for directive in ConfigDirective.all {
            #expect(directive.help.count > 20, "\(directive.name)")
            #expect(!directive.help.hasSuffix("\n"), "\(directive.name)")
        }
    }
}
