// What happens to one parsed request: the command table names it, the policy table says
// how it routes, and the request is forwarded, answered locally or refused.
//
//   args ─▶ CommandTable.resolve ─▶ policy.route ─┬─ byKey: keySlot ─▶ primary's connection
//                                                  │          several slots ─▶ split (+FanOut)
//                                                  ├─ anyPrimary / allPrimaries (+FanOut)
//                                                  ├─ local (ClientSession+Local)
//                                                  └─ refused / not yet supported

import SlotProxyCore

extension ClientSession {
    static let crossSlotError = "CROSSSLOT Keys in request don't hash to the same slot"

    func dispatch(_ args: RequestArguments, frame: UnsafeRawBufferPointer) {
        dispatchArguments = args
        dispatchFrame = frame
        defer {
            replies.command = -1
            dispatchArguments = nil
            dispatchFrame = nil
        }
        if replyMode != .on {
            // CLIENT REPLY OFF / SKIP: this command's reply is dropped (SKIP: only this one).
            replies.silencing = true
            if replyMode == .skipNext { replyMode = .on }
            defer { replies.silencing = false }
            route(args, frame: frame)
        } else {
            route(args, frame: frame)
        }
    }

    private func route(_ args: RequestArguments, frame: UnsafeRawBufferPointer) {
        // The worker's command table is replaced only between callbacks, and it keeps its
        // specs alive: resolving and routing take no reference (no retain, no release).
        let table = worker.commandTable
        if let resolved = table._withUnsafeGuaranteedRef({ $0.resolveUnretained(args) }) {
            resolved._withUnsafeGuaranteedRef { route($0, args, frame: frame) }
            return
        }
        // Unknown command or subcommand, or a wrong argument count: Redis's error for it.
        if let error = table.takeUnretainedValue().resolve(args).error {
            transaction?.failed = true
            respondError(error)
        }
    }

    private func route(_ spec: CommandSpec, _ args: RequestArguments, frame: UnsafeRawBufferPointer) {
        worker.stats.commands.add(1)
        replies.command = Int32(truncatingIfNeeded: spec.statsIndex)
        replies.started = worker.clock
        if !authenticated && !spec.flags.contains(.noAuth) {
            reject(spec, "NOAUTH Authentication required.")
            return
        }
        if let tx = transaction, !Self.transactionControl.contains(spec.name) {
            queueInTransaction(tx, spec, args, frame)
            return
        }
        if subscribed && protocolVersion == 2 && !Self.allowedWhileSubscribed.contains(spec.name) {
            reject(spec, "ERR Can't execute '\(spec.name)': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context")
            return
        }
        if subscribed && spec.name == "ping", let link = pubsubLink ?? shardLinks.first {
            // In subscribed mode the node answers PING in its pub/sub form, in line with messages.
            if sendToPubSub(link, frame) { return }
        }
        switch spec.policy.route {
        case .byKey:
            routeByKey(spec, args, frame)
        case .anyPrimary:
            forwardToAnyPrimary(frame, idempotent: spec.policy.idempotent)
        case .local:
            handleLocal(spec, args)
        case .allPrimaries:
            fanOut(spec, args, frame: frame)
        case .dedicated:
            dedicated(spec, args, frame)
        case .dedicatedWithKeyword(let keyword):
            if (1..<args.count).contains(where: { args.equalsLowercased($0, keyword) }) {
                dedicated(spec, args, frame)
            } else {
                routeByKey(spec, args, frame)
            }
        case .refused(let error):
            reject(spec, error)
        }
    }

    /// Refuses a command before it runs: counted as a rejected call, as Redis does.
    func reject(_ spec: CommandSpec, _ message: String) {
        worker.commandRejected(spec.statsIndex)
        replies.command = -1
        respondError(message)
    }

    @inline(__always)
    private func routeByKey(_ spec: CommandSpec, _ args: RequestArguments, _ frame: UnsafeRawBufferPointer) {
        switch spec.keySlot(in: args) {
        case .single(let slot):
            let sequence = replies.append()
            worker.send(frame, client: self, sequence: sequence, slot: slot.rawValue,
                        idempotent: spec.policy.idempotent, protocolVersion: protocolVersion,
                        readOnly: spec.flags.contains(.readonly))
        case .none, .invalid:
            forwardToAnyPrimary(frame, idempotent: spec.policy.idempotent)
        case .crossSlot:
            if spec.policy.merge == .none {
                reject(spec, Self.crossSlotError)
            } else {
                split(spec, args)
            }
        }
    }

    func forwardToAnyPrimary(_ frame: UnsafeRawBufferPointer, idempotent: Bool) {
        let sequence = replies.append()
        worker.send(frame, client: self, sequence: sequence, slot: SlotMap.unassigned, idempotent: idempotent,
                    protocolVersion: protocolVersion)
    }
}

extension RequestArguments {
    /// Argument `i` equals `lowercased` ignoring ASCII case (cold paths: a String to compare).
    func equalsLowercased(_ i: Int, _ lowercased: String) -> Bool {
        let a = self[i]
        var j = 0
        for c in lowercased.utf8 {
            guard j < a.count, asciiLower(a[j]) == c else { return false }
            j += 1
        }
        return j == a.count
    }
}
