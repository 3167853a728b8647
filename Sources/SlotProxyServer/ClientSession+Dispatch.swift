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
        let spec: CommandSpec
        switch worker.view.commands.resolve(args) {
        case .command(let s):
            spec = s
        case .unknownCommand(let error), .unknownSubcommand(let error), .wrongArity(let error):
            respondError(error)
            return
        }
        worker.stats.commands.add(1)
        switch spec.policy.route {
        case .byKey:
            routeByKey(spec, args, frame)
        case .anyPrimary:
            forwardToAnyPrimary(frame)
        case .local:
            handleLocal(spec, args)
        case .allPrimaries:
            fanOut(spec, args, frame: frame)
        case .dedicated:
            respondError("ERR slotproxy: '\(spec.name)' needs a connection of its own, which this version does not support yet")
        case .dedicatedWithKeyword(let keyword):
            if (1..<args.count).contains(where: { args.equalsLowercased($0, keyword) }) {
                respondError("ERR slotproxy: '\(spec.name)' with \(keyword.uppercased()) needs a connection of its own, which this version does not support yet")
            } else {
                routeByKey(spec, args, frame)
            }
        case .refused(let error):
            respondError(error)
        }
    }

    @inline(__always)
    private func routeByKey(_ spec: CommandSpec, _ args: RequestArguments, _ frame: UnsafeRawBufferPointer) {
        switch spec.keySlot(in: args) {
        case .single(let slot):
            forward(frame, slot: slot)
        case .none, .invalid:
            forwardToAnyPrimary(frame)
        case .crossSlot:
            if spec.policy.merge == .none {
                respondError(Self.crossSlotError)
            } else {
                split(spec, args)
            }
        }
    }

    /// Sends the request's original bytes to the primary that owns `slot`.
    @inline(__always)
    func forward(_ frame: UnsafeRawBufferPointer, slot: HashSlot) {
        guard let node = worker.slotMap.primaryIndex(for: slot) else {
            respondError(worker.slotMap.primaries.isEmpty ? "CLUSTERDOWN The cluster is down" : "CLUSTERDOWN Hash slot not served")
            return
        }
        let sequence = replies.append()
        worker.backends.connection(node: node, protocolVersion: protocolVersion)
            .enqueue(frame, client: self, sequence: sequence)
    }

    func forwardToAnyPrimary(_ frame: UnsafeRawBufferPointer) {
        guard let node = worker.anyPrimaryIndex() else {
            respondError("CLUSTERDOWN The cluster is down")
            return
        }
        let sequence = replies.append()
        worker.backends.connection(node: node, protocolVersion: protocolVersion)
            .enqueue(frame, client: self, sequence: sequence)
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
