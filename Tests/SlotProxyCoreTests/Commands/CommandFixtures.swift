// Shared helpers for the command tests: the fixtures scripts/snapshot-commands wrote from a real
// redis-server (getkeys.txt, errors.txt, command-reply-resp3.txt) and a key-extraction shortcut.
import Foundation
@testable import SlotProxyCore

enum CommandFixtures {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("fixtures")

    static func bytes(_ name: String) throws -> [UInt8] {
        Array(try Data(contentsOf: directory.appendingPathComponent(name)))
    }

    /// One fixture line: the request's arguments and the server's answer fields.
    struct Case: CustomStringConvertible {
        var args: [[UInt8]]
        var answer: [String]
        var description: String { args.map { String(decoding: $0, as: UTF8.self) }.joined(separator: " ") }
    }

    /// Reads a TAB-separated fixture: `arg… => answer…`, with \\ \t \r \n \0 escapes.
    static func cases(_ name: String) throws -> [Case] {
        let text = String(decoding: try bytes(name), as: UTF8.self)
        var out: [Case] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) where !line.hasPrefix("#") {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map { unescape(Array($0.utf8)) }
            guard let arrow = fields.firstIndex(of: Array("=>".utf8)) else { continue }
            out.append(Case(args: Array(fields[..<arrow]),
                            answer: fields[(arrow + 1)...].map { String(decoding: $0, as: UTF8.self) }))
        }
        return out
    }

    private static func unescape(_ field: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        var i = 0
        while i < field.count {
            if field[i] == UInt8(ascii: "\\"), i + 1 < field.count {
                switch field[i + 1] {
                case UInt8(ascii: "t"): out.append(9)
                case UInt8(ascii: "r"): out.append(13)
                case UInt8(ascii: "n"): out.append(10)
                case UInt8(ascii: "0"): out.append(0)
                default: out.append(field[i + 1])
                }
                i += 2
            } else {
                out.append(field[i])
                i += 1
            }
        }
        return out
    }
}

/// The keys of a request as the command table finds them: the outcome and the key names.
func extractKeys(_ args: [String], table: CommandTable = .snapshot, includingNotKeys: Bool = false)
    -> (result: KeyExtraction, keys: [String]) {
    extractKeys(bytes: args.map { Array($0.utf8) }, table: table, includingNotKeys: includingNotKeys)
}

func extractKeys(bytes args: [[UInt8]], table: CommandTable = .snapshot, includingNotKeys: Bool = false)
    -> (result: KeyExtraction, keys: [String]) {
    OwnedRequest(bytes: args).withArguments { view in
        guard case .command(let spec) = table.resolve(view) else { return (.invalid, ["<not resolved>"]) }
        var keys: [String] = []
        let result = spec.forEachKey(in: view, includingNotKeys: includingNotKeys) { index, _ in
            keys.append(view.string(index))
        }
        return (result, keys)
    }
}

/// Argument indexes of the keys, through the plain `forEachKey(in:_:)`.
func keyIndexes(_ args: [String], table: CommandTable = .snapshot) -> (result: KeyExtraction, indexes: [Int]) {
    OwnedRequest(args).withArguments { view in
        guard case .command(let spec) = table.resolve(view) else { return (.invalid, [-1]) }
        var indexes: [Int] = []
        let result = spec.forEachKey(in: view) { indexes.append($0) }
        return (result, indexes)
    }
}
