import Testing
@testable import SlotProxyCore

@Suite("Config values")
struct ConfigValuesTests {
    @Test("memory sizes take Redis's units in any case", arguments: [
        ("0", 0), ("100", 100), ("100b", 100), ("1k", 1000), ("1kb", 1024), ("1K", 1000), ("1KB", 1024),
        ("2m", 2_000_000), ("2mb", 2 << 20), ("2Mb", 2 << 20), ("3g", 3_000_000_000), ("3gb", 3 << 30), ("512MB", 512 << 20),
    ])
    func memoryUnits(text: String, bytes: Int) {
        #expect(ConfigValueReader.memoryBytes(text) == bytes)
    }

    @Test("malformed memory sizes are refused", arguments: ["", "mb", "1tb", "1 mb", "-1mb", "1.5gb", "1mbb", "99999999999999999999gb", "9999999999999gb"])
    func badMemory(text: String) {
        #expect(ConfigValueReader.memoryBytes(text) == nil)
    }

    @Test("memory sizes print in the largest exact binary unit")
    func memoryText() {
        #expect(ConfigValueReader.memoryValueText(512 << 20) == "512mb")
        #expect(ConfigValueReader.memoryValueText(1 << 30) == "1gb")
        #expect(ConfigValueReader.memoryValueText(1536) == "1536")
        #expect(ConfigValueReader.memoryValueText(1000) == "1000")
        #expect(ConfigValueReader.memoryText(Int(Int32.max)) == "2147483647 bytes")
    }

    @Test("integers are plain decimals within their range")
    func integers() throws {
        #expect(try ConfigValueReader.integer("42", in: 1...64) == 42)
        #expect(try ConfigValueReader.integer("-3", in: -5...5) == -3)
        #expect(throws: InvalidConfigValue.self) { try ConfigValueReader.integer("+3", in: 1...64) }
        #expect(throws: InvalidConfigValue.self) { try ConfigValueReader.integer("3x", in: 1...64) }
        #expect(throws: InvalidConfigValue.self) { try ConfigValueReader.integer("99999999999999999999", in: 1...64) }
        #expect(ConfigValueReader.decimal("-") == nil)
    }

    @Test("file modes are octal permission bits up to 777", arguments: [("0", 0), ("700", 0o700), ("0770", 0o770), ("777", 0o777), ("644", 0o644)])
    func fileModes(text: String, mode: Int) throws {
        #expect(try ConfigValueReader.fileMode(text) == mode)
    }

    @Test("malformed file modes are refused with the rule", arguments: ["", "8", "778", "1777", "07777", "-700", "rwx", "0x1ff", " 700"])
    func badFileModes(text: String) {
        do {
            _ = try ConfigValueReader.fileMode(text)
            Issue.record("\(text) accepted")
        } catch {
            #expect(error.expected == "must be octal permissions from 0 to 777, e.g. 700")
        }
    }

    @Test("booleans are yes or no in any case")
    func booleans() throws {
        #expect(try ConfigValueReader.boolean("yes") == true)
        #expect(try ConfigValueReader.boolean("NO") == false)
        do {
            _ = try ConfigValueReader.boolean("true")
            Issue.record("true accepted")
        } catch {
            #expect(error.expected == "must be yes or no")
        }
    }

    @Test("choices are case-insensitive and list the words on error")
    func choices() throws {
        #expect(try ConfigValueReader.choice("WARNING", of: LogLevel.self) == .warning)
        do {
            _ = try ConfigValueReader.choice("loud", of: LogLevel.self)
            Issue.record("loud accepted")
        } catch {
            #expect(error.expected == "must be one of debug, verbose, notice, warning")
        }
        #expect(LogLevel.debug < LogLevel.notice && LogLevel.notice < LogLevel.warning)
    }

    @Test("seeds split on spaces and commas")
    func seedSeparators() throws {
        let seeds = try ConfigValueReader.seedAddresses(["a:7001,b:7002", "c.example:7003", ",d:1,", "e:65535 f:2"])
        #expect(seeds == [
            SeedAddress(host: "a", port: 7001), SeedAddress(host: "b", port: 7002), SeedAddress(host: "c.example", port: 7003),
            SeedAddress(host: "d", port: 1), SeedAddress(host: "e", port: 65535), SeedAddress(host: "f", port: 2),
        ])
        #expect(try ConfigValueReader.seedAddresses([""]) == [])
    }

    @Test("IPv6 seeds go in brackets")
    func seedIPv6() throws {
        let seeds = try ConfigValueReader.seedAddresses(["[::1]:7000", "[fe80::1%eth0]:7001", "127.0.0.1:7002"])
        #expect(seeds == [SeedAddress(host: "::1", port: 7000), SeedAddress(host: "fe80::1%eth0", port: 7001),
                          SeedAddress(host: "127.0.0.1", port: 7002)])
        #expect(seeds.map(\.description) == ["[::1]:7000", "[fe80::1%eth0]:7001", "127.0.0.1:7002"])
    }

    @Test("malformed seeds are refused", arguments: [
        "localhost", "localhost:", ":7000", "host:0", "host:65536", "host:70x", "::1:7000", "[::1]7000", "[::1]:",
        "[localhost]:7000", "[::1:7000", "1.2.3.256:7000", "-host:7000", "a b:1",
    ])
    func badSeeds(text: String) {
        #expect(throws: InvalidConfigValue.self) { try ConfigValueReader.seedAddresses([text]) }
    }

    @Test("bind takes addresses, * and optional addresses")
    func bindAddresses() throws {
        #expect(try ConfigValueReader.bindAddresses(["127.0.0.1", "-::1"]) ==
                [BindAddress(host: "127.0.0.1"), BindAddress(host: "::1", isOptional: true)])
        #expect(try ConfigValueReader.bindAddresses(["127.0.0.1 ::1"]).count == 2)
        #expect(try ConfigValueReader.bindAddresses(["*"]) ==
                [BindAddress(host: "0.0.0.0"), BindAddress(host: "::", isOptional: true)])
        #expect(try ConfigValueReader.bindAddresses(["[::1]", "localhost", "10.0.0.7"]).map(\.host) == ["::1", "localhost", "10.0.0.7"])
        #expect(BindAddress(host: "::1", isOptional: true).description == "-::1")
        for bad in ["300.1.1.1", "1.2.3", "a/b", "", "-"] {
            #expect(throws: InvalidConfigValue.self, "\(bad)") { try ConfigValueReader.bindAddresses([bad]) }
        }
    }
}
