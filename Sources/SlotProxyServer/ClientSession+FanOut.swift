// Requests that become several: a multi-key command whose keys span slots is split into one
// sub-command per slot (SplitPlan), a cluster-wide command goes to every primary, and the
// parts' replies are merged into one (ReplyMerger) in the client's place in line.
//
//   MGET a b c ─▶ SplitPlan ─▶ part per slot ─▶ primaries' connections (same write per node)
//                                    replies, any order ─▶ PendingMerge ─▶ one reply, in order

import SlotProxyCore

extension ClientSession {
    /// Commands whose fan-out needs more than a merge rule, by name (the policy table marks
    /// them `.custom`).
    static let customFanOuts: [String: (ClientSession, RequestArguments) -> Void] = [
        "scan": { s, a in s.scan(a) },
        "randomkey": { s, a in s.fanOut(RESPValueEncoder.command(["RANDOMKEY"]), finish: .custom(.randomKey)) },
        "script|load": { s, a in
            s.fanOut(RESPValueEncoder.command([Array("SCRIPT".utf8), Array("LOAD".utf8), Array(a[2])]),
                     finish: .custom(.scriptLoad(Array(a[2]))))
        },
    ]

    /// Splits a multi-key request whose keys are in several slots into one part per slot.
    /// The worker's SplitPlanner and pooled merges keep this free of allocations.
    func split(_ spec: CommandSpec, _ args: RequestArguments) {
        let planner = worker.splitPlanner
        guard planner.plan(spec, args) else {
            respondError(Self.crossSlotError)
            return
        }
        let merge = worker.merges.take(.rule(spec.policy.merge), parts: planner.partCount, partName: "slots")
        if spec.policy.merge == .keyOrder { merge.parts.setKeyOrdinals(from: planner) }
        keepSlowlogArguments(merge)
        let sequence = replies.append(merge: merge)
        let idempotent = spec.policy.idempotent, readOnly = spec.flags.contains(.readonly)
        for p in 0..<planner.partCount {
            worker.send(planner.encode(part: p, args), client: self, sequence: sequence, part: Int32(p),
                        slot: planner.slot(ofPart: p).rawValue, idempotent: idempotent, protocolVersion: protocolVersion,
                        readOnly: readOnly)
        }
    }

    /// Sends a cluster-wide command to every primary and merges by the command's rule.
    func fanOut(_ spec: CommandSpec, _ args: RequestArguments, frame: UnsafeRawBufferPointer) {
        if spec.policy.merge == .custom {
            if let handler = Self.customFanOuts[spec.name] {
                handler(self, args)
            } else {
                respondError("ERR slotproxy: '\(spec.name)' runs on every primary and its replies cannot be merged")
            }
            return
        }
        fanOut(Array(frame), finish: .rule(spec.policy.merge), idempotent: spec.policy.idempotent)
    }

    /// Sends `request` to every primary that owns slots, each part routed by its lowest slot
    /// (so a part is held, like any request, while its primary fails over).
    func fanOut(_ request: [UInt8], finish: PendingMerge.Finish, idempotent: Bool = true) {
        let primaries = worker.activePrimaries
        guard !primaries.isEmpty else {
            respondError("CLUSTERDOWN The cluster is down")
            return
        }
        let merge = worker.merges.take(finish, parts: primaries.count, partName: "primaries")
        keepSlowlogArguments(merge)
        let sequence = replies.append(merge: merge)
        for (index, node) in primaries.enumerated() {
            guard let slot = worker.slotMap.firstSlot(ownedBy: node) else { continue }
            request.withUnsafeBytes {
                worker.send($0, client: self, sequence: sequence, part: Int32(index), slot: slot.rawValue,
                            idempotent: idempotent, protocolVersion: protocolVersion)
            }
        }
    }

    /// SCAN cursor [MATCH pattern] [COUNT n] [TYPE t]: one primary at a time (ScanCursor).
    private func scan(_ args: RequestArguments) {
        guard let raw = UInt64(args.string(1)) else {
            respondError("ERR invalid cursor")
            return
        }
        let cursor = ScanCursor(encoded: raw)
        var request = Array("*\(args.count)\r\n".utf8)
        for i in 0..<args.count {
            let bytes = i == 1 ? Array(String(cursor.nodeCursor).utf8) : Array(args[i])
            request += Array("$\(bytes.count)\r\n".utf8) + bytes + [13, 10]
        }
        let merge = worker.merges.take(.custom(.scan(cursor.slot)), parts: 1, partName: "primaries")
        keepSlowlogArguments(merge)
        let sequence = replies.append(merge: merge)
        request.withUnsafeBytes {
            worker.send($0, client: self, sequence: sequence, part: 0, slot: cursor.slot.rawValue, idempotent: true,
                        protocolVersion: protocolVersion)
        }
    }

