// Scripts the clients loaded with SCRIPT LOAD, by SHA1, shared by every worker. When a node
// answers an EVALSHA with NOSCRIPT (a replica promoted after a failover, a SCRIPT FLUSH on
// the node), the proxy loads the script there from here and runs the request once more.

import SlotProxyCore
import Synchronization

final class ScriptRegistry: Sendable {
    private let scripts = Mutex<[String: [UInt8]]>([:])

    /// Remembers `body` under the SHA1 a node returned for it.
    func remember(sha: String, body: [UInt8]) {
        scripts.withLock { $0[sha.lowercased()] = body }
    }

    /// `SCRIPT LOAD <body>` for the script an EVALSHA / EVALSHA_RO request names, if known.
    func loadCommand(forEvalsha request: [UInt8]) -> [UInt8]? {
        guard let value = try? RESPValueDecoder.decode(request)?.value, let args = value.elements, args.count >= 2,
              let sha = args[1].string?.lowercased(),
              let body = scripts.withLock({ $0[sha] }) else { return nil }
        return RESPValueEncoder.command([Array("SCRIPT".utf8), Array("LOAD".utf8), body])
    }

    var count: Int { scripts.withLock { $0.count } }
}
