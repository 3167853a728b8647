// libFuzzer entry point for the request parser (RESP/RequestParser, inline requests included).
// The checks live in Tests/fuzz/SlotProxyFuzz/RequestParserFuzz.swift; scripts/fuzz builds and runs this.

import SlotProxyFuzz

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    RequestParserFuzz.run(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

FuzzDriver.main(name: "FuzzRequestParser", harness: RequestParserFuzz.run) { fuzzOneInput($0, $1) }
