// KeySlot: the slot of a request's keys. The single-key shortcut (GET, SET, …) is checked
// against the full key-spec walk over the committed COMMAND snapshot.

import Testing
@testable import SlotProxyCore

@Suite("KeySlot")
struct KeySlotTests {
    @Test("the single-key shortcut agrees with the key-spec walk for every command and argument count")
    func singleKeyShortcut() {
        var shortcuts = 0
        for spec in CommandTable.snapshot.commands.flatMap({ [$0] + $0.subcommands }) {
            guard spec.singleKeyIndex > 0 else { continue }
            shortcuts += 1
            for argc in 1...6 {
                let args = [spec.name] + (1..<argc).map { "{t\($0 % 3)}k\($0)" }
                OwnedRequest(args).withArguments { view in
                    var walked: [Int] = []
                    let extraction = spec.forEachKey(in: view) { walked.append($0) }
                    let expected: KeySlot = extraction == .invalid ? .invalid
                        : walked.isEmpty ? .none : .single(HashSlot(key: view[walked[0]]))
                    #expect(walked.count <= 1, "\(spec.name) names one key")
                    #expect(spec.keySlot(in: view) == expected, "\(spec.name) with \(argc) arguments")
                }
            }
        }
        #expect(shortcuts > 100, "GET, SET, INCR, HGET… take the shortcut")
        #expect(CommandTable.snapshot.lookup("get")!.singleKeyIndex == 1)
        #expect(CommandTable.snapshot.lookup("mget")!.singleKeyIndex == 0)
        #expect(CommandTable.snapshot.lookup("sort")!.singleKeyIndex == 0)
    }

    @Test("past a second slot the rest is not hashed, and a key count found bad after it is still invalid")
    func crossSlotStopsHashing() {
        let requests: [[String]] = [
            ["MSET", "{a}1", "v", "{b}2", "v", "{c}3", "v"],
            ["MSET", "{a}1", "v", "{a}2", "v"],
            ["MGET", "{a}1", "{b}2", "{a}3"],
            ["DEL", "{a}1"],
            ["ZUNIONSTORE", "{a}d", "2", "{b}1", "{c}2"],
            ["ZUNIONSTORE", "{a}d", "3", "{b}1", "{c}2"],
            ["ZUNIONSTORE", "{a}d", "2", "{a}1", "{a}2"],
            ["EVAL", "return 1", "3", "{a}1", "{b}2"],
            ["EVAL", "return 1", "2", "{a}1", "{b}2"],
            ["XREAD", "STREAMS", "{a}1", "{b}2", "0", "0"],
            ["PING"],
        ]
        for args in requests {
            let spec = CommandTable.snapshot.lookup(args[0].lowercased())!
            OwnedRequest(args).withArguments { view in
                // The reference: every key hashed.
                var slots: [UInt16] = []
                let extraction = spec.forEachKey(in: view) { slots.append(HashSlot(key: view[$0]).rawValue) }
                let expected: KeySlot = extraction == .invalid ? .invalid
                    : slots.isEmpty ? .none
                    : Set(slots).count > 1 ? .crossSlot : .single(HashSlot(rawValue: slots[0]))
                #expect(spec.keySlot(in: view) == expected, "\(args)")
            }
        }
        let zunion = CommandTable.snapshot.lookup("zunionstore")!
        OwnedRequest(["ZUNIONSTORE", "{a}d", "3", "{b}1", "{c}2"]).withArguments { view in
            #expect(zunion.keySlot(in: view) == .invalid, "numkeys past the arguments, after two slots")
        }
    }
}
