// Fuzz harness of the split planner and the reply merger: a multi-key request whose keys span
// slots becomes one sub-request per slot (SplitPlan), and the parts' replies become the one
// reply the client expects (ReplyMerger).
//
//   input = requests [NUL replies]
//   each request (as sent, and renamed to a split command) ──SplitPlan.make──▶ parts
//      parts: every key in exactly one part, one part per slot, keys in their part's slot,
//             each part one well-formed request holding its keys and what travels with them
//   consistent replies per part ──merge──▶ exactly the reply one node would give
//   the input's replies as parts ──merge (every rule)──▶ exactly one complete reply,
//             an error whenever a part failed

import SlotProxyCore

public enum SplitPlanFuzz {
    static let table = CommandTable.snapshot
    /// The commands the policy table splits per slot.
    static let splitCommands = ["mget", "mset", "del", "unlink", "exists", "touch"].map { table.lookup($0)! }
    static let rules: [ReplyMerge] = [.none, .keyOrder, .sum, .allOK, .first, .oneSucceeded, .union, .pairSum,
                                      .logicalAnd, .custom]

    static let maxFrames = 8

    /// Checks one input; stops the process when an invariant fails.
    public static func run(_ data: UnsafeRawBufferPointer) {
        let nul = data.firstIndex(of: 0) ?? data.count
        let replyBytes = nul < data.count ? UnsafeRawBufferPointer(rebasing: data[(nul + 1)...]) : UnsafeRawBufferPointer(start: nil, count: 0)
        let replies = scanAll(replyBytes).replies
        let renameTo = splitCommands[Int(data.last ?? 0) % splitCommands.count]

        var frames = 0
        _ = parseAll(UnsafeRawBufferPointer(rebasing: data[..<nul]), RequestParser()) { args in
            // A few requests per input are plenty, and keep every input fast.
            frames += 1
            guard frames <= maxFrames else { return }
            if case .command(let spec) = table.resolve(args) {
                check(spec, args, replies)
            }
            // The same arguments under a command that splits, so every input plans a split.
            var arguments = (0..<args.count).map { Array(args[$0]) }
            arguments[0] = Array(renameTo.name.utf8)
            OwnedRequest(bytes: arguments).withArguments { renamed in
                check(renameTo, renamed, replies)
            }
        }
    }

    static func check(_ spec: CommandSpec, _ args: RequestArguments, _ replies: [[UInt8]]) {
        var keys: [Int] = []
        let extraction = spec.forEachKey(in: args) { keys.append($0) }
        let step = spec.keyStep
        let plan = SplitPlan.make(spec, args)
        let plannable = extraction == .ok && !keys.isEmpty && keys.allSatisfy { $0 + step <= args.count }
        expect((plan != nil) == plannable, "\(spec.name): plan \(plan == nil ? "missing" : "made") for keys \(keys)")
        guard let plan else { return }

        // Every key in exactly one part, one part per slot.
        expect(plan.keyCount == keys.count, "\(spec.name): keyCount \(plan.keyCount) for \(keys.count) keys")
        var seen = [Int](repeating: 0, count: keys.count)
        var slots = Set<HashSlot>()
        for part in plan.parts {
            expect(slots.insert(part.slot).inserted, "\(spec.name): two parts for slot \(part.slot)")
            expect(!part.keyOrdinals.isEmpty, "\(spec.name): a part without keys")
            expect(zip(part.keyOrdinals, part.keyOrdinals.dropFirst()).allSatisfy { $0 < $1 },
                   "\(spec.name): a part's keys out of request order")
            var expected: [[UInt8]] = [Array(args[0])]
            for ordinal in part.keyOrdinals {
                expect(ordinal >= 0 && ordinal < keys.count, "\(spec.name): key ordinal \(ordinal) of \(keys.count)")
                seen[ordinal] += 1
                expect(HashSlot(key: args[keys[ordinal]]) == part.slot, "\(spec.name): a key outside its part's slot")
                for j in keys[ordinal]..<(keys[ordinal] + step) { expected.append(Array(args[j])) }
            }
            // The sub-request is one well-formed frame of exactly those arguments.
            let events = part.request.withUnsafeBytes { parseAll($0, RequestParser()) }
            expect(events == [.frame(length: part.request.count, inline: false, arguments: expected)],
                   "\(spec.name): part request parses as \(events)")
        }
        expect(seen.allSatisfy { $0 == 1 }, "\(spec.name): keys per ordinal \(seen)")

        checkConsistentMerges(plan, keys, args)
        if !replies.isEmpty { checkFuzzedMerges(plan, replies) }
    }

