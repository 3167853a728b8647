// SplitPlanner: the reusable planner the proxy runs per cross-slot request. Reused across
// requests it must plan exactly like a fresh one (its slot table is reset after each plan).

import Testing
@testable import SlotProxyCore

@Suite("SplitPlanner")
struct SplitPlannerTests {
    private func planWith(_ planner: SplitPlanner, _ args: [String]) -> [(slot: HashSlot, request: [UInt8], ordinals: [Int])]? {
        OwnedRequest(args).withArguments { view in
            guard case .command(let spec) = CommandTable.snapshot.resolve(view), planner.plan(spec, view) else { return nil }
            return (0..<planner.partCount).map { p in
                (planner.slot(ofPart: p), Array(planner.encode(part: p, view)), (0..<planner.keyCount(ofPart: p)).map { planner.keyOrdinal(ofPart: p, $0) })
            }
        }
    }

    @Test("one planner reused for many requests plans each like a fresh one")
    func reuse() throws {
        let shared = SplitPlanner()
        let requests: [[String]] = [
            ["MGET", "{x}1", "{y}2", "{x}3", "{z}4"],
            ["MSET", "{y}a", "1", "{x}b", "2"],
            ["DEL", "{z}q"],
            ["MGET", "{a}1", "{b}1", "{c}1", "{a}2", "{b}2", "{c}2", "{d}1", "{e}1", "{f}1", "{g}1"],
            ["MGET", "{x}1", "{y}2", "{x}3", "{z}4"],
            // Past the linear-search limit: the slot table is used (and reset) instead.
            ["MGET"] + (0..<100).map { "{t\($0 % 40)}k\($0)" },
            ["MGET"] + (0..<100).map { "{t\($0 % 7)}k\($0)" },
        ]
        for args in requests + requests.reversed() {
            let reused = try #require(planWith(shared, args))
            let fresh = try #require(planWith(SplitPlanner(), args))
            #expect(reused.map(\.slot) == fresh.map(\.slot))
            #expect(reused.map(\.request) == fresh.map(\.request))
            #expect(reused.map(\.ordinals) == fresh.map(\.ordinals))
        }
    }

    @Test("parts carry their keys in request order; ordinals cover every key exactly once")
    func grouping() throws {
        let parts = try #require(planWith(SplitPlanner(), ["MGET", "{a}1", "{b}1", "{a}2", "{c}1", "{b}2", "{a}3"]))
        #expect(parts.map(\.ordinals) == [[0, 2, 5], [1, 4], [3]])
        #expect(parts[0].request == RESPValueEncoder.command(["MGET", "{a}1", "{a}2", "{a}3"]))
        #expect(parts.flatMap(\.ordinals).sorted() == Array(0..<6))
    }

    @Test("a failed plan (MSET missing its last value) leaves the planner usable")
    func failedPlan() throws {
        let planner = SplitPlanner()
        #expect(planWith(planner, ["MSET", "{x}a", "1", "{y}b"]) == nil)
        let parts = try #require(planWith(planner, ["MSET", "{x}a", "1", "{y}b", "2"]))
        #expect(parts.count == 2)
    }

    @Test("a part larger than the planner's buffer grows it")
    func largePart() throws {
        let big = String(repeating: "v", count: 100_000)
        let parts = try #require(planWith(SplitPlanner(), ["MSET", "{x}a", big, "{y}b", "1"]))
        #expect(parts[0].request == RESPValueEncoder.command(["MSET", "{x}a", big]))
    }
}
