// The ways a client's request bytes can be malformed, each with the exact text Redis
// answers for it (src/networking.c). After one of these Redis closes the connection,
// and so does slotproxy.

public enum ProtocolError: Error, Equatable, Sendable {
    case invalidMultibulkLength
    case invalidBulkLength
    case expectedDollar(got: UInt8)
    case unbalancedQuotes
    case tooBigInlineRequest
    case tooBigMultibulkCountString
    case tooBigBulkCountString

    /// The error reply text, without the leading '-' and trailing CRLF.
    public var message: String {
        switch self {
        case .invalidMultibulkLength: return "ERR Protocol error: invalid multibulk length"
        case .invalidBulkLength: return "ERR Protocol error: invalid bulk length"
        case .expectedDollar(let got):
            // Redis writes the byte as it is, except CR and LF, which become spaces.
            let shown = got == 13 || got == 10 ? " " : String(decoding: [got], as: UTF8.self)
            return "ERR Protocol error: expected '$', got '\(shown)'"
        case .unbalancedQuotes: return "ERR Protocol error: unbalanced quotes in request"
        case .tooBigInlineRequest: return "ERR Protocol error: too big inline request"
        case .tooBigMultibulkCountString: return "ERR Protocol error: too big mbulk count string"
        case .tooBigBulkCountString: return "ERR Protocol error: too big bulk count string"
        }
    }

    /// The whole error reply, byte for byte as Redis sends it (`message` cannot hold a byte
    /// that is not UTF-8, such as the 0xFF of "expected '$', got '\xff'").
    public var reply: [UInt8] {
        guard case .expectedDollar(let got) = self, got >= 0x80 else {
            return Array("-\(message)\r\n".utf8)
        }
        return Array("-ERR Protocol error: expected '$', got '".utf8) + [got] + Array("'\r\n".utf8)
    }
}
