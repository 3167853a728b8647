import Testing
@testable import SlotProxyCore

@Suite("Key extraction")
struct KeyExtractionTests {
    // MARK: - Commands of the snapshot

    @Test("single key and ranges of keys")
    func ranges() {
        #expect(keyIndexes(["GET", "k"]) == (.ok, [1]))
        #expect(keyIndexes(["mset", "k1", "v1", "k2", "v2", "k3", "v3"]) == (.ok, [1, 3, 5]))
        #expect(keyIndexes(["DEL", "a", "b", "c", "d", "e"]) == (.ok, [1, 2, 3, 4, 5]))
        #expect(keyIndexes(["exists", "a", "a"]) == (.ok, [1, 2]))
        #expect(extractKeys(["bitop", "AND", "dest", "a", "b"]) == (.ok, ["dest", "a", "b"]))
        #expect(extractKeys(["rename", "src", "dst"]) == (.ok, ["src", "dst"]))
        #expect(extractKeys(["OBJECT", "ENCODING", "k"]) == (.ok, ["k"]))
        #expect(keyIndexes(["object", "encoding", "k"]) == (.ok, [2]))
        #expect(keyIndexes(["ping"]) == (.ok, []))
    }

    @Test("EVAL and EVALSHA take their keys from numkeys")
    func eval() {
        #expect(extractKeys(["EVAL", "return 1", "2", "k1", "k2", "arg"]) == (.ok, ["k1", "k2"]))
        #expect(keyIndexes(["eval", "return 1", "2", "k1", "k2", "arg"]) == (.ok, [3, 4]))
        #expect(extractKeys(["eval", "return 1", "0"]) == (.ok, []))
        #expect(extractKeys(["eval", "return 1", "0", "arg"]) == (.ok, []))
        #expect(extractKeys(["eval", "return 1", "abc", "k"]).result == .invalid)
        #expect(extractKeys(["eval", "return 1", "-1", "k"]).result == .invalid)
        #expect(extractKeys(["eval", "return 1", "3", "k"]).result == .invalid)
        #expect(extractKeys(["eval", "return 1", "99999999999999999999999", "k"]).result == .invalid)
        #expect(extractKeys(["eval", "return 1", " 1", "k"]).result == .invalid)
        #expect(extractKeys(["evalsha", "0123456789abcdef0123456789abcdef01234567", "1", "k1", "a"]) == (.ok, ["k1"]))
        #expect(extractKeys(["fcall", "f", "2", "k1", "k2", "x"]) == (.ok, ["k1", "k2"]))
    }

    @Test("XREAD and XREADGROUP find the keys after STREAMS, half of what remains")
    func xread() {
        #expect(extractKeys(["XREAD", "COUNT", "2", "STREAMS", "a", "b", "0", "0"]) == (.ok, ["a", "b"]))
        #expect(extractKeys(["xread", "count", "2", "streams", "a", "b", "0", "0"]) == (.ok, ["a", "b"]))
        #expect(extractKeys(["xread", "BLOCK", "0", "STREAMS", "a", "$"]) == (.ok, ["a"]))
        #expect(extractKeys(["xread", "STREAMS", "streams", "0"]) == (.ok, ["streams"]))
        #expect(extractKeys(["xreadgroup", "GROUP", "g", "c", "STREAMS", "a", "b", ">", ">"]) == (.ok, ["a", "b"]))
        #expect(extractKeys(["xreadgroup", "GROUP", "g", "c", "COUNT", "1", "NOACK", "STREAMS", "a", ">"]) == (.ok, ["a"]))
        #expect(extractKeys(["xread", "COUNT", "2", "a", "b", "0"]) == (.ok, []))
    }

    @Test("ZUNIONSTORE gives the destination, then numkeys source keys")
    func zunionstore() {
        #expect(extractKeys(["ZUNIONSTORE", "dest", "2", "a", "b", "WEIGHTS", "1", "2"]) == (.ok, ["dest", "a", "b"]))
        #expect(extractKeys(["zinterstore", "dest", "3", "a", "b", "c", "AGGREGATE", "MAX"]) == (.ok, ["dest", "a", "b", "c"]))
        #expect(extractKeys(["zunionstore", "dest", "3", "a", "b"]).result == .invalid)
        #expect(extractKeys(["zunion", "2", "a", "b", "WITHSCORES"]) == (.ok, ["a", "b"]))
    }

    @Test("MIGRATE: the key argument, or the keys after KEYS when it is empty")
    func migrate() {
        #expect(extractKeys(["MIGRATE", "host", "6379", "key", "0", "5000"]) == (.ok, ["key"]))
        #expect(extractKeys(["migrate", "host", "6379", "", "0", "5000", "KEYS", "k1", "k2"]) == (.ok, ["k1", "k2"]))
        #expect(keyIndexes(["migrate", "host", "6379", "", "0", "5000", "keys", "k1", "k2"]) == (.ok, [7, 8]))
        #expect(extractKeys(["migrate", "host", "6379", "", "0", "5000", "AUTH", "keys", "KEYS", "k1"]) == (.ok, ["k1"]))
        #expect(extractKeys(["migrate", "host", "6379", "", "0", "5000", "AUTH2", "u", "keys", "KEYS", "k1"]) == (.ok, ["k1"]))
        // A key and KEYS together is MIGRATE's own syntax error: no keys.
        #expect(extractKeys(["migrate", "host", "6379", "key", "0", "5000", "KEYS", "k1"]) == (.ok, []))
    }

