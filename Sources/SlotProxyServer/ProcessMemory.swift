// How the process gives back the memory its clients used once they leave (issue 6: "all of it
// returned when clients leave"). Three things stand in the way with glibc's malloc, and each
// has its answer here:
//
//   - libevent's per-descriptor records, live for as long as the event base, would sit between
//     the clients' freed memory and pin every page of it: they live in a region of their own
//     (CEventMemory, installed before any other libevent call);
//   - a worker thread's own malloc arena is only shrunk from its top by free() itself, never by
//     malloc_trim: one arena for the whole process (M_ARENA_MAX 1), whose top malloc_trim does
//     return. The request path does not allocate, so the threads do not contend for it;
//   - freed memory stays in malloc's free lists: a worker calls `trim()` after a burst of
//     clients left (MemoryTrimPolicy), which consolidates them and returns every free page.

import CEventMemory
import CLibevent
import Glibc

enum ProcessMemory {
    /// Once, before libevent or any other thread starts.
    static func configure() {
        _ = mallopt(M_ARENA_MAX, 1)
        _ = slotproxy_event_memory_install()
    }

    /// Returns every whole free page of the heap to the system.
    static func trim() {
        _ = malloc_trim(0)
    }
}

extension Dictionary {
    /// The same entries in a table sized for them: a dictionary never shrinks by itself, so
    /// one that once held a thousand clients keeps room for a thousand.
    func compacted() -> Self {
        guard capacity > 2 * Swift.max(count, 64) else { return self }
        var smaller = Self(minimumCapacity: count)
        for (key, value) in self { smaller[key] = value }
        return smaller
    }
}
