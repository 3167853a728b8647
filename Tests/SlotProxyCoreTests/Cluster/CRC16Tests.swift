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

    @Test("slicing by 8 equals Redis's byte loop at every length and alignment")
    func slicedEqualsBytewise() {
        var rng = SystemRandomNumberGenerator()
        let data = (0..<200).map { _ in UInt8.random(in: 0...255, using: &rng) }
        data.withUnsafeBytes { all in
            for offset in 0..<8 {
                for length in 0...(all.count - offset) {
                    let slice = UnsafeRawBufferPointer(rebasing: all[offset..<(offset + length)])
                    #expect(CRC16.checksum(slice) == CRC16.bytewise(slice), "offset \(offset) length \(length)")
                }
            }
        }
        #expect(crc("{user1000}.following-and-more") == Array("{user1000}.following-and-more".utf8).withUnsafeBytes { CRC16.bytewise($0) })
    }

    @Test("uses Redis's table")
    func table() {
        #expect(CRC16.table.count == 256)
        #expect(CRC16.table[1] == 0x1021)
        #expect(CRC16.table[255] == 0x1EF0)
    }
}
