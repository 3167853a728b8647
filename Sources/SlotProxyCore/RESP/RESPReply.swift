// Encodes the replies the proxy writes itself (local commands, errors), for RESP2 or RESP3.
// Cold path: backend replies are forwarded as bytes and never pass through here.

public enum RESPReply {
    public static let ok: [UInt8] = Array("+OK\r\n".utf8)
    public static let pong: [UInt8] = Array("+PONG\r\n".utf8)

    public static func simple(_ s: String) -> [UInt8] { Array("+\(s)\r\n".utf8) }

    /// An error reply; `message` starts with its code (`ERR …`, `CROSSSLOT …`).
    public static func error(_ message: String) -> [UInt8] {
        // CR or LF would end the reply early: Redis replaces them with spaces too.
        var body = Array(message.utf8)
        for i in body.indices where body[i] == 13 || body[i] == 10 { body[i] = 32 }
        return [UInt8(ascii: "-")] + body + [13, 10]
    }

    public static func integer(_ n: Int) -> [UInt8] { Array(":\(n)\r\n".utf8) }

    public static func bulk(_ bytes: [UInt8]) -> [UInt8] {
        Array("$\(bytes.count)\r\n".utf8) + bytes + [13, 10]
    }

    public static func bulk(_ s: String) -> [UInt8] { bulk(Array(s.utf8)) }

    public static func null(protocolVersion: Int) -> [UInt8] {
        protocolVersion >= 3 ? Array("_\r\n".utf8) : Array("$-1\r\n".utf8)
    }

    public static func arrayHeader(_ n: Int) -> [UInt8] { Array("*\(n)\r\n".utf8) }

    /// A map header: `%n` in RESP3, an array of 2n elements in RESP2.
    public static func mapHeader(_ pairs: Int, protocolVersion: Int) -> [UInt8] {
        protocolVersion >= 3 ? Array("%\(pairs)\r\n".utf8) : arrayHeader(pairs * 2)
    }

    /// Encodes a materialised value (local replies built as values).
    public static func encode(_ value: RESPValue, protocolVersion: Int) -> [UInt8] {
        var out: [UInt8] = []
        encode(value, protocolVersion: protocolVersion, into: &out)
        return out
    }

    private static func encode(_ value: RESPValue, protocolVersion v: Int, into out: inout [UInt8]) {
        switch value {
        case .simpleString(let s): out += simple(s)
        case .error(let s): out += error(s)
        case .integer(let n): out += Array(":\(n)\r\n".utf8)
        case .bulkString(let b): out += bulk(b)
        case .null: out += null(protocolVersion: v)
        case .array(let items), .set(let items), .push(let items):
            out += arrayHeader(items.count)
            for i in items { encode(i, protocolVersion: v, into: &out) }
        case .map(let items), .attribute(let items):
            out += mapHeader(items.count / 2, protocolVersion: v)
            for i in items { encode(i, protocolVersion: v, into: &out) }
        case .double(let d): out += v >= 3 ? Array(",\(d)\r\n".utf8) : bulk("\(d)")
        case .boolean(let b): out += v >= 3 ? Array("#\(b ? "t" : "f")\r\n".utf8) : Array(":\(b ? 1 : 0)\r\n".utf8)
        case .bigNumber(let s): out += v >= 3 ? Array("(\(s)\r\n".utf8) : bulk(s)
        case .verbatimString(_, let t): out += bulk(t)
        }
    }
}
