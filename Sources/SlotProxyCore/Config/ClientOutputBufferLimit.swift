// How much reply data the proxy may keep for a client that does not read it, as Redis's
// client-output-buffer-limit: per class of client a hard limit (closed at once) and a soft
// limit (closed once over it for longer than some seconds).
//
//   "normal 0 0 0 pubsub 32mb 8mb 60" ─parse─▶ ClientOutputBufferLimits
//   each flush: pending output bytes, now ─check─▶ .within / .overHard / .overSoft
//
// The check is pure (time passed in), so the soft-limit clock is unit-tested without I/O.
// Requests are never the problem for a normal client: the proxy stops reading one whose
// replies pile up (backpressure), so its output only grows by the replies it is owed. A
// subscribed client's messages keep coming however little it reads: that is what the hard
// limit of the pubsub class is for.

/// One class's limits; 0 disables a limit.
public struct ClientOutputBufferLimit: Equatable, Sendable {
    /// Close a client as soon as its pending output reaches this many bytes.
    public var hardBytes: Int
    /// Close a client whose pending output stays at or above this many bytes ...
    public var softBytes: Int
    /// ... for longer than this many seconds.
    public var softSeconds: Int

    public init(hardBytes: Int, softBytes: Int, softSeconds: Int) {
        self.hardBytes = hardBytes
        self.softBytes = softBytes
        self.softSeconds = softSeconds
    }

    public static let unlimited = ClientOutputBufferLimit(hardBytes: 0, softBytes: 0, softSeconds: 0)

    /// What a check found.
    public enum Verdict: Equatable, Sendable {
        case within
        /// Pending output reached the hard limit.
        case overHard
        /// Pending output has been at or above the soft limit for longer than `softSeconds`.
        case overSoft
    }

    /// Judges a client's pending output at `now` (seconds, any monotonic clock), as Redis's
    /// checkClientOutputBufferLimits does.
    /// - Parameters:
    ///   - pending: bytes of replies the client has not read yet.
    ///   - overSoftSince: when the client was first seen at or above the soft limit (0: it
    ///     is not); kept by the caller between checks, updated here.
    public func check(pending: Int, now: Double, overSoftSince: inout Double) -> Verdict {
        if hardBytes > 0 && pending >= hardBytes { return .overHard }
        guard softBytes > 0 && pending >= softBytes else {
            overSoftSince = 0
            return .within
        }
        if overSoftSince == 0 {
            overSoftSince = now
            return .within
        }
        return now - overSoftSince > Double(softSeconds) ? .overSoft : .within
    }

    /// `hard soft seconds`, sizes in the largest exact binary unit.
    var text: String {
        "\(ConfigValueReader.memoryValueText(hardBytes)) \(ConfigValueReader.memoryValueText(softBytes)) \(softSeconds)"
    }
}

/// The limits of each class of client (`client-output-buffer-limit`).
public struct ClientOutputBufferLimits: Equatable, Sendable {
    /// Every client that is not subscribed.
    public var normal: ClientOutputBufferLimit
    /// Clients subscribed to at least one channel or pattern (SUBSCRIBE, PSUBSCRIBE, SSUBSCRIBE).
    public var pubsub: ClientOutputBufferLimit

    public init(normal: ClientOutputBufferLimit, pubsub: ClientOutputBufferLimit) {
        self.normal = normal
        self.pubsub = pubsub
    }

    /// The class names, in the order proxy.conf writes them.
    static let classes = ["normal", "pubsub"]

    /// `normal h s n pubsub h s n`: what proxy.conf and CONFIG GET show.
    var text: String { "normal \(normal.text) pubsub \(pubsub.text)" }
}

extension ConfigValueReader {
    /// `class hard soft seconds`, one or more groups (as Redis's CONFIG SET takes them), each
    /// replacing that class's limits only, so one line per class works as in redis.conf.
    static func clientOutputBufferLimits(_ arguments: [String], into limits: inout ClientOutputBufferLimits) throws(InvalidConfigValue) {
        let words = arguments.flatMap { $0.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init) }
        let rule = "must be groups of <class> <hard limit> <soft limit> <soft seconds>, class normal or pubsub"
        guard !words.isEmpty, words.count % 4 == 0 else {
            throw InvalidConfigValue(value: words.joined(separator: " "), expected: rule)
        }
        var result = limits
        for group in stride(from: 0, to: words.count, by: 4) {
            let name = asciiLowercased(words[group])
            guard ClientOutputBufferLimits.classes.contains(name) else {
                throw InvalidConfigValue(value: words[group], expected: rule)
            }
            let hard = try memory(words[group + 1], in: 0...Int.max)
            let soft = try memory(words[group + 2], in: 0...Int.max)
            let seconds = try integer(words[group + 3], in: 0...Int(Int32.max))
            let limit = ClientOutputBufferLimit(hardBytes: hard, softBytes: soft, softSeconds: seconds)
            if name == "normal" { result.normal = limit } else { result.pubsub = limit }
        }
        limits = result
    }
}
