// Sharded subscriptions that follow their slot. A node drops a shard channel's subscribers
// when the channel's slot migrates away (it sends them an `sunsubscribe` they never asked
// for) and, of course, when it dies. The client asked to be subscribed, so the proxy
// subscribes it again on whichever primary owns the slot now, and hides both the unsolicited
// `sunsubscribe` and its own `ssubscribe` confirmations: the client sees messages keep coming.
//
//   SSUBSCRIBE ch ─▶ shardChannels[ch] = (slot, node)
//   unsolicited sunsubscribe / shard connection lost ─▶ pendingResubscribe[ch] (refresh asked)
//   worker tick (100 ms): slot owned by another node now (or the connection was lost)
//     ─▶ SSUBSCRIBE ch there; its confirmation swallowed

import SlotProxyCore

/// Why a shard channel lost its subscription, which decides when to subscribe again.
enum ShardChannelLoss {
    /// The node said its slot left (`sunsubscribe`): wait until another node owns the slot.
    case migratedFrom(NodeAddress)
    /// The connection to the node was lost: subscribe again wherever the slot is served.
    case connectionLost
}

extension ClientSession {
    /// Records what the client asked for, before the command goes to a node.
    func noteShardSubscription(_ spec: CommandSpec, _ args: RequestArguments, slot: UInt16, node: NodeAddress?) {
        if spec.name == "ssubscribe", let node {
            for i in 1..<args.count { shardChannels[Array(args[i])] = ShardChannel(slot: slot, node: node) }
        } else if spec.name == "sunsubscribe" {
            if args.count == 1 {
                shardChannels = [:]
                pendingResubscribe = [:]
            } else {
                for i in 1..<args.count {
                    shardChannels[Array(args[i])] = nil
                    pendingResubscribe[Array(args[i])] = nil
                }
            }
        }
    }

    /// A shard confirmation from a node: true when the client must not see it (an
    /// unsolicited `sunsubscribe`, or the confirmation of the proxy's own re-subscription).
    func absorbShardConfirmation(kind: String, channel: [UInt8]?, from link: BackendConnection) -> Bool {
        let id = ObjectIdentifier(link)
        if kind == "ssubscribe", let n = ownResubscriptions[id], n > 0 {
            ownResubscriptions[id] = n > 1 ? n - 1 : nil
            return true
        }
        if kind == "sunsubscribe", let channel, shardChannels[channel] != nil {
            // The node dropped a channel the client still wants: its slot moved.
            pendingResubscribe[channel] = .migratedFrom(link.address)
            scheduleResubscribe()
            return true
        }
        return false
    }

    /// Every channel the client holds on a lost shard connection is to be subscribed again.
    func shardConnectionLost(_ link: BackendConnection) {
        ownResubscriptions[ObjectIdentifier(link)] = nil
        for (channel, subscription) in shardChannels where subscription.node == link.address {
            pendingResubscribe[channel] = .connectionLost
        }
        if !pendingResubscribe.isEmpty { scheduleResubscribe() }
    }

    private func scheduleResubscribe() {
        worker.context.topology?.requestRefresh()
        worker.needsResubscribe(self)
    }

    /// Subscribes pending channels again where their slots are now served. Returns true when
    /// nothing is pending any more (the worker stops asking).
    func retryResubscribe() -> Bool {
        guard !closed else { return true }
        var byNode: [NodeAddress: [[UInt8]]] = [:]
        for (channel, loss) in pendingResubscribe {
            guard let slot = shardChannels[channel]?.slot,
                  let node = worker.slotMap.primaryIndex(for: HashSlot(rawValue: slot)) else { continue }
            let owner = worker.slotMap.primaries[Int(node)]
            if case .migratedFrom(let old) = loss, old == owner { continue }  // the map is not updated yet
            byNode[owner, default: []].append(channel)
        }
        for (owner, channels) in byNode {
            let link = shardLink(to: owner)
            let command = RESPValueEncoder.command([Array("SSUBSCRIBE".utf8)] + channels)
            let sent = command.withUnsafeBytes { link.enqueue($0, client: self, sequence: 0) }
            guard sent else {
                shardLinks.removeAll { $0 === link }
                continue
            }
            ownResubscriptions[ObjectIdentifier(link), default: 0] += channels.count
            for channel in channels {
                shardChannels[channel]?.node = owner
                pendingResubscribe[channel] = nil
            }
            worker.stats.retries.add(channels.count)
        }
        return pendingResubscribe.isEmpty
    }
}

/// Where one of the client's shard channels is subscribed.
struct ShardChannel {
    let slot: UInt16
    var node: NodeAddress
}