    /// A split or fanned-out request's arguments, for its slow log entry (its bytes are gone
    /// by the time the last part answers): copied into the merge's reusable buffer.
    private func keepSlowlogArguments(_ merge: PendingMerge) {
        if worker.slowlogThreshold != Int.max, let frame = dispatchFrame {
            merge.keepSlowlogFrame(frame)
        }
    }

    /// A part's reply; the last part completes the client's reply, written into the worker's
    /// reusable buffer, and the merge goes back to the worker's pool.
    func deliverPart(_ sequence: UInt64, _ part: Int, _ reply: UnsafeRawBufferPointer) {
        guard !closed, let merge = replies.merge(for: sequence), merge.add(part, reply) else { return }
        // The worker's output buffer, moved out (not copied) while it is filled.
        var out: [UInt8] = []
        swap(&out, &worker.mergeOutput)
        out.removeAll(keepingCapacity: true)
        finish(merge, into: &out)
        out.withUnsafeBytes { deliver(sequence, $0) }
        swap(&out, &worker.mergeOutput)
        worker.merges.recycle(merge)
    }

    /// The client's reply from every part. The merge rules take ReplyParts' path (no allocation
    /// for MGET, MSET, DEL…); SCAN, RANDOMKEY, SCRIPT LOAD and INFO look at the parts themselves.
    private func finish(_ merge: PendingMerge, into out: inout [UInt8]) {
        switch merge.finish {
        case .rule(let rule):
            merge.parts.merge(rule, partName: merge.partName, into: &out)
        case .custom(let custom):
            out.append(contentsOf: customReply(custom, parts: merge.parts.collected))
        }
    }

    private func customReply(_ custom: PendingMerge.Custom, parts: [[UInt8]]) -> [UInt8] {
        switch custom {
        case .scan(let slot):
            if let failure = ReplyMerger.failureReply(parts, partName: "primaries") { return failure }
            guard let elements = ReplyMerger.elements(parts[0]), elements.count == 2,
                  let nodeCursor = (try? RESPValueDecoder.decode(Array(elements[0])))?.value.string.flatMap({ UInt64($0) })
            else {
                return RESPReply.error("ERR slotproxy: unexpected SCAN reply from a node")
            }
            let next = ScanCursor.next(after: slot, nextNodeCursor: nodeCursor, in: worker.slotMap)
            guard let encoded = next.map({ $0.encoded }) ?? 0 else {
                return RESPReply.error("ERR slotproxy: a node's SCAN cursor is too large to encode")
            }
            return RESPReply.arrayHeader(2) + RESPReply.bulk(String(encoded)) + elements[1]
        case .randomKey:
            if let failure = ReplyMerger.failureReply(parts, partName: "primaries") { return failure }
            let keys = parts.filter { $0.first == UInt8(ascii: "$") && !$0.starts(with: Array("$-1".utf8)) }
            return keys.randomElement() ?? RESPReply.null(protocolVersion: protocolVersion)
        case .scriptLoad(let body):
            let reply = ReplyMerger.merge(.first, parts: parts, partName: "primaries")
            if let sha = (try? RESPValueDecoder.decode(reply))?.value.string {
                worker.context.scripts.remember(sha: sha, body: body)
            }
            return reply
        case .info(let local):
            if let failure = ReplyMerger.failureReply(parts, partName: "primaries") { return failure }
            let texts = parts.compactMap { (try? RESPValueDecoder.decode($0))?.value.string }
            return infoReply((local.isEmpty ? "" : local + "\r\n") + "# Keyspace\r\n" + KeyspaceInfo.sum(texts))
        }
    }

    func infoReply(_ text: String) -> [UInt8] {
        if protocolVersion >= 3 {
            let body = Array(("txt:" + text).utf8)
            return Array("=\(body.count)\r\n".utf8) + body + [13, 10]
        }
        return RESPReply.bulk(text)
    }
}
