// Reads the files in Tests/fixtures/ for the Cluster tests: the key-per-slot list and the
// CLUSTER SHARDS / CLUSTER SLOTS / MOVED / ASK replies captured from a real Redis 7.0.15
// cluster (three primaries on 127.0.0.1:36001-36003, no replicas).

import Foundation
@testable import SlotProxyCore

enum ClusterFixtures {
    /// Tests/fixtures/, found from this source file: Tests/SlotProxyCoreTests/Cluster/<this>.
    static let directory: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // Cluster/
        .deletingLastPathComponent()  // SlotProxyCoreTests/
        .deletingLastPathComponent()  // Tests/
        .deletingLastPathComponent()  // package root
        .appendingPathComponent("Tests")
        .appendingPathComponent("fixtures")

    static func bytes(_ name: String) throws -> [UInt8] {
        try [UInt8](Data(contentsOf: directory.appendingPathComponent(name)))
    }

    /// Decodes a fixture holding exactly one RESP value.
    static func reply(_ name: String) throws -> RESPValue {
        let values = try RESPValueDecoder.decodeAll(bytes(name))
        guard values.count == 1 else { throw TopologyError("\(name): expected one value, found \(values.count)") }
        return values[0]
    }

    /// Node ids of the captured cluster.
    static let id36001 = "76acc130f4a4fb4b1ad51daf601377f4e40dfe64"
    static let id36002 = "5d3bf17354f79fdd13956631cf307ca6eb08b100"
    static let id36003 = "3f97419a81b7036aa524441730e8dada2bf5b8f2"
}
