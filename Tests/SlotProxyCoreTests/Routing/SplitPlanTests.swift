// SplitPlan: a multi-key request whose keys span slots becomes one sub-command per slot, each
// key with the arguments that travel with it, and the key ordinals to put replies back in order.
// Keys are hash-tagged ({x}…) so the slots are known without a table.

import Testing
@testable import SlotProxyCore

@Suite("SplitPlan")
struct SplitPlanTests {
    private func plan(_ args: [String]) -> SplitPlan? {
        OwnedRequest(args).withArguments { view in
            guard case .command(let spec) = CommandTable.snapshot.resolve(view) else { return nil }
            return SplitPlan.make(spec, view)
        }
    }

    private func keySlot(_ args: [String]) -> KeySlot? {
        OwnedRequest(args).withArguments { view in
            guard case .command(let spec) = CommandTable.snapshot.resolve(view) else { return nil }
            return spec.keySlot(in: view)
        }
    }

    private func slot(_ tag: String) -> HashSlot { HashSlot(key: tag) }

    @Test("MGET groups its keys by slot, parts in order of first appearance, with each key's ordinal")
    func mgetGrouping() throws {
        let p = try #require(plan(["MGET", "{x}1", "{y}2", "{x}3", "{z}4"]))
        #expect(Set([slot("x"), slot("y"), slot("z")]).count == 3)
        #expect(p.keyCount == 4)
        #expect(p.parts.map(\.slot) == [slot("x"), slot("y"), slot("z")])
        #expect(p.parts.map(\.keyOrdinals) == [[0, 2], [1], [3]])
        #expect(p.parts[0].request == RESPValueEncoder.command(["MGET", "{x}1", "{x}3"]))
        #expect(p.parts[1].request == RESPValueEncoder.command(["MGET", "{y}2"]))
        #expect(p.parts[2].request == RESPValueEncoder.command(["MGET", "{z}4"]))
    }

    @Test("the exact bytes of a part: the command name as the client spelt it, then its keys")
    func exactBytes() throws {
        let p = try #require(plan(["mGeT", "{x}a", "{y}bb", "{x}ccc"]))
        #expect(p.parts[0].request == Array("*3\r\n$4\r\nmGeT\r\n$4\r\n{x}a\r\n$6\r\n{x}ccc\r\n".utf8))
        #expect(p.parts[1].request == Array("*2\r\n$4\r\nmGeT\r\n$5\r\n{y}bb\r\n".utf8))
    }

