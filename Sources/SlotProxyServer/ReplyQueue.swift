// The replies a client is owed, in request order. Every request takes the next sequence
// number; its reply is written to the client only when every earlier reply has been, so a
// pipelining client gets answers in order while different primaries answer out of order.
//
//   headSequence        headSequence + count
//   | waiting | ready(held bytes) | waiting | …
//
// A reply that arrives for the head goes straight to the client's output buffer and never
// lands here; only replies that overtake an earlier one are held (copied) until their turn.

struct ReplyQueue {
    struct Entry {
        var ready = false
        var bytes: [UInt8] = []
        /// For a split or fanned-out request: the parts collected so far.
        var merge: PendingMerge?
    }

    private var entries: [Entry] = []
    private var head = 0
    private(set) var count = 0
    /// Sequence number of the oldest reply still owed.
    private(set) var headSequence: UInt64 = 0

    var isEmpty: Bool { count == 0 }
    var nextSequence: UInt64 { headSequence &+ UInt64(count) }

    /// Reserves the next place in line. A reply that is already known (`bytes`) is ready.
    mutating func append(ready: Bool = false, bytes: [UInt8] = []) -> UInt64 {
        if count == entries.count { grow() }
        entries[(head + count) & (entries.count - 1)] = Entry(ready: ready, bytes: bytes)
        count += 1
        return headSequence &+ UInt64(count - 1)
    }

    /// Reserves the next place in line for a reply assembled from several parts.
    mutating func append(merge: PendingMerge) -> UInt64 {
        if count == entries.count { grow() }
        entries[(head + count) & (entries.count - 1)] = Entry(ready: false, bytes: [], merge: merge)
        count += 1
        return headSequence &+ UInt64(count - 1)
    }

    /// The parts being collected for request `sequence`, if it is a merged one still owed.
    func merge(for sequence: UInt64) -> PendingMerge? {
        let offset = Int(sequence &- headSequence)
        guard offset >= 0 && offset < count else { return nil }
        return entries[(head + offset) & (entries.count - 1)].merge
    }

    /// Holds a reply that arrived before the ones ahead of it.
    mutating func hold(_ sequence: UInt64, _ bytes: [UInt8]) {
        let offset = Int(sequence &- headSequence)
        guard offset >= 0 && offset < count else { return }
        let i = (head + offset) & (entries.count - 1)
        entries[i].ready = true
        entries[i].bytes = bytes
        entries[i].merge = nil
    }

    /// Removes the head entry (its reply has just been written).
    mutating func removeHead() {
        entries[head] = Entry()
        head = (head + 1) & (entries.count - 1)
        count -= 1
        headSequence &+= 1
    }

    /// Removes and returns the head's held bytes if the head is ready.
    mutating func popReadyHead() -> [UInt8]? {
        guard count > 0, entries[head].ready else { return nil }
        let bytes = entries[head].bytes
        removeHead()
        return bytes
    }

    /// Frees the entry storage once nothing is owed and it grew large.
    mutating func shrinkIfIdle() {
        if count == 0 && entries.count > 16 {
            entries = []
            head = 0
        }
    }

    private mutating func grow() {
        let newCapacity = max(4, entries.count * 2)
        var newEntries = [Entry](repeating: Entry(), count: newCapacity)
        for i in 0..<count {
            newEntries[i] = entries[(head + i) & (entries.count - 1)]
        }
        entries = newEntries
        head = 0
    }
}
