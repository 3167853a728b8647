// A non-owning view of one parsed request's arguments: where each argument lies in the
// bytes the client sent. The request parser fills the offset tables; key extraction,
// command lookup and routing read arguments through this view without copying them.

public struct RequestArguments {
    /// Start of the frame the offsets are relative to.
    public let base: UnsafePointer<UInt8>
    /// Offset of each argument's first byte, relative to `base`.
    public let starts: UnsafePointer<Int32>
    /// Length of each argument in bytes.
    public let lengths: UnsafePointer<Int32>
    public let count: Int

    public init(base: UnsafePointer<UInt8>, starts: UnsafePointer<Int32>, lengths: UnsafePointer<Int32>, count: Int) {
        self.base = base
        self.starts = starts
        self.lengths = lengths
        self.count = count
    }

    /// The bytes of argument `i` (0 is the command name).
    @inline(__always)
    public subscript(i: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base + Int(starts[i]), count: Int(lengths[i]))
    }

    /// True when argument `i` equals `lowercased` ignoring ASCII case.
    /// `lowercased` must already be lower case.
    @inline(__always)
    public func equals(_ i: Int, lowercased: StaticString) -> Bool {
        asciiCaseInsensitiveEquals(self[i], lowercased)
    }

    /// Argument `i` as a String (cold paths: errors, local commands).
    public func string(_ i: Int) -> String {
        String(decoding: self[i], as: UTF8.self)
    }

    /// Argument `i` parsed as a decimal Int64, or nil.
    public func integer(_ i: Int) -> Int64? {
        let a = self[i]
        guard !a.isEmpty, a.count <= 20 else { return nil }
        var j = 0
        var negative = false
        if a[0] == UInt8(ascii: "-") { negative = true; j = 1; if a.count == 1 { return nil } }
        var v: Int64 = 0
        while j < a.count {
            let d = a[j] &- 48
            guard d < 10 else { return nil }
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.addingReportingOverflow(Int64(d))
            guard !o1, !o2 else { return nil }
            v = s
            j += 1
        }
        return negative ? -v : v
    }
}

/// An owned request, for tests and cold paths: holds argument bytes and lends a view.
public struct OwnedRequest {
    public var bytes: [UInt8]
    public var starts: [Int32]
    public var lengths: [Int32]

    public init(_ args: [String]) {
        self.init(bytes: args.map { Array($0.utf8) })
    }

    public init(bytes args: [[UInt8]]) {
        var bytes: [UInt8] = []
        var starts: [Int32] = []
        var lengths: [Int32] = []
        for a in args {
            starts.append(Int32(bytes.count))
            lengths.append(Int32(a.count))
            bytes.append(contentsOf: a)
        }
        self.bytes = bytes
        self.starts = starts
        self.lengths = lengths
    }

    /// Calls `body` with a view of the arguments.
    public func withArguments<R>(_ body: (RequestArguments) throws -> R) rethrows -> R {
        try bytes.withUnsafeBufferPointer { b in
            try starts.withUnsafeBufferPointer { s in
                try lengths.withUnsafeBufferPointer { l in
                    // An empty request still needs a valid base pointer.
                    let base = b.baseAddress ?? UnsafePointer(bitPattern: 1)!
                    let none = UnsafePointer<Int32>(bitPattern: 4)!
                    return try body(RequestArguments(base: base, starts: s.baseAddress ?? none,
                                                     lengths: l.baseAddress ?? none, count: s.count))
                }
            }
        }
    }
}

/// True when `bytes` equals `lowercased` ignoring ASCII case; `lowercased` is lower case.
@inline(__always)
public func asciiCaseInsensitiveEquals(_ bytes: UnsafeRawBufferPointer, _ lowercased: StaticString) -> Bool {
    guard bytes.count == lowercased.utf8CodeUnitCount else { return false }
    let p = lowercased.utf8Start
    for j in 0..<bytes.count where asciiLower(bytes[j]) != p[j] {
        return false
    }
    return true
}

/// Lower-cases one ASCII letter; every other byte is returned as it is.
@inline(__always)
public func asciiLower(_ b: UInt8) -> UInt8 {
    (b &- 65) < 26 ? b | 0x20 : b
}

/// True when `bytes` starts with `prefix` (exact bytes).
@inline(__always)
public func asciiHasPrefix(_ bytes: UnsafeRawBufferPointer, _ prefix: StaticString) -> Bool {
    let n = prefix.utf8CodeUnitCount
    guard bytes.count >= n else { return false }
    let p = prefix.utf8Start
    for j in 0..<n where bytes[j] != p[j] { return false }
    return true
}
