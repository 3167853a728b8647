// Decodes whole RESP2/RESP3 values from bytes into RESPValue. Cold paths only (topology,
// COMMAND, tests). Returns nil when the bytes end before the value does; throws only on
// malformed input.

public struct RESPDecodingError: Error, Equatable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

public enum RESPValueDecoder {
    /// Decodes one value at the start of `bytes`.
    /// - Returns: the value and the number of bytes it took, or nil if incomplete.
    public static func decode(_ bytes: [UInt8]) throws -> (value: RESPValue, length: Int)? {
        try bytes.withUnsafeBufferPointer { buf in
            var i = 0
            guard let v = try decode(buf, &i) else { return nil }
            return (v, i)
        }
    }

    /// Decodes every complete value in `bytes`; throws if bytes are left over.
    public static func decodeAll(_ bytes: [UInt8]) throws -> [RESPValue] {
        try bytes.withUnsafeBufferPointer { buf in
            var i = 0
            var out: [RESPValue] = []
            while i < buf.count {
                guard let v = try decode(buf, &i) else {
                    throw RESPDecodingError("incomplete value at offset \(i)")
                }
                out.append(v)
            }
            return out
        }
    }

    private static func line(_ buf: UnsafeBufferPointer<UInt8>, _ i: inout Int) -> String? {
        var j = i
        while j + 1 < buf.count {
            if buf[j] == 13 && buf[j + 1] == 10 {
                let s = String(decoding: UnsafeBufferPointer(rebasing: buf[i..<j]), as: UTF8.self)
                i = j + 2
                return s
            }
            j += 1
        }
        return nil
    }

    private static func count(_ s: String) throws -> Int {
        guard let n = Int(s) else { throw RESPDecodingError("bad length '\(s)'") }
        return n
    }

    /// How deeply aggregates may nest. Redis's replies nest a few levels; the decoder recurses
    /// per level, so a node's reply nested 100,000 deep would otherwise overflow the stack.
    public static let maxDepth = 512

    private static func decode(_ buf: UnsafeBufferPointer<UInt8>, _ i: inout Int, depth: Int = 0) throws -> RESPValue? {
        guard depth <= maxDepth else { throw RESPDecodingError("values nested deeper than \(maxDepth) levels") }
        guard i < buf.count else { return nil }
        let start = i
        let type = buf[i]
        i += 1
        guard let header = line(buf, &i) else { i = start; return nil }
        func aggregate(_ n: Int) throws -> [RESPValue]? {
            var items: [RESPValue] = []
            items.reserveCapacity(max(0, min(n, 1 << 16)))
            for _ in 0..<max(0, n) {
                guard let v = try decode(buf, &i, depth: depth + 1) else { i = start; return nil }
                items.append(v)
            }
            return items
        }
        switch type {
        case UInt8(ascii: "+"): return .simpleString(header)
        case UInt8(ascii: "-"): return .error(header)
        case UInt8(ascii: ":"):
            guard let n = Int64(header) else { throw RESPDecodingError("bad integer '\(header)'") }
            return .integer(n)
        case UInt8(ascii: "$"), UInt8(ascii: "="), UInt8(ascii: "!"):
            let n = try count(header)
            if n < 0 { return .null }
            // Compared this way round so that no length, however large, overflows.
            guard buf.count - i - 2 >= n else { i = start; return nil }
            let body = Array(buf[i..<(i + n)])
            i += n + 2
            if type == UInt8(ascii: "!") { return .error(String(decoding: body, as: UTF8.self)) }
            if type == UInt8(ascii: "=") {
                let format = String(decoding: body.prefix(3), as: UTF8.self)
                return .verbatimString(format: format, text: Array(body.dropFirst(4)))
            }
            return .bulkString(body)
        case UInt8(ascii: "*"), UInt8(ascii: "~"), UInt8(ascii: ">"):
            let n = try count(header)
            if n < 0 { return .null }
            guard let items = try aggregate(n) else { return nil }
            if type == UInt8(ascii: "~") { return .set(items) }
            if type == UInt8(ascii: ">") { return .push(items) }
            return .array(items)
        case UInt8(ascii: "%"), UInt8(ascii: "|"):
            let n = try count(header)
            // Found by FuzzReplyParser: `|9223372036854775807` overflowed n * 2 and trapped.
            let (values, overflow) = n.multipliedReportingOverflow(by: 2)
            guard !overflow else { throw RESPDecodingError("bad length '\(header)'") }
            guard let items = try aggregate(values) else { return nil }
            if type == UInt8(ascii: "|") { return .attribute(items) }
            return .map(items)
        case UInt8(ascii: "_"): return .null
        case UInt8(ascii: "#"): return .boolean(header == "t")
        case UInt8(ascii: ","):
            switch header {
            case "inf": return .double(.infinity)
            case "-inf": return .double(-.infinity)
            case "nan": return .double(.nan)
            default:
                guard let d = Double(header) else { throw RESPDecodingError("bad double '\(header)'") }
                return .double(d)
            }
        case UInt8(ascii: "("): return .bigNumber(header)
        default:
            throw RESPDecodingError("unknown RESP type byte \(type)")
        }
    }
}

public enum RESPValueEncoder {
    /// Encodes a command as a RESP multibulk array of bulk strings.
    public static func command(_ args: [String]) -> [UInt8] {
        command(args.map { Array($0.utf8) })
    }

    public static func command(_ args: [[UInt8]]) -> [UInt8] {
        var out: [UInt8] = []
        out.append(contentsOf: "*\(args.count)\r\n".utf8)
        for a in args {
            out.append(contentsOf: "$\(a.count)\r\n".utf8)
            out.append(contentsOf: a)
            out.append(contentsOf: "\r\n".utf8)
        }
        return out
    }
}
