import Testing
@testable import SlotProxyCore

@Suite struct MemoryTrimPolicyTests {
    /// Feeds the client counts seen on successive ticks; returns those at which it trimmed.
    private func trims(_ policy: inout MemoryTrimPolicy, _ counts: [Int]) -> [Int] {
        counts.filter { policy.shouldTrim(clients: $0) }
    }

    @Test func aBurstThatLeavesTrimsOnce() {
        var policy = MemoryTrimPolicy(minimumDrop: 16)
        #expect(trims(&policy, [1000, 600, 0, 0]) == [0])   // 600 is above half of the peak
        #expect(policy.peak == 0)
    }

    @Test func smallComingsAndGoingsNeverTrim() {
        var policy = MemoryTrimPolicy(minimumDrop: 16)
        // A health check connects and leaves, a hundred times.
        #expect(trims(&policy, Array(repeating: [50, 51, 50], count: 100).flatMap { $0 }).isEmpty)
        // A slow decline trims once, when it reaches half the peak (25 of 51).
        #expect(trims(&policy, Array(stride(from: 50, through: 10, by: -1))) == [25])
    }

    @Test func aHalvingSmallerThanTheMinimumDropWaits() {
        var policy = MemoryTrimPolicy(minimumDrop: 16)
        #expect(trims(&policy, [20, 8, 4]) == [4])   // 8 is half, but only 12 fewer
        #expect(policy.peak == 4)
    }

    @Test func aBurstBetweenTwoTicksCounts() {
        var policy = MemoryTrimPolicy(minimumDrop: 16)
        #expect(trims(&policy, [0]).isEmpty)
        for clients in 1...1000 { policy.noteClients(clients) }   // accepted, then all gone
        #expect(trims(&policy, [0]) == [0])
    }

    @Test func theNextPeakStartsFromTheTrim() {
        var policy = MemoryTrimPolicy(minimumDrop: 16)
        #expect(trims(&policy, [100, 40, 30, 300, 100]) == [40, 100])   // 30 is only 10 below 40
    }
}
