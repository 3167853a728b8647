// Log output for slotproxy: one line per event (start, topology change, failover, node added
// or removed, a node's connection lost or restored, limits hit, shutdown), never one per
// request. Lines go to standard error or to `logfile`.
//
//   Logger (swift-log) ─▶ LineLogHandler ─format─▶ LogSink ─write(2), whole lines under a lock─▶ fd
//
// One LogSink serves the whole process and holds the level, so SIGHUP can reopen the file
// (after logrotate moved it) and change `loglevel` for every logger at once.

import Glibc
import Logging
import SlotProxyCore
import Synchronization

public enum ProxyLogging {
    /// The process's sink, set by `bootstrap` (swift-log allows one bootstrap per process).
    nonisolated(unsafe) static var sink: LogSink?

    /// Installs the log handler for `config` and returns the proxy's logger.
    /// - Throws: when `logfile` cannot be opened for appending.
    public static func bootstrap(_ config: ProxyConfig) throws -> Logger {
        let sink = try LogSink(path: config.logFile, level: level(config.logLevel))
        self.sink = sink
        LoggingSystem.bootstrap { label in LineLogHandler(label: label, sink: sink) }
        return Logger(label: "slotproxy")
    }

    /// swift-log's level for a `loglevel` value (Redis's names).
    static func level(_ level: LogLevel) -> Logger.Level {
        switch level {
        case .debug: return .debug
        case .verbose: return .info
        case .notice: return .notice
        case .warning: return .warning
        }
    }

    /// SIGHUP: opens `logfile` again at its path (a new file when logrotate moved the old one).
    static func reopen() throws {
        try sink?.reopen()
    }

    /// SIGHUP: the reloaded `loglevel`, for every logger of the process.
    static func setLevel(_ level: LogLevel) {
        sink?.level = self.level(level)
    }
}

/// Where log lines go; shared by every handler. Each line is one write(2) under a lock, so
/// lines from different threads never interleave.
final class LogSink: @unchecked Sendable {
    private let lock = Mutex<Int32>(-1)
    private let path: String
    private let levelRaw: Atomic<Int>

    /// The lowest level written, for every logger of the process.
    var level: Logger.Level {
        get { Logger.Level.allCases[levelRaw.load(ordering: .relaxed)] }
        set { levelRaw.store(Logger.Level.allCases.firstIndex(of: newValue)!, ordering: .relaxed) }
    }

    /// - Parameter path: the file to append to; "" writes to standard error.
    init(path: String, level: Logger.Level) throws {
        self.path = path
        self.levelRaw = Atomic(Logger.Level.allCases.firstIndex(of: level)!)
        let fd = try path.isEmpty ? STDERR_FILENO : Self.open(path)
        lock.withLock { $0 = fd }
    }

    private static func open(_ path: String) throws -> Int32 {
        let fd = Glibc.open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw SocketError("can't open the log file '\(path)': \(String(cString: strerror(errno)))")
        }
        return fd
    }

    /// Opens the file again (no-op for standard error). On failure the old file stays in use.
    func reopen() throws {
        guard !path.isEmpty else { return }
        let fresh = try Self.open(path)
        let old = lock.withLock { fd -> Int32 in
            let old = fd
            fd = fresh
            return old
        }
        if old >= 0 && old != STDERR_FILENO { close(old) }
    }

    func write(_ line: String) {
        var line = line
        line.withUTF8 { bytes in
            lock.withLock { fd in
                var offset = 0
                while offset < bytes.count {
                    let n = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                    if n > 0 { offset += n } else if n < 0 && errno == EINTR { continue } else { return }
                }
            }
        }
    }
}

/// `pid:P 25 Nov 2025 01:30:00.123 level message key=value ...`, like redis-server's lines
/// (P for proxy where Redis writes M, S or C).
struct LineLogHandler: LogHandler {
    let label: String
    let sink: LogSink
    var metadata: Logger.Metadata = [:]

    /// The process-wide level (SIGHUP may change it); setting it sets it for every logger.
    var logLevel: Logger.Level {
        get { sink.level }
        set { sink.level = newValue }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var all = metadata
        if let explicit = event.metadata { all.merge(explicit) { $1 } }
        var line = "\(getpid()):P \(Self.timestamp()) \(event.level) \(event.message)"
        for (key, value) in all.sorted(by: { $0.key < $1.key }) {
            line += " \(key)=\(Self.quoted("\(value)"))"
        }
        line += "\n"
        sink.write(line)
    }

    /// A value with spaces (lists of nodes) in double quotes, so every line splits on spaces.
    static func quoted(_ value: String) -> String {
        guard value.isEmpty || value.contains(" ") || value.contains("\"") else { return value }
        var out = "\""
        for c in value { out += c == "\"" ? "\\\"" : String(c) }
        return out + "\""
    }

    /// Local time with milliseconds, as Redis writes it (strftime: thread-safe, no Foundation).
    static func timestamp() -> String {
        var now = timeval()
        gettimeofday(&now, nil)
        var seconds = now.tv_sec
        var parts = tm()
        localtime_r(&seconds, &parts)
        var buffer = [CChar](repeating: 0, count: 64)
        let n = strftime(&buffer, buffer.count, "%d %b %Y %H:%M:%S", &parts)
        let millis = Int(now.tv_usec) / 1000
        let prefix = String(decoding: buffer[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return prefix + (millis < 10 ? ".00" : millis < 100 ? ".0" : ".") + String(millis)
    }
}