    @Test("SORT: the key, then the last STORE destination")
    func sort() {
        #expect(extractKeys(["SORT", "k"]) == (.ok, ["k"]))
        #expect(extractKeys(["sort", "k", "BY", "w_*", "LIMIT", "0", "10", "GET", "o_*", "STORE", "dst"]) == (.ok, ["k", "dst"]))
        #expect(extractKeys(["sort", "k", "store", "d1", "STORE", "d2"]) == (.ok, ["k", "d2"]))
        #expect(extractKeys(["sort", "k", "GET", "store", "ALPHA"]) == (.ok, ["k"]))
        #expect(extractKeys(["sort", "k", "LIMIT", "0", "1", "store"]) == (.ok, ["k"]))
        #expect(extractKeys(["sort_ro", "k", "BY", "nosort"]) == (.ok, ["k"]))
    }

    @Test("GEORADIUS: the key, then STORE or STOREDIST destinations")
    func georadius() {
        #expect(extractKeys(["GEORADIUS", "g", "0", "0", "10", "km", "WITHDIST", "STORE", "dst"]) == (.ok, ["g", "dst"]))
        #expect(extractKeys(["georadius", "g", "0", "0", "10", "km"]) == (.ok, ["g"]))
        #expect(extractKeys(["georadiusbymember", "g", "m", "10", "km", "storedist", "dst"]) == (.ok, ["g", "dst"]))
    }

    @Test("LMPOP, BLMPOP, ZMPOP, BZMPOP count their keys")
    func mpop() {
        #expect(extractKeys(["LMPOP", "2", "a", "b", "LEFT"]) == (.ok, ["a", "b"]))
        #expect(keyIndexes(["lmpop", "2", "a", "b", "LEFT"]) == (.ok, [2, 3]))
        #expect(extractKeys(["BLMPOP", "0", "2", "a", "b", "LEFT", "COUNT", "3"]) == (.ok, ["a", "b"]))
        #expect(extractKeys(["bzmpop", "1.5", "2", "a", "b", "MAX"]) == (.ok, ["a", "b"]))
        #expect(extractKeys(["lmpop", "x", "a", "LEFT"]).result == .invalid)
    }

    @Test("sharded channels are not keys, but can be asked for with their not_key flag")
    func notKeys() throws {
        #expect(extractKeys(["SPUBLISH", "ch", "msg"]) == (.ok, []))
        #expect(extractKeys(["spublish", "ch", "msg"], includingNotKeys: true) == (.ok, ["ch"]))
        #expect(extractKeys(["ssubscribe", "a", "b"], includingNotKeys: true) == (.ok, ["a", "b"]))
        let spublish = try #require(CommandTable.snapshot.lookup("spublish"))
        var flags: [KeySpecFlags] = []
        _ = OwnedRequest(["spublish", "ch", "m"]).withArguments { view in
            spublish.forEachKey(in: view, includingNotKeys: true) { _, f in flags.append(f) }
        }
        #expect(flags == [.notKey])
    }

    @Test("reports each key's spec flags")
    func keyFlags() throws {
        let smove = try #require(CommandTable.snapshot.lookup("smove"))
        var flags: [KeySpecFlags] = []
        _ = OwnedRequest(["smove", "a", "b", "m"]).withArguments { view in
            smove.forEachKey(in: view, includingNotKeys: false) { _, f in flags.append(f) }
        }
        #expect(flags == [[.rw, .access, .delete], [.rw, .insert]])
    }

    // MARK: - Against the real server

    /// Requests where slotproxy deliberately answers differently from COMMAND GETKEYS. Both
    /// are requests the command itself rejects, so routing them anywhere gives the same error.
    static let knownDifferences: [String: String] = [
        // numkeys 0: Redis's fallback drops every key, slotproxy keeps the destination.
        "zunionstore dest 0 a": "dest",
        // "01" is not an integer to EVAL; Redis's fallback reads it with atoi.
        "eval return 1 01 k": "<invalid>",
    ]

    @Test("finds the keys COMMAND GETKEYS named on a real redis-server 7 (Tests/fixtures/getkeys.txt)")
    func matchesServer() throws {
        let cases = try CommandFixtures.cases("getkeys.txt")
        #expect(cases.count >= 60)
        for c in cases {
            let (result, keys) = extractKeys(bytes: c.args)
            let serverSaysNone = c.answer.first?.hasPrefix("!") ?? true
            if let expected = Self.knownDifferences[c.description] {
                let got = result == .invalid ? "<invalid>" : keys.joined(separator: " ")
                #expect(got == expected, "\(c)")
                continue
            }
            if serverSaysNone {
                #expect(result == .invalid || keys.isEmpty, "\(c): \(result) \(keys)")
            } else {
                #expect(result == .ok, "\(c)")
                #expect(keys == c.answer, "\(c)")
            }
        }
    }

