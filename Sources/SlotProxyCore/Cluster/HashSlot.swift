// A Redis Cluster hash slot: the unit of key placement. Every key maps to one of 16384 slots,
// CRC16(key) mod 16384, where only the hash tag is hashed when the key has one ("{user1000}.a"
// and "{user1000}.b" share a slot). Routing calls HashSlot(key:) with a slice of the client's
// read buffer, and the SlotMap turns the slot into a primary index. Hot path: no allocation.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One of the 16384 hash slots of a Redis Cluster.
public struct HashSlot: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The slot number, always in `0..<16384`.
    public let rawValue: UInt16

    /// Number of hash slots in a Redis Cluster.
    public static let count = 16384

    /// Wraps a slot number.
    /// - Precondition: `rawValue < 16384`. Use `init?(exactly:)` for numbers read off the wire.
    @inlinable
    public init(rawValue: UInt16) {
        precondition(rawValue < 16384, "hash slot \(rawValue) out of range")
        self.rawValue = rawValue
    }

    /// Wraps a slot number read from a reply or a config; nil unless it is in `0..<16384`.
    @inlinable
    public init?(exactly value: Int) {
        guard value >= 0 && value < HashSlot.count else { return nil }
        self.rawValue = UInt16(truncatingIfNeeded: value)
    }

    /// The slot of a key given as raw bytes (a slice of a request buffer). Allocation-free.
    @inlinable
    public init(key: UnsafeRawBufferPointer) {
        // 16384 is a power of two, so the modulo is a mask of the low 14 bits.
        self.rawValue = CRC16.checksum(HashSlot.hashedPart(of: key)) & 0x3FFF
    }

    /// The slot of a key given as text (cold paths and tests).
    public init(key: String) {
        var key = key
        self = key.withUTF8 { HashSlot(key: UnsafeRawBufferPointer($0)) }
    }

    /// The slot of a key given as bytes (cold paths and tests).
    public init(key: [UInt8]) {
        self = key.withUnsafeBytes { HashSlot(key: $0) }
    }

    /// The bytes Redis hashes for `key`, per its hash-tag rule (cluster.c `keyHashSlot`):
    /// find the first '{', then the first '}' after it; if the text between them is
    /// non-empty, hash only that text, otherwise hash the whole key.
    /// - Returns: a view into `key` (no copy).
    @inlinable @inline(__always)
    static func hashedPart(of key: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        // memchr: most keys have no '{', and libc finds that in a few instructions.
        guard let base = key.baseAddress,
              let open = memchr(base, Int32(UInt8(ascii: "{")), key.count) else { return key }
        let afterOpen = UnsafeRawPointer(open) + 1
        let rest = key.count - (afterOpen - base)
        // No '}' after the '{', or an empty tag "{}"? Hash the whole key.
        guard let close = memchr(afterOpen, Int32(UInt8(ascii: "}")), rest),
              UnsafeRawPointer(close) > afterOpen else { return key }
        return UnsafeRawBufferPointer(start: afterOpen, count: UnsafeRawPointer(close) - afterOpen)
    }

    @inlinable
    public static func < (lhs: HashSlot, rhs: HashSlot) -> Bool { lhs.rawValue < rhs.rawValue }

    public var description: String { String(rawValue) }
}
