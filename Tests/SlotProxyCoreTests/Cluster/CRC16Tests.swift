import Testing
@testable import SlotProxyCore

@Suite("CRC16")
struct CRC16Tests {
    private func crc(_ text: String) -> UInt16 {
        Array(text.utf8).withUnsafeBytes { CRC16.checksum($0) }
    }

    @Test("matches the CRC16-XMODEM check value of \"123456789\"")
    func checkValue() {
        #expect(crc("123456789") == 0x31C3)
    }

    @Test("matches known vectors and is 0 for no bytes")
    func vectors() {
        #expect(crc("") == 0)
        #expect(crc("A") == 0x58E5)
        // Slots Redis assigns (CLUSTER KEYSLOT), i.e. CRC16 mod 16384.
        #expect(crc("foo") & 0x3FFF == 12182)
        #expect(crc("bar") & 0x3FFF == 5061)
        #expect(crc("hello") & 0x3FFF == 866)
    }

    @Test("uses Redis's table")
    func table() {
        #expect(CRC16.table.count == 256)
        #expect(CRC16.table[1] == 0x1021)
        #expect(CRC16.table[255] == 0x1EF0)
    }
}
