// Stable small integers for names that counters are kept by: command names (commandstats)
// and error prefixes (errorstats). Workers count into fixed-size arrays indexed by these
// numbers, so the request path never hashes a name; the name behind a number is looked up
// only when metrics are read. Registration takes a lock; it happens on cold paths (a command
// table being built, an error prefix a worker has not seen before).

import Synchronization

public final class NameRegistry: Sendable {
    /// Command names ("get", "client|list"), registered as CommandSpecs are built.
    public static let commands = NameRegistry(capacity: 1024, overflow: "other")
    /// Error prefixes ("ERR", "WRONGTYPE"), at most 128 as in Redis's errorstats.
    public static let errors = NameRegistry(capacity: 128, overflow: "OTHER")

    /// Numbers are below this; the last one stands for every name past the capacity.
    public let capacity: Int
    private let state: Mutex<(names: [String], byName: [String: Int])>

    private let overflowName: String

    public init(capacity: Int, overflow: String) {
        self.capacity = capacity
        self.overflowName = overflow
        state = Mutex(([], [:]))
    }

    /// The number of `name`, registering it if new.
    public func index(for name: String) -> Int {
        state.withLock { s in
            if let i = s.byName[name] { return i }
            guard s.names.count < capacity - 1 else { return capacity - 1 }
            s.names.append(name)
            s.byName[name] = s.names.count - 1
            return s.names.count - 1
        }
    }

    /// The name of every number in use, by number (the overflow number last, if reached).
    public func names() -> [String] {
        state.withLock { s in
            s.names.count < capacity - 1 ? s.names : s.names + [overflowName]
        }
    }
}
