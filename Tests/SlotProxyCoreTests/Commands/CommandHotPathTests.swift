import Testing
#if canImport(Glibc)
import Glibc
#endif
@testable import SlotProxyCore

/// Checks that command lookup, resolution and key extraction never allocate.
///
/// It needs an allocation counter preloaded into the test process, so it is skipped otherwise.
/// To run it, build this into a shared library and preload it:
///
///     // count.c:  cc -shared -fPIC -O2 -o /tmp/libcount.so count.c -ldl
///     #define _GNU_SOURCE
///     #include <dlfcn.h>
///     #include <stddef.h>
///     volatile long slotproxy_alloc_count = 0;
///     static void *(*next_malloc)(size_t);
///     static void *(*next_realloc)(void *, size_t);
///     static int (*next_memalign)(void **, size_t, size_t);
///     void *malloc(size_t n) { if (!next_malloc) next_malloc = dlsym(RTLD_NEXT, "malloc");
///                              slotproxy_alloc_count++; return next_malloc(n); }
///     void *realloc(void *p, size_t n) { if (!next_realloc) next_realloc = dlsym(RTLD_NEXT, "realloc");
///                                        slotproxy_alloc_count++; return next_realloc(p, n); }
///     int posix_memalign(void **p, size_t a, size_t n) {
///         if (!next_memalign) next_memalign = dlsym(RTLD_NEXT, "posix_memalign");
///         slotproxy_alloc_count++; return next_memalign(p, a, n); }
///
///     LD_PRELOAD=/tmp/libcount.so swift test --filter CommandHotPath
@Suite("Command hot path")
struct CommandHotPathTests {
    static func allocationCounter() -> UnsafeMutablePointer<Int>? {
        #if canImport(Glibc)
        return dlsym(nil, "slotproxy_alloc_count")?.assumingMemoryBound(to: Int.self)
        #else
        return nil
        #endif
    }

    @Test("resolve, lookup and forEachKey do not allocate",
          .enabled(if: allocationCounter() != nil, "needs the LD_PRELOAD allocation counter (see the doc comment)"))
    func noAllocation() throws {
        let counter = try #require(Self.allocationCounter())
        let table = CommandTable.snapshot
        let requests = [
            ["GET", "k"], ["mset", "a", "1", "b", "2"], ["eval", "s", "2", "a", "b"],
            ["XREAD", "COUNT", "1", "STREAMS", "a", "b", "0", "0"], ["object", "encoding", "k"],
            ["sort", "k", "LIMIT", "0", "1", "STORE", "d"], ["migrate", "h", "1", "", "0", "1", "KEYS", "a", "b"],
            ["zunionstore", "d", "2", "a", "b"], ["client", "SETNAME", "x"], ["spublish", "c", "m"],
            ["nosuchcommand", "x"], ["eval", "s", "x", "a"],
        ].map { OwnedRequest($0) }
        for request in requests {
            request.withArguments { view in
                var sum = 0
                func once() {
                    // Error results build their text (a cold path), so only known names resolve.
                    guard table.lookup(view[0]) != nil else { return }
                    if case .command(let spec) = table.resolve(view) {
                        _ = spec.forEachKey(in: view) { sum &+= $0 }
                        _ = spec.forEachKey(in: view, includingNotKeys: true) { i, _ in sum &+= i }
                    }
                }
                once()  // one-time initialisation (static lets) is not the hot path
                let before = counter.pointee
                for _ in 0..<1000 { once() }
                #expect(counter.pointee - before == 0, "\(view.string(0)) allocated")
            }
        }
    }
}
