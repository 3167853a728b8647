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
}
