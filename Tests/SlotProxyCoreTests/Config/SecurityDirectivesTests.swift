import Testing
@testable import SlotProxyCore

private func load(_ arguments: [String]) throws -> ProxyConfig {
    try ProxyConfig.load(arguments: arguments, readFile: { _ in "" }, requireSeeds: false)
}

private func loadError(_ arguments: [String]) -> ConfigError? {
    do {
        _ = try load(arguments)
        return nil
    } catch let error as ConfigError {
        return error
    } catch {
        return nil
    }
}

@Suite("Security directives")
struct SecurityDirectivesTests {
    @Test("by default no password, no users, no backend credentials, administrative commands refused")
    func defaults() {
        let config = ProxyConfig()
        #expect(config.requirePass == "")
        #expect(config.users == [])
        #expect(config.backendUser == "")
        #expect(config.backendPassword == "")
        #expect(config.allowAdminCommands == false)
        #expect(config.backendAuthArguments == nil)
    }

    @Test("users are name:password pairs, on one or several arguments; the name ends at the first colon")
    func users() throws {
        let config = try load(["--users", "alice:wonder bob:a:b", "carol:x"])
        #expect(config.users == [ProxyUser(name: "alice", password: "wonder"), ProxyUser(name: "bob", password: "a:b"),
                                 ProxyUser(name: "carol", password: "x")])
        #expect(try load(["--users", ""]).users == [])
        #expect(ConfigDirective.named("users")?.currentValue(in: config) == "alice:wonder bob:a:b carol:x")
        #expect(ConfigDirective.named("users")?.currentValue(in: ProxyConfig()) == "\"\"")
    }

    @Test("malformed users are refused without echoing a password")
    func badUsers() {
        #expect(loadError(["--users", "alice"])?.description ==
                "--users: invalid value '…' (must be name:password pairs separated by spaces)")
        #expect(loadError(["--users", "alice:"])?.description ==
                "--users: invalid value 'alice:…' (must be name:password pairs separated by spaces)")
        #expect(loadError(["--users", ":secret"]) != nil)
        #expect(loadError(["--users", "default:secret"])?.description ==
                "--users: invalid value 'default:…' (must not name the default user, whose password is requirepass)")
        #expect(loadError(["--users", "a:1", "a:2"])?.description ==
                "--users: invalid value 'a:…' (must name each user once)")
        for error in [loadError(["--users", "alice:"]), loadError(["--users", "a:topsecret", "a:topsecret2"])] {
            #expect(error?.description.contains("topsecret") == false)
        }
    }

    @Test("backend credentials become the AUTH every node connection starts with")
    func backendAuth() throws {
        var config = try load(["--backend-password", "pw"])
        #expect(config.backendAuthArguments == ["AUTH", "pw"])
        config = try load(["--backend-user", "proxy", "--backend-password", "pw"])
        #expect(config.backendAuthArguments == ["AUTH", "proxy", "pw"])
        #expect(config.backendAuthCommand == Array("*3\r\n$4\r\nAUTH\r\n$5\r\nproxy\r\n$2\r\npw\r\n".utf8))
        // A user alone is not enough: without a password the nodes need no AUTH.
        #expect(try load(["--backend-user", "proxy"]).backendAuthArguments == nil)
    }

    @Test("requirepass and allow-admin-commands")
    func requirePassAndAdmin() throws {
        let config = try load(["--requirepass", "s3cret", "--allow-admin-commands", "yes"])
        #expect(config.requirePass == "s3cret")
        #expect(config.allowAdminCommands)
        #expect(loadError(["--allow-admin-commands", "maybe"]) != nil)
    }
}
