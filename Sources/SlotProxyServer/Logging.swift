// Log output for slotproxy: one line per event (start, topology change, failures, limits),
// never one per request. Lines go to standard error or to `logfile`.

import Foundation
import Logging
import SlotProxyCore

public enum ProxyLogging {
    /// Installs the log handler for `config` and returns the proxy's logger.
    public static func bootstrap(_ config: ProxyConfig) throws -> Logger {
        let sink = try LogSink(path: config.logFile)
        let level: Logger.Level
        switch config.logLevel {
        case .debug: level = .debug
        case .verbose: level = .info
        case .notice: level = .notice
        case .warning: level = .warning
        }
        LoggingSystem.bootstrap { label in
            var handler = LineLogHandler(label: label, sink: sink)
            handler.logLevel = level
            return handler
        }
        return Logger(label: "slotproxy")
    }
}

/// Where log lines go; shared by every handler, writes are whole lines under a lock.
final class LogSink: @unchecked Sendable {
    private let lock = NSLock()
    private let handle: FileHandle

    init(path: String) throws {
        if path.isEmpty {
            handle = FileHandle.standardError
        } else {
            if !FileManager.default.fileExists(atPath: path) {
                guard FileManager.default.createFile(atPath: path, contents: nil) else {
                    throw SocketError("can't open the log file '\(path)'")
                }
            }
            guard let h = FileHandle(forWritingAtPath: path) else { throw SocketError("can't open the log file '\(path)'") }
            h.seekToEndOfFile()
            handle = h
        }
    }

    func write(_ line: String) {
        lock.lock()
        handle.write(Data(line.utf8))
        lock.unlock()
    }
}

/// `pid:role date level message key=value ...`, close to redis-server's own log lines.
struct LineLogHandler: LogHandler {
    let label: String
    let sink: LogSink
    var logLevel: Logger.Level = .notice
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var all = metadata
        if let explicit = event.metadata { all.merge(explicit) { $1 } }
        let level = event.level
        let message = event.message
        let fields = all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        let stamp = Self.formatter.string(from: Date())
        sink.write("\(getpid()):P \(stamp) \(level) \(message)\(fields.isEmpty ? "" : " " + fields)\n")
    }

    private static let formatter: DateFormatter = {
        let f = DateFormatter()
        f.dateFormat = "dd MMM yyyy HH:mm:ss.SSS"
        f.locale = Locale(identifier: "en_US_POSIX")
        return f
    }()
}
