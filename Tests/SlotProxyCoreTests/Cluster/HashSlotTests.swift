import Foundation
import Testing
@testable import SlotProxyCore

@Suite("HashSlot")
struct HashSlotTests {
    private func slot(_ key: String) -> UInt16 { HashSlot(key: key).rawValue }
    private func wholeKey(_ text: String) -> UInt16 {
        Array(text.utf8).withUnsafeBytes { CRC16.checksum($0) } & 0x3FFF
    }
    private func hashedPart(_ key: String) -> String {
        Array(key.utf8).withUnsafeBytes { String(decoding: HashSlot.hashedPart(of: $0), as: UTF8.self) }
    }

    @Test("keys sharing a hash tag share a slot")
    func sharedTag() {
        #expect(slot("{user1000}.following") == slot("{user1000}.followers"))
        #expect(slot("{user1000}.following") == slot("user1000"))
    }

    @Test("applies Redis's hash-tag rule", arguments: [
        ("foo{}{bar}", "foo{}{bar}"),      // empty first tag: whole key
        ("foo{{bar}}zap", "{bar"),         // first '{', then first '}' after it
        ("foo{bar}{zap}", "bar"),          // only the first tag counts
        ("foo{bar", "foo{bar"),            // '{' but no '}': whole key
        ("foo}bar{", "foo}bar{"),          // '}' only before the '{': whole key
        ("{}", "{}"),
        ("{a}", "a"),
        ("", ""),
        ("plain", "plain"),
    ])
    func hashTagRule(key: String, hashed: String) {
        #expect(hashedPart(key) == hashed)
        #expect(slot(key) == wholeKey(hashed))
    }

    @Test("the empty key is slot 0")
    func emptyKey() {
        #expect(slot("") == 0)
        #expect(HashSlot(key: UnsafeRawBufferPointer(start: nil, count: 0)).rawValue == 0)
    }

    @Test("String, [UInt8] and raw-buffer initialisers agree")
    func initialisersAgree() {
        for key in ["foo", "{user1000}.following", "ключ", "a{b}c"] {
            let bytes = Array(key.utf8)
            let raw = bytes.withUnsafeBytes { HashSlot(key: $0) }
            #expect(HashSlot(key: key) == raw)
            #expect(HashSlot(key: bytes) == raw)
        }
    }

    @Test("validates slot numbers and orders by number")
    func numbers() {
        #expect(HashSlot(exactly: 0)?.rawValue == 0)
        #expect(HashSlot(exactly: 16383)?.rawValue == 16383)
        #expect(HashSlot(exactly: 16384) == nil)
        #expect(HashSlot(exactly: -1) == nil)
        #expect(HashSlot(rawValue: 3) < HashSlot(rawValue: 4))
        #expect(HashSlot(rawValue: 3999).description == "3999")
        #expect(HashSlot.count == 16384)
    }

    @Test("every key in slot-keys.txt hashes to its slot, and every slot appears once")
    func slotKeysFixture() throws {
        let text = String(decoding: try ClusterFixtures.bytes("slot-keys.txt"), as: UTF8.self)
        let lines = text.split(separator: "\n")
        #expect(lines.count == HashSlot.count)
        var seen = [Bool](repeating: false, count: HashSlot.count)
        for (lineNumber, line) in lines.enumerated() {
            let parts = line.split(separator: " ")
            try #require(parts.count == 2, "line \(lineNumber): \(line)")
            let expected = try #require(Int(parts[0]))
            #expect(expected == lineNumber)
            #expect(!parts[1].contains("{"))
            #expect(Int(HashSlot(key: String(parts[1])).rawValue) == expected, "key \(parts[1])")
            seen[expected] = true
        }
        #expect(seen.allSatisfy { $0 })
    }
}