    @Test("binary keys and values are copied byte for byte")
    func binarySafe() throws {
        let key1: [UInt8] = Array("{x}".utf8) + [0, 13, 10, 255]
        let key2: [UInt8] = Array("{y}".utf8) + [36, 42]
        let value: [UInt8] = [13, 10, 0, 42, 49, 13, 10]
        let p = try #require(OwnedRequest(bytes: [Array("MSET".utf8), key1, value, key2, []]).withArguments { view -> SplitPlan? in
            guard case .command(let spec) = CommandTable.snapshot.resolve(view) else { return nil }
            return SplitPlan.make(spec, view)
        })
        #expect(p.parts.count == 2)
        #expect(p.parts[0].request == Array("*3\r\n$4\r\nMSET\r\n$7\r\n".utf8) + key1 + Array("\r\n$7\r\n".utf8) + value + [13, 10])
        #expect(p.parts[1].request == Array("*3\r\n$4\r\nMSET\r\n$5\r\n".utf8) + key2 + Array("\r\n$0\r\n\r\n".utf8))
    }

    @Test("MSET keeps each key with its value")
    func msetPairs() throws {
        let p = try #require(plan(["MSET", "{x}1", "v1", "{y}2", "v2", "{x}3", "v3"]))
        #expect(p.keyCount == 3)
        #expect(p.parts.map(\.keyOrdinals) == [[0, 2], [1]])
        #expect(p.parts[0].request == RESPValueEncoder.command(["MSET", "{x}1", "v1", "{x}3", "v3"]))
        #expect(p.parts[1].request == RESPValueEncoder.command(["MSET", "{y}2", "v2"]))
    }

    @Test("a key named twice stays twice, in its slot's part, with both ordinals")
    func duplicates() throws {
        let p = try #require(plan(["DEL", "{x}a", "{y}b", "{x}a", "{y}b", "{x}a"]))
        #expect(p.keyCount == 5)
        #expect(p.parts.map(\.keyOrdinals) == [[0, 2, 4], [1, 3]])
        #expect(p.parts[0].request == RESPValueEncoder.command(["DEL", "{x}a", "{x}a", "{x}a"]))
        #expect(p.parts[1].request == RESPValueEncoder.command(["DEL", "{y}b", "{y}b"]))
    }

    @Test("EXISTS, UNLINK and TOUCH split the same way")
    func otherSplitCommands() throws {
        for name in ["EXISTS", "UNLINK", "TOUCH"] {
            let p = try #require(plan([name, "{x}1", "{y}2"]))
            #expect(p.parts.map(\.request) == [RESPValueEncoder.command([name, "{x}1"]),
                                               RESPValueEncoder.command([name, "{y}2"])])
        }
    }

    @Test("one slot plans one part equal to the request; dispatch never splits it (KeySlot.single)")
    func singleSlot() throws {
        let args = ["MGET", "{user42}:a", "{user42}:b", "{user42}:c"]
        let p = try #require(plan(args))
        #expect(p.parts.count == 1)
        #expect(p.parts[0].slot == slot("user42"))
        #expect(p.parts[0].keyOrdinals == [0, 1, 2])
        #expect(p.parts[0].request == RESPValueEncoder.command(args))
        #expect(keySlot(args) == .single(slot("user42")))
        #expect(keySlot(["MSET", "{t}a", "1", "{t}b", "2"]) == .single(slot("t")))
        #expect(keySlot(["DEL", "{t}a", "{t}a"]) == .single(slot("t")))
    }

    @Test("keys in several slots are .crossSlot; a keyless command is .none")
    func crossSlotKeySlot() {
        #expect(keySlot(["MGET", "{x}1", "{y}2"]) == .crossSlot)
        #expect(keySlot(["RENAME", "{x}1", "{y}2"]) == .crossSlot)
        #expect(keySlot(["DBSIZE"]) == KeySlot.none)
    }

    @Test("no plan without keys or when the key positions cannot be read")
    func noPlan() {
        #expect(plan(["DBSIZE"]) == nil)
        #expect(plan(["SINTERCARD", "notanumber", "{x}1", "{y}2"]) == nil)
    }

    @Test("an MSET missing its last value plans nothing (never a part whose header miscounts)")
    func truncatedMset() {
        // MSET a 1 b: Redis's key spec still finds b, but b has no value. A part "*3 MSET b"
        // with two arguments would leave the backend connection waiting for a third.
        #expect(plan(["MSET", "{x}1", "v1", "{y}2"]) == nil)
    }

    @Test("every part of a large request is well formed and together they hold every key once")
    func largeRequest() throws {
        let keys = (0..<1000).map { "k\($0)" }
        let p = try #require(plan(["MSET"] + keys.flatMap { [$0, "v-\($0)"] }))
        #expect(p.keyCount == 1000)
        var seen: [Int] = []
        for part in p.parts {
            let decoded = try #require(try RESPValueDecoder.decode(part.request))
            #expect(decoded.length == part.request.count)
            let items = try #require(decoded.value.elements).map { $0.string ?? "" }
            #expect(items.first == "MSET")
            #expect(items.count == 1 + 2 * part.keyOrdinals.count)
            for (j, ordinal) in part.keyOrdinals.enumerated() {
                #expect(items[1 + 2 * j] == keys[ordinal])
                #expect(items[2 + 2 * j] == "v-\(keys[ordinal])")
                #expect(HashSlot(key: keys[ordinal]) == part.slot)
            }
            seen += part.keyOrdinals
        }
        #expect(seen.sorted() == Array(0..<1000))
        #expect(Set(p.parts.map(\.slot)).count == p.parts.count)
    }
}
