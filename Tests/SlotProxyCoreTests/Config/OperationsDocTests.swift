import Foundation
import Testing
@testable import SlotProxyCore

/// docs/OPERATIONS.md carries the directive reference the table generates, between two markers,
/// so the operations guide cannot drift from the code. After changing the table, regenerate it:
///
///     SLOTPROXY_WRITE_OPERATIONS_MD=1 swift test --filter OperationsDoc
@Suite("docs/OPERATIONS.md")
struct OperationsDocTests {
    static let path = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("docs/OPERATIONS.md").path

    /// The committed text, and the range of the generated section in it.
    static func committed(rewrite: Bool = ProcessInfo.processInfo.environment["SLOTPROXY_WRITE_OPERATIONS_MD"] == "1")
        throws -> (text: String, section: Range<String.Index>) {
        var text = try String(contentsOfFile: path, encoding: .utf8)
        guard let begin = text.range(of: ConfigDirective.referenceBeginMarker),
              let end = text.range(of: ConfigDirective.referenceEndMarker), begin.upperBound <= end.lowerBound else {
            throw CocoaError(.fileReadCorruptFile)
        }
        if rewrite {
            text.replaceSubrange(begin.upperBound..<end.lowerBound, with: "\n" + ConfigDirective.referenceMarkdown() + "\n")
            let metrics = try metricsSection(in: text)
            text.replaceSubrange(metrics, with: "\n" + MetricTable.markdownReference() + "\n")
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            return try committed(rewrite: false)
        }
        return (text, begin.upperBound..<end.lowerBound)
    }

    static let metricsBegin = "<!-- metrics: generated from MetricTable.swift; do not edit -->"
    static let metricsEnd = "<!-- end of generated metrics -->"

    /// The generated metrics reference's range in `text`.
    static func metricsSection(in text: String) throws -> Range<String.Index> {
        guard let begin = text.range(of: metricsBegin), let end = text.range(of: metricsEnd),
              begin.upperBound <= end.lowerBound else {
            throw CocoaError(.fileReadCorruptFile)
        }
        return begin.upperBound..<end.lowerBound
    }

    @Test("the metrics reference in OPERATIONS.md is the one the metric table generates")
    func metricsMatchTable() throws {
        let (text, _) = try Self.committed()
        #expect(String(text[try Self.metricsSection(in: text)]) == "\n" + MetricTable.markdownReference() + "\n",
                "docs/OPERATIONS.md is out of date: run SLOTPROXY_WRITE_OPERATIONS_MD=1 swift test --filter OperationsDoc")
    }

    @Test("the directive reference in OPERATIONS.md is the one the table generates")
    func matchesTable() throws {
        let (text, section) = try Self.committed()
        #expect(String(text[section]) == "\n" + ConfigDirective.referenceMarkdown() + "\n",
                "docs/OPERATIONS.md is out of date: run SLOTPROXY_WRITE_OPERATIONS_MD=1 swift test --filter OperationsDoc")
    }

    @Test("the reference names every directive with its default")
    func namesEveryDirective() {
        let reference = ConfigDirective.referenceMarkdown()
        for directive in ConfigDirective.all {
            #expect(reference.contains("| [`\(directive.name)`](#\(directive.name)) | `\(directive.defaultValue)` |"))
            #expect(reference.contains("#### `\(directive.name)`\n"))
        }
    }
}