    // MARK: - The interpreter on hand-made specs

    private func keys(_ specs: [KeySpec], _ args: [String], arity: Int = -1) -> (KeyExtraction, [Int]) {
        let spec = CommandSpec(name: "x", arity: arity, keySpecs: specs)
        return OwnedRequest(args).withArguments { view in
            var out: [Int] = []
            let r = spec.forEachKey(in: view) { out.append($0) }
            return (r, out)
        }
    }

    @Test("keyword search backwards from the end never looks at argument 1")
    func keywordBackwards() {
        let spec = KeySpec(beginSearch: .keyword(keyword: Array("to".utf8), startFrom: -1),
                           findKeys: .range(lastKey: 0, keyStep: 1, limit: 0))
        #expect(keys([spec], ["x", "a", "TO", "k"]) == (.ok, [3]))
        // Backwards finds the last occurrence.
        #expect(keys([spec], ["x", "TO", "k", "TO", "k2"]) == (.ok, [4]))
        // A keyword in the last argument leaves no room for its key.
        #expect(keys([spec], ["x", "a", "to"]) == (.invalid, []))
        #expect(keys([spec], ["x", "to", "k"]) == (.ok, []))
        #expect(keys([spec], ["x"]) == (.ok, []))
    }

    @Test("keyword search forwards never takes the last argument as the keyword")
    func keywordForwards() {
        let spec = KeySpec(beginSearch: .keyword(keyword: Array("store".utf8), startFrom: 2),
                           findKeys: .range(lastKey: 0, keyStep: 1, limit: 0))
        #expect(keys([spec], ["x", "store", "a", "store", "k"]) == (.ok, [4]))
        #expect(keys([spec], ["x", "a", "b", "store"]) == (.ok, []))
        #expect(keys([spec], ["x", "a"]) == (.ok, []))
    }

    @Test("keynum with a key step visits numkeys keys; a step below 1 is never looped on")
    func keynumStep() {
        let spec = KeySpec(beginSearch: .index(1), findKeys: .keynum(keyNumIndex: 0, firstKey: 1, keyStep: 2))
        #expect(keys([spec], ["x", "2", "k1", "v1", "k2", "v2"]) == (.ok, [2, 4]))
        #expect(keys([spec], ["x", "3", "k1", "v1", "k2", "v2"]) == (.invalid, []))
        let zero = KeySpec(beginSearch: .index(1), findKeys: .range(lastKey: -1, keyStep: 0, limit: 0))
        #expect(keys([zero], ["x", "a", "b"]).0 == .invalid)
        let negative = KeySpec(beginSearch: .index(-1), findKeys: .range(lastKey: 0, keyStep: 1, limit: 0))
        #expect(keys([negative], ["x", "a"]).0 == .invalid)
    }

    @Test("an index beyond the arguments, or a last key before the first, is invalid")
    func bounds() {
        let spec = KeySpec(beginSearch: .index(2), findKeys: .range(lastKey: 1, keyStep: 1, limit: 0))
        #expect(keys([spec], ["x", "a", "b", "c"]) == (.ok, [2, 3]))
        #expect(keys([spec], ["x", "a", "b"]).0 == .invalid)
        #expect(keys([spec], ["x"]).0 == .invalid)
        let tail = KeySpec(beginSearch: .index(1), findKeys: .range(lastKey: -2, keyStep: 1, limit: 0))
        #expect(keys([tail], ["x", "a", "b", "opt"]) == (.ok, [1, 2]))
        #expect(keys([tail], ["x", "opt"]).0 == .invalid)
    }

    @Test("an incomplete spec reports its keys, then makes the extraction invalid")
    func incomplete() {
        let first = KeySpec(beginSearch: .index(1), findKeys: .range(lastKey: 0, keyStep: 1, limit: 0))
        let partial = KeySpec(beginSearch: .index(2), findKeys: .range(lastKey: 0, keyStep: 1, limit: 0), flags: [.incomplete])
        #expect(keys([first, partial], ["x", "a", "b"]) == (.invalid, [1, 2]))
        #expect(keys([first, KeySpec(beginSearch: .unknown, findKeys: .unknown)], ["x", "a"]) == (.invalid, [1]))
    }

    @Test("command names and keywords match in any case")
    func mixedCase() {
        #expect(extractKeys(["gEt", "K"]) == (.ok, ["K"]))
        #expect(extractKeys(["XrEaD", "StReAmS", "s1", "0"]) == (.ok, ["s1"]))
        #expect(extractKeys(["mIgRaTe", "h", "1", "", "0", "10", "kEyS", "k"]) == (.ok, ["k"]))
    }
}
