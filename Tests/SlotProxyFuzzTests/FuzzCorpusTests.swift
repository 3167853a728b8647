// Replays the committed fuzz corpus (Tests/fuzz/corpus/<target>/, seeds and every input that once
// broke an invariant) through the fuzz harnesses in a plain `swift test`, without libFuzzer: the
// invariants are checked on every unit test run, and a fixed bug stays fixed.

import Testing
@testable import SlotProxyFuzz

@Suite("Fuzz corpus replay")
struct FuzzCorpusTests {
    /// Tests/fuzz/corpus, found from this file's path.
    static let corpus: String = {
        var parts = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(2)  // SlotProxyFuzzTests/FuzzCorpusTests.swift
        return parts.joined(separator: "/") + "/fuzz/corpus"
    }()

    static let targets = ["FuzzRequestParser", "FuzzReplyParser", "FuzzKeyExtraction", "FuzzSplitPlan"]

    static func harness(_ target: String) -> (UnsafeRawBufferPointer) -> Void {
        switch target {
        case "FuzzRequestParser": return RequestParserFuzz.run
        case "FuzzReplyParser": return ReplyParserFuzz.run
        case "FuzzKeyExtraction": return KeyExtractionFuzz.run
        default: return SplitPlanFuzz.run
        }
    }

    @Test("every corpus input of every target keeps its harness's invariants", arguments: targets)
    func replay(_ target: String) throws {
        let run = Self.harness(target)
        let files = FuzzDriver.files(at: "\(Self.corpus)/\(target)")
        #expect(files.count >= 10, "the \(target) corpus holds \(files.count) inputs")
        for file in files {
            let bytes = try #require(FuzzDriver.readFile(file), "cannot read \(file)")
            bytes.withUnsafeBytes { run($0) }
        }
    }

    @Test("an empty input and a lone byte are handled by every harness")
    func tinyInputs() {
        for run in Self.targets.map(Self.harness) {
            for bytes: [UInt8] in [[], [0], [10], [13], [42], [36]] {
                bytes.withUnsafeBytes { run($0) }
            }
        }
    }
}
