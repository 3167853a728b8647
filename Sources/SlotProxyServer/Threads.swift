// The proxy's few long-lived threads (one per worker, the topology thread, the admin endpoint)
// and the waits between them, on plain pthreads. Foundation's Thread, NSCondition and
// Dispatch would link Foundation and ICU into the process: ~8 MB of resident memory in every
// sidecar, for three threads and two waits.
//
//   OSThread.start(name:) { body }   a detached thread running body
//   Monitor                          a mutex + condition variable, timed waits on CLOCK_MONOTONIC
//   Latch(count)                     countDown() per finished thread; wait(timeout:) for all

import CLibevent
import Glibc

enum OSThread {
    /// Runs `body` on a new detached thread. `name` shows in `top -H` and /proc (Linux keeps
    /// 15 bytes of it).
    static func start(name: String, stackSize: Int = 1 << 20, _ body: @escaping () -> Void) {
        let start = Start(name: name, body: body)
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        pthread_attr_setstacksize(&attributes, stackSize)
        pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
        var thread = pthread_t()
        let argument = Unmanaged.passRetained(start).toOpaque()
        let failed = pthread_create(&thread, &attributes, threadEntry, argument)
        // Without a thread the proxy cannot serve at all: like Foundation's Thread, stop here.
        precondition(failed == 0, "pthread_create failed: \(failed)")
    }

    fileprivate final class Start {
        let name: String
        let body: () -> Void
        init(name: String, body: @escaping () -> Void) {
            self.name = name
            self.body = body
        }
    }
}

private func threadEntry(_ argument: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    let start = Unmanaged<OSThread.Start>.fromOpaque(argument!).takeRetainedValue()
    slotproxy_set_thread_name(start.name)
    start.body()
    return nil
}

/// A mutex and a condition variable. Timed waits measure on the monotonic clock, so a change
/// of the wall clock neither cuts a wait short nor stretches it.
final class Monitor: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    init() {
        pthread_mutex_init(mutex, nil)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(condition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    func lock() { pthread_mutex_lock(mutex) }
    func unlock() { pthread_mutex_unlock(mutex) }

    /// Wakes every waiter (call with the lock held).
    func broadcast() { pthread_cond_broadcast(condition) }

    /// Waits (lock held) until woken or until `deadline` (`MonotonicClock.seconds()`, the
    /// condition's clock); spurious wakeups happen, so callers test their own condition in a loop.
    func wait(until deadline: Double) {
        let whole = deadline.rounded(.down)
        var at = timespec(tv_sec: Int(whole), tv_nsec: Int((deadline - whole) * 1e9))
        _ = pthread_cond_timedwait(condition, mutex, &at)
    }
}

/// Counts threads still running: each calls `countDown()` as it ends; `wait(timeout:)` tells
/// whether all did in time.
final class Latch: @unchecked Sendable {
    private let monitor = Monitor()
    private var remaining: Int

    init(count: Int) { remaining = count }

    func countDown() {
        monitor.lock()
        remaining -= 1
        if remaining <= 0 { monitor.broadcast() }
        monitor.unlock()
    }

    /// True when the count reached zero within `timeout` seconds (0: just look).
    func wait(timeout: Double) -> Bool {
        let deadline = MonotonicClock.seconds() + timeout
        monitor.lock()
        defer { monitor.unlock() }
        while remaining > 0 {
            if MonotonicClock.seconds() >= deadline { return false }
            monitor.wait(until: deadline)
        }
        return true
    }
}
