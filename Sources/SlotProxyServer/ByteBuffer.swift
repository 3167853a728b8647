// A growable byte buffer for one connection's input or output. Storage is allocated on
// first use and can be released when empty, so an idle connection holds no buffer at all.
//
//   0 ........ readIndex ............ writeIndex ........ capacity
//   | consumed | readable (pending)   | writable (free)    |

import Glibc

struct ByteBuffer {
    private(set) var storage: UnsafeMutablePointer<UInt8>?
    private(set) var capacity = 0
    private(set) var readIndex = 0
    private(set) var writeIndex = 0

    var readableCount: Int { writeIndex - readIndex }
    var isEmpty: Bool { writeIndex == readIndex }

    /// First readable byte; valid only while the buffer is not empty.
    var readPointer: UnsafeMutablePointer<UInt8> { storage! + readIndex }
    /// First writable byte; call `reserveWritable` first.
    var writePointer: UnsafeMutablePointer<UInt8> { storage! + writeIndex }
    var writableCount: Int { capacity - writeIndex }

    /// Makes room for at least `n` more bytes, moving pending bytes to the front or growing.
    mutating func reserveWritable(_ n: Int) {
        if capacity - writeIndex >= n { return }
        let pending = readableCount
        if readIndex > 0 && capacity - pending >= n && pending <= capacity / 2 {
            if pending > 0 { memmove(storage!, storage! + readIndex, pending) }
            readIndex = 0
            writeIndex = pending
            return
        }
        var newCapacity = max(capacity, 512)
        while newCapacity - pending < n { newCapacity *= 2 }
        let newStorage = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
        if pending > 0 { newStorage.update(from: storage! + readIndex, count: pending) }
        storage?.deallocate()
        storage = newStorage
        capacity = newCapacity
        readIndex = 0
        writeIndex = pending
    }

    @inline(__always)
    mutating func didWrite(_ n: Int) { writeIndex += n }

    @inline(__always)
    mutating func append(_ bytes: UnsafeRawPointer, _ count: Int) {
        guard count > 0 else { return }
        reserveWritable(count)
        (storage! + writeIndex).update(from: bytes.assumingMemoryBound(to: UInt8.self), count: count)
        writeIndex += count
    }

    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        if let base = bytes.baseAddress { append(base, bytes.count) }
    }

    mutating func append(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { append($0) }
    }

    mutating func append(_ string: StaticString) {
        append(string.utf8Start, string.utf8CodeUnitCount)
    }

    mutating func append(string: String) {
        var s = string
        s.withUTF8 { append(UnsafeRawBufferPointer($0)) }
    }

    /// Drops `n` bytes from the front; an emptied buffer starts over at index 0.
    @inline(__always)
    mutating func consume(_ n: Int) {
        readIndex += n
        if readIndex == writeIndex {
            readIndex = 0
            writeIndex = 0
        }
    }

    /// Frees the storage if nothing is pending and it is larger than `keep` bytes.
    mutating func releaseIfEmpty(keepingUpTo keep: Int = 0) {
        guard isEmpty, capacity > keep else { return }
        storage?.deallocate()
        storage = nil
        capacity = 0
        readIndex = 0
        writeIndex = 0
    }

    mutating func deallocate() {
        storage?.deallocate()
        storage = nil
        capacity = 0
        readIndex = 0
        writeIndex = 0
    }
}
