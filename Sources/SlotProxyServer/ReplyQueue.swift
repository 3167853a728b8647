// The replies a client is owed, in request order. Every request takes the next sequence
// number; its reply is written to the client only when every earlier reply has been, so a
// pipelining client gets answers in order while different primaries answer out of order.
//
//   headSequence        headSequence + count
//   | waiting | ready (held) | waiting | …
//
// A reply that arrives for the head goes straight to the client's output buffer and never
// lands here. One that overtakes an earlier reply is copied into `held`, a single buffer
// shared by all held replies (no allocation per reply), until its turn comes.

struct ReplyQueue {
    struct Entry {
        var ready = false
        /// Where this reply's bytes are in `held`, once ready.
        var start: Int32 = 0
        var length: Int32 = 0
        /// For a split or fanned-out request: the parts collected so far.
        var merge: PendingMerge?
        /// Taken under CLIENT REPLY OFF/SKIP: the reply is dropped when its turn comes.
        var discard = false
        /// The command's `NameRegistry.commands` number (-1: not counted) and the worker's
        /// clock when it was parsed: counted when its reply arrives (Worker+Metrics).
        var command: Int32 = -1
        var started: UInt64 = 0
    }

    /// Set while dispatching a command whose reply the client turned off (CLIENT REPLY).
    var silencing = false
    /// The command being dispatched (-1 outside dispatch) and when it was parsed: every entry
    /// pushed meanwhile is that command's reply.
    var command: Int32 = -1
    var started: UInt64 = 0

    /// The head's reply is to be dropped, not written.
    var headDiscards: Bool { count > 0 && entries[head].discard }

    private var entries: [Entry] = []
    private var head = 0
    private(set) var count = 0
    /// Sequence number of the oldest reply still owed.
    private(set) var headSequence: UInt64 = 0
    private var held: [UInt8] = []

    var isEmpty: Bool { count == 0 }
    /// Bytes of replies held until their turn (output the client is owed but not sent yet).
    var heldBytes: Int { held.count }
    var nextSequence: UInt64 { headSequence &+ UInt64(count) }

    /// Reserves the next place in line for a reply still to come.
    @inline(__always)
    mutating func append() -> UInt64 {
        push(Entry())
    }

    /// The next place in line for a reply known now (a local answer queued behind others).
    mutating func appendReady(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        let sequence = push(Entry(ready: true, start: Int32(held.count), length: Int32(bytes.count)))
        held.append(contentsOf: bytes)
        return sequence
    }

    /// Reserves the next place in line for a reply assembled from several parts.
    mutating func append(merge: PendingMerge) -> UInt64 {
        push(Entry(merge: merge))
    }

    @inline(__always)
    private mutating func push(_ entry: Entry) -> UInt64 {
        if count == entries.count { grow() }
        var entry = entry
        entry.discard = silencing
        entry.command = command
        entry.started = started
        entries[(head + count) & (entries.count - 1)] = entry
        count += 1
        return headSequence &+ UInt64(count - 1)
    }

    /// The parts being collected for request `sequence`, if it is a merged one still owed.
    func merge(for sequence: UInt64) -> PendingMerge? {
        let offset = Int(sequence &- headSequence)
        guard offset >= 0 && offset < count else { return nil }
        return entries[(head + offset) & (entries.count - 1)].merge
    }

    /// The command and parse time of request `sequence` (command -1 when not counted).
    @inline(__always)
    func timing(for sequence: UInt64) -> (command: Int32, started: UInt64) {
        let offset = Int(truncatingIfNeeded: sequence &- headSequence)
        guard offset >= 0 && offset < count else { return (-1, 0) }
        // Field by field: copying the whole entry would retain and release its merge.
        let i = (head &+ offset) & (entries.count &- 1)
        return (entries[i].command, entries[i].started)
    }

    /// Holds a reply that arrived before the ones ahead of it.
    mutating func hold(_ sequence: UInt64, _ bytes: UnsafeRawBufferPointer) {
        let offset = Int(sequence &- headSequence)
        guard offset >= 0 && offset < count else { return }
        let i = (head + offset) & (entries.count - 1)
        entries[i] = Entry(ready: true, start: Int32(held.count), length: Int32(bytes.count), discard: entries[i].discard)
        held.append(contentsOf: bytes)
    }

    /// Removes the head entry (its reply has just been written).
    @inline(__always)
    mutating func removeHead() {
        entries[head] = Entry()
        head = (head + 1) & (entries.count - 1)
        count -= 1
        headSequence &+= 1
        if count == 0 { held.removeAll(keepingCapacity: true) }
    }

    /// Moves every ready reply at the head of the line to `output`, in order.
    mutating func popReadyHeads(into output: inout ByteBuffer) {
        while count > 0 && entries[head].ready {
            let start = Int(entries[head].start), length = Int(entries[head].length)
            if length > 0 && !entries[head].discard {
                held.withUnsafeBytes { output.append($0.baseAddress! + start, length) }
            }
            removeHead()
        }
    }

    /// Frees storage that grew large once nothing is owed.
    mutating func shrinkIfIdle() {
        guard count == 0 else { return }
        if entries.count > 16 {
            entries = []
            head = 0
        }
        if held.capacity > 4096 { held = [] }
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
