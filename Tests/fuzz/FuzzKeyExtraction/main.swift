// libFuzzer entry point for command resolution and key extraction (CommandTable, CommandSpec+Keys, KeySlot).
// The checks live in Tests/fuzz/SlotProxyFuzz/KeyExtractionFuzz.swift; scripts/fuzz builds and runs this.

import SlotProxyFuzz

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    KeyExtractionFuzz.run(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

FuzzDriver.main(name: "FuzzKeyExtraction", harness: KeyExtractionFuzz.run) { fuzzOneInput($0, $1) }
