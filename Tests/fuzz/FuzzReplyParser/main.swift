// libFuzzer entry point for the reply side (RESP/ReplyScanner, RESPValueDecoder, ReplyMerger.elements).
// The checks live in Tests/fuzz/SlotProxyFuzz/ReplyParserFuzz.swift; scripts/fuzz builds and runs this.

import SlotProxyFuzz

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    ReplyParserFuzz.run(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

FuzzDriver.main(name: "FuzzReplyParser", harness: ReplyParserFuzz.run) { fuzzOneInput($0, $1) }
