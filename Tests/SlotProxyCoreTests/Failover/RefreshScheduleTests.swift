import Testing
@testable import SlotProxyCore

@Suite("RefreshSchedule")
struct RefreshScheduleTests {
    @Test("a complete slot map is refreshed every period")
    func periodic() {
        var s = RefreshSchedule(period: 10)
        #expect(s.nextRefresh(slotMapComplete: true) < 0)  // never refreshed yet: due at once
        s.didRefresh(at: 100)
        #expect(s.nextRefresh(slotMapComplete: true) == 110)
    }

    @Test("an incomplete slot map is retried quickly")
    func incomplete() {
        var s = RefreshSchedule(period: 10, incompleteRetry: 0.25)
        s.didRefresh(at: 5)
        #expect(abs(s.nextRefresh(slotMapComplete: false) - 5.25) < 1e-9)
    }

    @Test("a burst of requests causes one refresh, no sooner than the minimum interval")
    func burst() {
        var s = RefreshSchedule(period: 10, minimumInterval: 0.1)
        s.didRefresh(at: 1.0)
        for _ in 0..<1000 { s.request() }  // a thousand MOVED replies at t = 1.02
        let due = s.nextRefresh(slotMapComplete: true)
        #expect(abs(due - 1.1) < 1e-9)
        s.didRefresh(at: due)
        #expect(!s.requested)
        #expect(abs(s.nextRefresh(slotMapComplete: true) - 11.1) < 1e-9)
        s.request()  // the next one waits for the interval again
        #expect(abs(s.nextRefresh(slotMapComplete: true) - 1.2) < 1e-9)
    }

    @Test("period 0 refreshes only on request or while incomplete")
    func noPeriod() {
        var s = RefreshSchedule(period: 0)
        s.didRefresh(at: 3)
        #expect(s.nextRefresh(slotMapComplete: true) == .infinity)
        s.request()
        #expect(abs(s.nextRefresh(slotMapComplete: true) - 3.1) < 1e-9)
    }
}
