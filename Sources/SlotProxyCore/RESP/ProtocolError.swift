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
        case .expectedDollar(let got): return "ERR Protocol error: expected '$', got '\(Character(Unicode.Scalar(got)))'"
        case .unbalancedQuotes: return "ERR Protocol error: unbalanced quotes in request"
        case .tooBigInlineRequest: return "ERR Protocol error: too big inline request"
        case .tooBigMultibulkCountString: return "ERR Protocol error: too big mbulk count string"
        case .tooBigBulkCountString: return "ERR Protocol error: too big bulk count string"
        }
    }
}
