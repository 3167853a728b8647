import Testing
@testable import SlotProxyCore

@Suite("HoldQueue")
struct HoldQueueTests {
    @Test("held requests leave in order once their target is routable")
    func releaseInOrder() {
        var q = HoldQueue<Int>()
        for i in 0..<5 { q.hold(i, deadline: 30) }
        var routable = false
        var (ready, expired) = q.drain(now: 1) { _ in routable }
        #expect(ready.isEmpty && expired.isEmpty && q.count == 5)
        routable = true
        (ready, expired) = q.drain(now: 2) { _ in routable }
        #expect(ready == [0, 1, 2, 3, 4])
        #expect(expired.isEmpty && q.isEmpty)
    }

    @Test("only requests whose own target is back are released")
    func partialRelease() {
        var q = HoldQueue<Int>()
        for i in 0..<6 { q.hold(i, deadline: 30) }
        let (ready, _) = q.drain(now: 1) { $0 % 2 == 0 }
        #expect(ready == [0, 2, 4])
        #expect(q.count == 3)
    }

    @Test("a request past its deadline expires instead of waiting on")
    func deadline() {
        var q = HoldQueue<String>()
        q.hold("early", deadline: 5)
        q.hold("late", deadline: 50)
        let (ready, expired) = q.drain(now: 5) { _ in false }
        #expect(ready.isEmpty)
        #expect(expired == ["early"])
        #expect(q.count == 1)
    }

    @Test("a backoff delays the retry even when the target is routable")
    func notBefore() {
        var q = HoldQueue<Int>()
        q.hold(1, deadline: 30, notBefore: 0.4)
        #expect(q.drain(now: 0.3) { _ in true }.ready.isEmpty)
        #expect(q.drain(now: 0.4) { _ in true }.ready == [1])
    }

    @Test("backoff doubles up to its cap")
    func backoff() {
        let b = Backoff(base: 0.01, cap: 0.2)
        #expect(b.delay(attempt: 0) == 0.01)
        #expect(b.delay(attempt: 1) == 0.02)
        #expect(b.delay(attempt: 4) == 0.16)
        #expect(b.delay(attempt: 5) == 0.2)
        #expect(b.delay(attempt: 60) == 0.2)
    }
}
