// The proxy's own slow log, as Redis's SLOWLOG shows it. Each worker keeps a ring of its
// newest entries (a request is slow when the time from its parse to its reply being queued
// to the client reaches slowlog-log-slower-than); SLOWLOG GET merges every worker's ring by
// id, newest first. Entries have Redis's shape: id, unix time, duration in microseconds,
// arguments (at most 32, each at most 128 bytes, with Redis's "... (N more …)" notes),
// client address, client name.

/// One slow request.
public struct SlowLogEntry: Sendable, Equatable {
    public var id: Int64
    /// Unix time in seconds when it was logged.
    public var timestamp: Int64
    public var durationMicros: Int64
    public var arguments: [[UInt8]]
    public var clientAddress: String
    public var clientName: String

    public init(id: Int64, timestamp: Int64, durationMicros: Int64, arguments: [[UInt8]], clientAddress: String,
                clientName: String) {
        self.id = id
        self.timestamp = timestamp
        self.durationMicros = durationMicros
        self.arguments = arguments
        self.clientAddress = clientAddress
        self.clientName = clientName
    }
}

/// A ring of the newest `capacity` entries.
public struct SlowLog: Sendable {
    /// Redis's SLOWLOG_ENTRY_MAX_ARGC and SLOWLOG_ENTRY_MAX_STRING.
    public static let maxArguments = 32
    public static let maxArgumentBytes = 128

    public private(set) var capacity: Int
    private var ring: [SlowLogEntry] = []
    private var next = 0

    public init(capacity: Int) {
        self.capacity = max(0, capacity)
    }

    public var count: Int { ring.count }

    public mutating func add(_ entry: SlowLogEntry) {
        guard capacity > 0 else { return }
        if ring.count < capacity {
            ring.append(entry)
        } else {
            ring[next] = entry
        }
        next = (next + 1) % capacity
    }

    /// The entries, newest first.
    public var newestFirst: [SlowLogEntry] {
        ring.sorted { $0.id > $1.id }
    }

    public mutating func reset() {
        ring = []
        next = 0
    }

    /// The newest `count` entries of several logs (every one for a negative count).
    public static func merge(_ logs: [[SlowLogEntry]], count: Int) -> [SlowLogEntry] {
        let all = logs.joined().sorted { $0.id > $1.id }
        return count < 0 ? all : Array(all.prefix(count))
    }

    // MARK: - Arguments

    /// A request's arguments as Redis logs them: at most 32 (the last one then says how many
    /// more there were), each at most 128 bytes (then "... (N more bytes)").
    public static func truncatedArguments(_ args: RequestArguments) -> [[UInt8]] {
        let argc = args.count
        let kept = min(argc, maxArguments)
        var out: [[UInt8]] = []
        out.reserveCapacity(kept)
        for j in 0..<kept {
            if kept != argc && j == kept - 1 {
                out.append(Array("... (\(argc - kept + 1) more arguments)".utf8))
                break
            }
            let a = args[j]
            if a.count > maxArgumentBytes {
                out.append(Array(a[0..<maxArgumentBytes]) + Array("... (\(a.count - maxArgumentBytes) more bytes)".utf8))
            } else {
                out.append(Array(a))
            }
        }
        return out
    }

    /// The truncated arguments of the first request in `frame` (a multibulk or inline
    /// request, as a client sent it); empty when it is not one.
    public static func truncatedArguments(frame: UnsafeRawBufferPointer) -> [[UInt8]] {
        let bytes = Array(frame)
        let parser = RequestParser()
        return bytes.withUnsafeBufferPointer { buffer -> [[UInt8]] in
            guard let base = buffer.baseAddress,
                  case .frame(_, let inline) = parser.parse(base, count: buffer.count) else { return [] }
            if inline {
                return parser.inlineFrame.withUnsafeBufferPointer { f in
                    truncatedArguments(parser.arguments(base: f.baseAddress!))
                }
            }
            return truncatedArguments(parser.arguments(base: base))
        }
    }

    // MARK: - Replies

    /// SLOWLOG GET's reply: an array of [id, timestamp, duration, [args…], addr, name]
    /// (the same bytes in RESP2 and RESP3).
    public static func reply(_ entries: [SlowLogEntry]) -> [UInt8] {
        var out = RESPReply.arrayHeader(entries.count)
        for e in entries {
            out += RESPReply.arrayHeader(6)
            out += RESPReply.integer(Int(e.id))
            out += RESPReply.integer(Int(e.timestamp))
            out += RESPReply.integer(Int(e.durationMicros))
            out += RESPReply.arrayHeader(e.arguments.count)
            for a in e.arguments { out += RESPReply.bulk(a) }
            out += RESPReply.bulk(e.clientAddress)
            out += RESPReply.bulk(e.clientName)
        }
        return out
    }
}
