// The cluster as the proxy presents it (CLUSTER INFO, SLOTS, SHARDS, NODES, MYID, KEYSLOT…):
// one node, the proxy, owning every slot, so cluster-aware clients keep talking to the proxy.
// Also the administrative commands: refused unless `allow-admin-commands yes`, then sent to
// every primary.
//
//   CLUSTER SLOTS ─▶ SingleNodeCluster(proxy's address, port, routable slots) ─▶ reply
//   CONFIG SET …  ─▶ allow-admin-commands? ─no─▶ error naming the directive
//                                          └yes─▶ fanOut to every primary ─▶ merged reply

import SlotProxyCore

extension ClientSession {
    /// The one-node cluster this proxy presents to this client: its address is the one the
    /// client connected to, its node id stays the same for the same listeners.
    func presentedCluster() -> SingleNodeCluster {
        let config = worker.context.config
        let seed = config.bind.map(\.description).joined(separator: " ") + " \(config.port)"
        return SingleNodeCluster(nodeID: SingleNodeCluster.nodeID(seed: seed),
                                 host: record?.localHost ?? config.bind.first?.host ?? "127.0.0.1",
                                 port: config.port, routableSlots: worker.slotMap.assignedSlotCount)
    }

    /// CLUSTER REPLICAS / SLAVES / COUNT-FAILURE-REPORTS node-id: about the proxy's own id
    /// only (no replicas, no failure reports); any other id is unknown.
    func clusterNodeQuery(_ args: RequestArguments, answer: [UInt8]) {
        let node = args.string(2)
        respond(node == presentedCluster().nodeID ? answer : RESPReply.error("ERR Unknown node \(node)"))
    }

    /// CLUSTER COUNTKEYSINSLOT slot / GETKEYSINSLOT slot count: asked of the primary that owns
    /// the slot.
    func clusterSlotQuery(_ args: RequestArguments) {
        guard let slot = args.integer(2) else {
            respondError("ERR value is not an integer or out of range")
            return
        }
        let isGetKeys = args.count > 3
        if isGetKeys && args.integer(3) == nil {
            respondError("ERR value is not an integer or out of range")
            return
        }
        guard slot >= 0 && slot < HashSlot.count && (!isGetKeys || args.integer(3)! >= 0) else {
            respondError(isGetKeys ? "ERR Invalid slot or number of keys" : "ERR Invalid slot")
            return
        }
        let sequence = replies.append()
        Self.encodedRequest(args).withUnsafeBytes {
            worker.send($0, client: self, sequence: sequence, slot: UInt16(slot), idempotent: true,
                        protocolVersion: protocolVersion)
        }
    }

    /// An administrative command: an error naming `allow-admin-commands` unless it is yes;
    /// then the request goes to every primary, replies merged by the command's rule.
    func administrative(_ spec: CommandSpec, _ args: RequestArguments) {
        guard worker.context.config.allowAdminCommands else {
            respondError(CommandPolicy.administrativeRefusal(spec.name))
            return
        }
        fanOut(Self.encodedRequest(args), finish: .rule(spec.policy.merge), idempotent: spec.policy.idempotent)
    }

    /// The request re-encoded as a RESP multibulk (local handlers get arguments, not the frame).
    static func encodedRequest(_ args: RequestArguments) -> [UInt8] {
        var out = Array("*\(args.count)\r\n".utf8)
        for i in 0..<args.count {
            out += Array("$\(args[i].count)\r\n".utf8)
            out += args[i]
            out += [13, 10]
        }
        return out
    }
}
