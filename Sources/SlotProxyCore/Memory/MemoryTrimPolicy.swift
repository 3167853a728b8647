// When a worker gives freed memory back to the system. Memory a client used is freed when it
// leaves, but the allocator keeps it for reuse until told to return it (malloc_trim), and
// returning pages that are soon needed again only costs page faults. So a worker asks for it
// after its connected clients fell to half of their peak since the last time, by at least
// `minimumDrop`: a burst of clients that left, not a health check that came and went.
//
//   accept            ─▶ noteClients(count)   (the peak, however briefly it lasted)
//   Worker's 1 s tick ─▶ shouldTrim(clients:) ─▶ true: compact its tables, malloc_trim

public struct MemoryTrimPolicy: Sendable {
    /// The most clients connected since the last trim (or the start).
    public private(set) var peak = 0
    public let minimumDrop: Int

    public init(minimumDrop: Int = 16) {
        self.minimumDrop = minimumDrop
    }

    /// Notes the number of clients after one connected: a burst that comes and goes between
    /// two ticks still counts.
    @inline(__always)
    public mutating func noteClients(_ clients: Int) {
        if clients > peak { peak = clients }
    }

    /// Notes the current number of clients; true when memory should be returned now.
    public mutating func shouldTrim(clients: Int) -> Bool {
        peak = max(peak, clients)
        guard peak - clients >= minimumDrop, clients <= peak / 2 else { return false }
        peak = clients
        return true
    }
}