    /// Replies a cluster could really send merge to what one server would have answered.
    private static func checkConsistentMerges(_ plan: SplitPlan, _ keys: [Int], _ args: RequestArguments) {
        let ordinals = plan.parts.map(\.keyOrdinals)
        // MGET: each key's value (the key itself, or nil), in key order.
        func value(_ ordinal: Int) -> [UInt8] {
            ordinal % 3 == 2 ? Array("$-1\r\n".utf8) : RESPReply.bulk(Array(args[keys[ordinal]]))
        }
        let values = plan.parts.map { part in RESPReply.arrayHeader(part.keyOrdinals.count) + part.keyOrdinals.flatMap(value) }
        let mget = ReplyMerger.merge(.keyOrder, parts: values, keyOrdinals: ordinals, keyCount: plan.keyCount, partName: "slots")
        expect(mget == RESPReply.arrayHeader(plan.keyCount) + (0..<plan.keyCount).flatMap(value), "MGET merge out of key order")
        // DEL, EXISTS: counts add up.
        let counts = plan.parts.map { RESPReply.integer($0.keyOrdinals.count) }
        let sum = ReplyMerger.merge(.sum, parts: counts, partName: "slots")
        expect(sum == RESPReply.integer(plan.keyCount), "sum merge gave \(String(decoding: sum, as: UTF8.self))")
        // MSET: OK when every part is.
        let oks = [[UInt8]](repeating: RESPReply.ok, count: plan.parts.count)
        expect(ReplyMerger.merge(.allOK, parts: oks, partName: "slots") == RESPReply.ok, "allOK merge of OKs")

        // One part failing is never hidden behind a reply that looks whole.
        let failure = RESPReply.error("ERR boom")
        let text = plan.parts.count == 1 ? "ERR boom" : "ERR slotproxy: 1 of \(plan.parts.count) slots failed: ERR boom"
        for (rule, parts) in [(ReplyMerge.keyOrder, values), (.sum, counts), (.allOK, oks)] {
            var failed = parts
            failed[failed.count - 1] = failure
            let merged = ReplyMerger.merge(rule, parts: failed, keyOrdinals: ordinals, keyCount: plan.keyCount, partName: "slots")
            expect(merged == RESPReply.error(text), "\(rule) merge with a failed part gave \(String(decoding: merged, as: UTF8.self))")
        }
    }

    /// Whatever the nodes send, the client gets exactly one complete reply, and an error when
    /// a part failed.
    private static func checkFuzzedMerges(_ plan: SplitPlan, _ replies: [[UInt8]]) {
        let ordinals = plan.parts.map(\.keyOrdinals)
        let parts = plan.parts.indices.map { replies[$0 % replies.count] }
        let failed = parts.contains { ReplyMerger.errorText($0) != nil }
        for rule in rules {
            let merged = ReplyMerger.merge(rule, parts: parts, keyOrdinals: ordinals, keyCount: plan.keyCount, partName: "slots")
            expect(scanOne(merged) == .complete(length: merged.count), "\(rule) merge is not one complete reply")
            if failed && rule != .oneSucceeded {
                expect(ReplyMerger.errorText(merged) != nil, "\(rule) merge hides a failed part")
            }
        }
    }
}
