// libFuzzer entry point for the split planner and reply merger (Routing/SplitPlan, ReplyMerger).
// The checks live in Tests/fuzz/SlotProxyFuzz/SplitPlanFuzz.swift; scripts/fuzz builds and runs this.

import SlotProxyFuzz

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    SplitPlanFuzz.run(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

FuzzDriver.main(name: "FuzzSplitPlan", harness: SplitPlanFuzz.run) { fuzzOneInput($0, $1) }
