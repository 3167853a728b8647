import Testing
@testable import SlotProxyCore

private func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

@Suite("Credentials")
struct CredentialsTests {
    @Test("without requirepass the default user takes any password and needs none")
    func noPassword() {
        let credentials = Credentials(requirePass: "")
        #expect(!credentials.defaultUserRequiresPassword)
        #expect(credentials.accepts(user: bytes("default"), password: bytes("anything")))
        #expect(credentials.accepts(user: bytes("default"), password: []))
        #expect(!credentials.accepts(user: bytes("alice"), password: bytes("anything")))
    }

    @Test("requirepass is the default user's password, compared exactly")
    func requirePass() {
        let credentials = Credentials(requirePass: "s3cret")
        #expect(credentials.defaultUserRequiresPassword)
        #expect(credentials.accepts(user: bytes("default"), password: bytes("s3cret")))
        for wrong in ["", "s3cre", "s3cret ", "S3CRET", "s3cret\u{0}"] {
            #expect(!credentials.accepts(user: bytes("default"), password: bytes(wrong)), "\(wrong)")
        }
        #expect(!credentials.accepts(user: bytes("DEFAULT"), password: bytes("s3cret")))
    }

    @Test("configured users authenticate with their own password only")
    func users() {
        let credentials = Credentials(requirePass: "s3cret", users: [ProxyUser(name: "alice", password: "wonder"),
                                                                      ProxyUser(name: "bob", password: "builder")])
        #expect(credentials.accepts(user: bytes("alice"), password: bytes("wonder")))
        #expect(credentials.accepts(user: bytes("bob"), password: bytes("builder")))
        #expect(!credentials.accepts(user: bytes("alice"), password: bytes("builder")))
        #expect(!credentials.accepts(user: bytes("alice"), password: bytes("s3cret")))
        #expect(!credentials.accepts(user: bytes("default"), password: bytes("wonder")))
        #expect(credentials.userNames == ["default", "alice", "bob"])
    }

    @Test("the comparison does not stop at the first difference, and lengths count")
    func constantTime() {
        #expect(Credentials.constantTimeEquals([], []))
        #expect(Credentials.constantTimeEquals(bytes("abc"), bytes("abc")))
        #expect(!Credentials.constantTimeEquals(bytes("abc"), bytes("abd")))
        #expect(!Credentials.constantTimeEquals(bytes("abc"), bytes("ab")))
        // Lengths differing by a multiple of 256 must not cancel out.
        #expect(!Credentials.constantTimeEquals([UInt8](repeating: 0, count: 256), []))
    }
}
