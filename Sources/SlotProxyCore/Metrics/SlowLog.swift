// The proxy's own slow log, as Redis's SLOWLOG shows it. Each worker keeps a ring of its
// newest entries (a request is slow when the time from its parse to its reply being queued
// to the client reaches slowlog-log-slower-than); SLOWLOG GET merges every worker's ring by
// id, newest first. Entries have Redis's shape: id, unix time, duration in microseconds,
// arguments (at most 32, each at most 128 bytes, with Redis's "... (N more …)" notes),
// client address, client name.
//
// Under overload every request can be slow, so logging one must be cheap: the arguments are
// written straight from the request's bytes into one RESP buffer (what SLOWLOG GET sends), and
// a full ring hands the buffer of the entry it drops back to the worker for its next entry.

/// One slow request.
public struct SlowLogEntry: Sendable, Equatable {
    public var id: Int64
    /// Unix time in seconds when it was logged.
    public var timestamp: Int64
    public var durationMicros: Int64
    /// The logged arguments as SLOWLOG GET shows them, already in RESP: `*N` and N bulk
    /// strings. One buffer, so that logging reuses the one of the entry it replaces.
    public var argumentsRESP: [UInt8]
    public var clientAddress: String
    public var clientName: String

    public init(id: Int64, timestamp: Int64, durationMicros: Int64, argumentsRESP: [UInt8], clientAddress: String,
                clientName: String) {
        self.id = id
        self.timestamp = timestamp
        self.durationMicros = durationMicros
        self.argumentsRESP = argumentsRESP
        self.clientAddress = clientAddress
        self.clientName = clientName
    }

    /// An entry with these arguments (already truncated as Redis logs them).
    public init(id: Int64, timestamp: Int64, durationMicros: Int64, arguments: [[UInt8]], clientAddress: String,
                clientName: String) {
        self.init(id: id, timestamp: timestamp, durationMicros: durationMicros,
                  argumentsRESP: RESPValueEncoder.command(arguments), clientAddress: clientAddress, clientName: clientName)
    }

    /// The arguments one by one (decoded from `argumentsRESP`).
    public var arguments: [[UInt8]] { SlowLog.decodeArguments(argumentsRESP) }
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

    /// Adds an entry, in place of the oldest once the ring is full. Returns the replaced
    /// entry's arguments buffer (empty until the ring is full), for the caller to fill for its
    /// next entry: under overload every request can be slow, and logging then allocates nothing.
    @discardableResult
    public mutating func add(_ entry: SlowLogEntry) -> [UInt8] {
        guard capacity > 0 else { return entry.argumentsRESP }
        if ring.count < capacity {
            ring.append(entry)
            next = (next + 1) % capacity
            return []
        }
        var replaced: [UInt8] = []
        swap(&replaced, &ring[next].argumentsRESP)
        ring[next] = entry
        next = (next + 1) % capacity
        return replaced
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

    /// The arguments in an `argumentsRESP` (what `SlowLogWriter` wrote), one by one.
    public static func decodeArguments(_ resp: [UInt8]) -> [[UInt8]] {
        guard let decoded = try? RESPValueDecoder.decode(resp), case .array(let items) = decoded.value else { return [] }
        return items.compactMap { if case .bulkString(let bytes) = $0 { bytes } else { nil } }
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
            out += e.argumentsRESP
            out += RESPReply.bulk(e.clientAddress)
            out += RESPReply.bulk(e.clientName)
        }
        return out
    }
}

/// Writes a request's arguments as the slow log keeps them (`SlowLogEntry.argumentsRESP`): at
/// most 32 (the last one then says how many more there were), each at most 128 bytes (then
/// "... (N more bytes)"), as Redis logs them. Pointer stores into its own scratch memory, then
/// one copy into the entry's buffer. One per worker (it owns a parser and that memory).
public final class SlowLogWriter {
    /// The most one request's logged arguments take: the array header, then 32 bulk strings of
    /// at most 128 bytes plus a note, each with its header and CRLF.
    static let capacity = RESPEncoding.maxHeaderLength
        + SlowLog.maxArguments * (RESPEncoding.maxHeaderLength + SlowLog.maxArgumentBytes + 64)
    private let scratch = UnsafeMutablePointer<UInt8>.allocate(capacity: SlowLogWriter.capacity)
    private let parser = RequestParser()

    public init() {}

    deinit { scratch.deallocate() }

    /// Appends the arguments of a request being dispatched.
    public func append(_ args: RequestArguments, to out: inout [UInt8]) {
        let argc = args.count
        let kept = min(argc, SlowLog.maxArguments)
        var at = RESPEncoding.writeHeader(UInt8(ascii: "*"), kept, at: scratch)
        for j in 0..<kept {
            if kept != argc && j == kept - 1 {
                at = writeNote(kept: UnsafeRawBufferPointer(start: nil, count: 0), more: argc - kept + 1, "arguments", at: at)
                break
            }
            let a = args[j]
            if a.count > SlowLog.maxArgumentBytes {
                at = writeNote(kept: UnsafeRawBufferPointer(rebasing: a[0..<SlowLog.maxArgumentBytes]),
                               more: a.count - SlowLog.maxArgumentBytes, "bytes", at: at)
            } else {
                at = RESPEncoding.writeBulk(a, at: at)
            }
        }
        out.append(contentsOf: UnsafeBufferPointer(start: scratch, count: at - scratch))
    }

    /// Appends the arguments of the first request in `frame` (a multibulk or inline request, as
    /// a client sent it): `*0` when it is not one.
    public func append(frame: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        defer { parser.reset() }
        guard let base = frame.baseAddress?.assumingMemoryBound(to: UInt8.self),
              case .frame(_, let inline) = parser.parse(base, count: frame.count) else {
            RESPEncoding.appendHeader(UInt8(ascii: "*"), 0, to: &out)
            return
        }
        if inline {
            parser.inlineFrame.withUnsafeBufferPointer { f in append(parser.arguments(base: f.baseAddress!), to: &out) }
        } else {
            append(parser.arguments(base: base), to: &out)
        }
    }

    /// Writes the bulk string `<kept>... (<more> more <what>)` at `at`.
    private func writeNote(kept: UnsafeRawBufferPointer, more: Int, _ what: StaticString,
                           at: UnsafeMutablePointer<UInt8>) -> UnsafeMutablePointer<UInt8> {
        let open: StaticString = "... (", middle: StaticString = " more ", close: StaticString = ")"
        let length = kept.count + open.utf8CodeUnitCount + RESPEncoding.decimalDigits(UInt(more))
            + middle.utf8CodeUnitCount + what.utf8CodeUnitCount + close.utf8CodeUnitCount
        var end = RESPEncoding.writeHeader(UInt8(ascii: "$"), length, at: at)
        func put(_ bytes: UnsafeRawBufferPointer) {
            guard let source = bytes.baseAddress, bytes.count > 0 else { return }
            UnsafeMutableRawPointer(end).copyMemory(from: source, byteCount: bytes.count)
            end += bytes.count
        }
        func put(_ s: StaticString) { put(UnsafeRawBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount)) }
        put(kept)
        put(open)
        end = RESPEncoding.writeDecimal(UInt(more), at: end)
        put(middle)
        put(what)
        put(close)
        end[0] = 13
        end[1] = 10
        return end + 2
    }
}

