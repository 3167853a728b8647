// Replays the committed fuzz corpus (Tests/fuzz/corpus/<target>/, seeds and every input that once
// broke an invariant) through the fuzz harnesses in a plain `swift test`, without libFuzzer: the
// invariants are checked on every unit test run, and a fixed bug stays fixed.

import Testing
@testable import SlotProxyFuzz

@Suite("Fuzz corpus replay")
struct FuzzCorpusTests {
    static let corpus: String = {
        let file = "\(#filePath)"
        let tests = file[..<file.range(of: "/SlotProxyFuzzTests/")!.lowerBound]
        return "\(tests)/fuzz/corpus"
    }()

    static let harnesses: [(name: String, run: (UnsafeRawBufferPointer) -> Void)] = [
        ("FuzzRequestParser", RequestParserFuzz.run),
        ("FuzzReplyParser", ReplyParserFuzz.run),
        ("FuzzKeyExtraction", KeyExtractionFuzz.run),
        ("FuzzSplitPlan", SplitPlanFuzz.run),
    ]

    @Test("every corpus input of every target keeps its harness's invariants", arguments: 0..<4)
    func replay(_ index: Int) throws {
        let (name, run) = Self.harnesses[index]
        let files = FuzzDriver.files(at: "\(Self.corpus)/\(name)")
        #expect(files.count >= 10, "the \(name) corpus holds \(files.count) inputs")
        for file in files {
            let bytes = try #require(FuzzDriver.readFile(file), "cannot read \(file)")
            bytes.withUnsafeBytes { run($0) }
        }
    }

    @Test("an empty input and a lone byte are handled by every harness")
    func tinyInputs() {
        for (_, run) in Self.harnesses {
            for bytes: [UInt8] in [[], [0], [10], [13], [42], [36]] {
                bytes.withUnsafeBytes { run($0) }
            }
        }
    }
}
