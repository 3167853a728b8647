// Commands that need state on the server side, and so a connection of the client's own or
// a batch that no other client can split:
//
//   MULTI … EXEC   queued by the proxy (+QUEUED), checked for one slot, then sent as one
//                  batch MULTI cmd… EXEC on the slot primary's connection: written in one
//                  piece, so no other client's command can land inside it. With WATCH, the
//                  batch goes on the client's own connection that holds the WATCH.
//   WATCH          the client's own connection to the watched slot's primary.
//   BLPOP …        a connection of its own (from the worker's idle pool) while it blocks.
//   SUBSCRIBE …    the client's own pub/sub connection: everything the node sends on it goes
//                  to the client as it arrives (RESP2 subscribed mode, RESP3 pushes).

import SlotProxyCore

/// A transaction being queued between MULTI and EXEC.
final class Transaction {
    var slot = SlotMap.unassigned
    var commands: [UInt8] = []
    var count = 0
    var failed = false
}

extension ClientSession {
    /// Commands that act on the transaction itself rather than being queued in it.
    static let transactionControl: Set<String> = ["multi", "exec", "discard", "watch", "quit", "reset"]
    /// What a RESP2 client may send while subscribed (as Redis allows).
    static let allowedWhileSubscribed: Set<String> = [
        "subscribe", "psubscribe", "ssubscribe", "unsubscribe", "punsubscribe", "sunsubscribe", "ping", "quit", "reset",
    ]
    /// Handlers for commands routed `.dedicated`, by name; any other is a blocking command.
    static let stateHandlers: [String: (ClientSession, CommandSpec, RequestArguments, UnsafeRawBufferPointer) -> Void] = [
        "multi": { s, _, _, _ in s.multi() },
        "exec": { s, _, _, _ in s.exec() },
        "discard": { s, _, _, _ in s.discard() },
        "watch": { s, spec, a, f in s.watch(spec, a, f) },
        "unwatch": { s, _, _, f in s.unwatch(f) },
        "subscribe": { s, spec, a, f in s.subscribe(spec, a, f) },
        "psubscribe": { s, spec, a, f in s.subscribe(spec, a, f) },
        "unsubscribe": { s, spec, a, f in s.unsubscribe(spec, a, f) },
        "punsubscribe": { s, spec, a, f in s.unsubscribe(spec, a, f) },
        "ssubscribe": { s, spec, a, f in s.shardSubscribe(spec, a, f) },
        "sunsubscribe": { s, spec, a, f in s.shardSubscribe(spec, a, f) },
    ]

    static let multiBytes = RESPValueEncoder.command(["MULTI"])
    static let execBytes = RESPValueEncoder.command(["EXEC"])
    static let unwatchBytes = RESPValueEncoder.command(["UNWATCH"])

    func dedicated(_ spec: CommandSpec, _ args: RequestArguments, _ frame: UnsafeRawBufferPointer) {
        if let handler = Self.stateHandlers[spec.name] {
            handler(self, spec, args, frame)
        } else {
            blocking(spec, args, frame)
        }
    }

    // MARK: - Transactions

    private func multi() {
        guard transaction == nil else {
            respondError("ERR MULTI calls can not be nested")
            return
        }
        transaction = Transaction()
        respond(RESPReply.ok)
    }

    /// A command between MULTI and EXEC: checked, then queued by the proxy.
    func queueInTransaction(_ tx: Transaction, _ spec: CommandSpec, _ args: RequestArguments,
                            _ frame: UnsafeRawBufferPointer) {
        func refuse(_ message: String) {
            tx.failed = true
            respondError(message)
        }
        switch spec.policy.route {
        case .refused(let message):
            return refuse(message)
        case .local where spec.name != "ping" && spec.name != "echo":
            return refuse("ERR slotproxy: '\(spec.name)' cannot be used inside MULTI")
        case .dedicated where Self.stateHandlers[spec.name] != nil && spec.name != "unwatch":
            // UNWATCH is queued like any command, as Redis does (EXEC unwatches anyway).
            return refuse("ERR Command not allowed inside a transaction")
        case .allPrimaries:
            return refuse("ERR slotproxy: '\(spec.name)' runs on every primary and cannot be part of a transaction")
        default:
            break
        }
        switch spec.keySlot(in: args) {
        case .crossSlot:
            return refuse(Self.crossSlotError)
        case .single(let slot):
            let bound = watching ? watchSlot : tx.slot
            if bound != SlotMap.unassigned && bound != slot.rawValue { return refuse(Self.crossSlotError) }
            tx.slot = slot.rawValue
        case .none, .invalid:
            break
        }
        tx.commands.append(contentsOf: frame)
        tx.count += 1
        respond(Self.queuedReply)
    }

    static let queuedReply = Array("+QUEUED\r\n".utf8)

    private func exec() {
        guard let tx = transaction else {
            respondError("ERR EXEC without MULTI")
            return
        }
        transaction = nil
        if tx.failed {
            watching = false
            respondError("EXECABORT Transaction discarded because of previous errors.")
            return
        }
        let batch = Self.multiBytes + tx.commands + Self.execBytes
        let sequence = replies.append()
        if watching, let link = watchLink {
            watching = false
            let sent = batch.withUnsafeBytes {
                link.enqueue($0, client: self, sequence: sequence, leadingReplies: Int32(tx.count + 1))
            }
            if !sent { deliverError(sequence, "ERR slotproxy: the connection holding WATCH is gone; transaction aborted") }
            return
        }
        batch.withUnsafeBytes {
            worker.send($0, client: self, sequence: sequence, slot: tx.slot, idempotent: false,
                        protocolVersion: protocolVersion, leadingReplies: Int32(tx.count + 1))
        }
    }

    private func discard() {
        guard transaction != nil else {
            respondError("ERR DISCARD without MULTI")
            return
        }
        transaction = nil
        if watching, let link = watchLink {
            watching = false
            Self.unwatchBytes.withUnsafeBytes { _ = link.enqueue($0, client: nil, sequence: 0) }
        }
        respond(RESPReply.ok)
    }

    private func watch(_ spec: CommandSpec, _ args: RequestArguments, _ frame: UnsafeRawBufferPointer) {
        guard transaction == nil else {
            respondError("ERR WATCH inside MULTI is not allowed")
            return
        }
        guard case .single(let slot) = spec.keySlot(in: args),
              !watching || watchSlot == slot.rawValue else {
            respondError(Self.crossSlotError)
            return
        }
        guard let node = worker.slotMap.primaryIndex(for: slot) else {
            respondError("CLUSTERDOWN Hash slot not served")
            return
        }
        let address = worker.slotMap.primaries[Int(node)]
        if let link = watchLink, link.address != address || link.protocolVersion != protocolVersion {
            link.close()
            watchLink = nil
        }
        let link = watchLink ?? BackendConnection(worker: worker, address: address, protocolVersion: protocolVersion,
                                                  kind: .dedicated, owner: self)
        watchLink = link
        let sequence = replies.append()
        guard link.enqueue(frame, client: self, sequence: sequence) else {
            deliverError(sequence, "ERR slotproxy: cannot connect to \(address) to hold WATCH")
            return
        }
        watching = true
        watchSlot = slot.rawValue
    }

    private func unwatch(_ frame: UnsafeRawBufferPointer) {
        guard watching, let link = watchLink else {
            respond(RESPReply.ok)
            return
        }
        watching = false
        let sequence = replies.append()
        if !link.enqueue(frame, client: self, sequence: sequence) { RESPReply.ok.withUnsafeBytes { deliver(sequence, $0) } }
    }

    // MARK: - Blocking commands

    private func blocking(_ spec: CommandSpec, _ args: RequestArguments, _ frame: UnsafeRawBufferPointer) {
        let slot: UInt16
        switch spec.keySlot(in: args) {
        case .crossSlot:
            respondError(Self.crossSlotError)
            return
        case .single(let s):
            slot = s.rawValue
        case .none, .invalid:
            slot = worker.activePrimaries.first.flatMap { worker.slotMap.firstSlot(ownedBy: $0) }?.rawValue ?? 0
        }
        guard let node = worker.slotMap.primaryIndex(for: HashSlot(rawValue: slot)) else {
            respondError(worker.slotMap.primaries.isEmpty ? "CLUSTERDOWN The cluster is down" : "CLUSTERDOWN Hash slot not served")
            return
        }
        guard let link = worker.checkoutBlockingConnection(to: worker.slotMap.primaries[Int(node)],
                                                           protocolVersion: protocolVersion, for: self) else {
            respondError("ERR slotproxy: too many blocked clients (max-blocking-clients \(worker.context.config.maxBlockingClients))")
            return
        }
        let sequence = replies.append()
        guard link.enqueue(frame, client: self, sequence: sequence, slot: slot) else {
            worker.checkinBlockingConnection(link)
            deliverError(sequence, "ERR slotproxy: cannot connect to \(link.address)")
            return
        }
        blockingLinks.append(link)
        // Requests behind it wait, unparsed, until it is answered: on a node they would run
        // after it too (BLPOP k 1 then RPUSH k v: the BLPOP times out, it does not pop v).
        awaitingBlocked = true
    }

    /// A connection of this client's has answered everything it was sent.
    func ownConnectionIdle(_ link: BackendConnection) {
        if let i = blockingLinks.firstIndex(where: { $0 === link }) {
            blockingLinks.remove(at: i)
            worker.checkinBlockingConnection(link)
            blockedCommandAnswered()
        }
    }

    private func blockedCommandAnswered() {
        guard awaitingBlocked && blockingLinks.isEmpty else { return }
        awaitingBlocked = false
        if !awaitingPubSub { resumeRequests() }
    }

    /// A connection of this client's failed (its requests were already answered with errors).
    func ownConnectionLost(_ link: BackendConnection) {
        if let i = blockingLinks.firstIndex(where: { $0 === link }) {
            blockingLinks.remove(at: i)
            worker.releaseBlockingSlot()
            blockedCommandAnswered()
        }
        if watchLink === link {
            watchLink = nil
            if watching {
                watching = false
                // The WATCH is lost: the transaction must not run as if nothing changed.
                transaction?.failed = true
            }
        }
        if pubsubLink === link {
            // The node held this client's SUBSCRIBE/PSUBSCRIBE state, now gone: close the client
            // once its owed replies are out, so its library reconnects and subscribes again
            // (as after losing a Redis server), rather than waiting for messages that never come.
            pubsubLink = nil
            worker.logger.notice("closing a subscribed client: its pub/sub connection was lost",
                                 metadata: ["id": "\(id)", "node": "\(link.address)"])
            stopReading()
        }
        if shardLinks.contains(where: { $0 === link }) {
            shardLinks.removeAll { $0 === link }
            subscriptionCounts[Self.shardFamily(link)] = nil
            shardConnectionLost(link)
            subscriptionsChanged()
        }
        if link.kind == .pubsub {
            forgetMarkers(of: link)
            resumeIfNotWaiting()
        }
    }

    /// Closes every connection of this client's own (it disconnected or RESET).
    func closeOwnConnections() {
        for link in blockingLinks {
            link.close()
            worker.releaseBlockingSlot()
        }
        blockingLinks = []
        watchLink?.close()
        watchLink = nil
        watching = false
        pubsubLink?.close()
        pubsubLink = nil
        for link in shardLinks { link.close() }
        shardLinks = []
        subscriptionCounts = [:]
        shardChannels = [:]
        pendingResubscribe = [:]
        ownResubscriptions = [:]
        subscribed = false
        pubsubMarkers = [:]
        awaitingPubSub = false
        awaitingBlocked = false
    }

    // MARK: - Pub/Sub

    private func subscribe(_ spec: CommandSpec, _ args: RequestArguments, _ frame: UnsafeRawBufferPointer) {
        if pubsubLink == nil {
            // The cluster broadcasts PUBLISH to every node: any primary will do.
            guard let node = worker.anyPrimaryIndex() else {
                respondError("CLUSTERDOWN The cluster is down")
                return
            }
            pubsubLink = BackendConnection(worker: worker, address: worker.slotMap.primaries[Int(node)],
                                           protocolVersion: protocolVersion, kind: .pubsub, owner: self)
        }
        subscribed = true
        if !sendToPubSub(pubsubLink!, frame) {
            pubsubLink = nil
            subscriptionsChanged()
            respondError("ERR slotproxy: cannot connect to a node to subscribe")
        }
    }

    private func unsubscribe(_ spec: CommandSpec, _ args: RequestArguments, _ frame: UnsafeRawBufferPointer) {
        if let link = pubsubLink, sendToPubSub(link, frame) { return }
        // Not subscribed: answer as Redis does, one reply per channel (or one with no channel).
        let kind = Array(spec.name.utf8)
        let channels: [[UInt8]?] = args.count > 1 ? (1..<args.count).map { Array(args[$0]) } : [nil]
        for channel in channels {
            respond(confirmationHeader + RESPReply.bulk(kind)
                    + (channel.map { RESPReply.bulk($0) } ?? RESPReply.null(protocolVersion: protocolVersion))
                    + RESPReply.integer(0))
        }
    }

    /// A (un)subscribe confirmation is an array in RESP2 and a push (`>`) in RESP3, as Redis sends it.
    private var confirmationHeader: [UInt8] {
        protocolVersion >= 3 ? Array(">3\r\n".utf8) : RESPReply.arrayHeader(3)
    }

    /// SSUBSCRIBE / SUNSUBSCRIBE: channels of one call in one slot, on that slot's primary.
    private func shardSubscribe(_ spec: CommandSpec, _ args: RequestArguments, _ frame: UnsafeRawBufferPointer) {
        var slot = SlotMap.unassigned
        var cross = false
        _ = spec.forEachKey(in: args, includingNotKeys: true) { index, _ in
            let s = HashSlot(key: args[index]).rawValue
            if slot == SlotMap.unassigned { slot = s } else if s != slot { cross = true }
        }
        guard !cross else {
            respondError(Self.crossSlotError)
            return
        }
        let owner = slot == SlotMap.unassigned ? nil
            : worker.slotMap.primaryIndex(for: HashSlot(rawValue: slot)).map { worker.slotMap.primaries[Int($0)] }
        noteShardSubscription(spec, args, slot: slot, node: owner)
        if slot == SlotMap.unassigned {
            // SUNSUBSCRIBE with no channel: every shard connection that may hold a channel (one
            // known to hold none would answer an extra "no channel" confirmation).
            let holding = shardLinks.filter { (subscriptionCounts[Self.shardFamily($0)] ?? 1) > 0 }
            if holding.isEmpty {
                respond(confirmationHeader + RESPReply.bulk(Array(spec.name.utf8))
                        + RESPReply.null(protocolVersion: protocolVersion) + RESPReply.integer(0))
            }
            for link in holding { _ = sendToPubSub(link, frame) }
            return
        }
        guard let node = worker.slotMap.primaryIndex(for: HashSlot(rawValue: slot)) else {
            respondError("CLUSTERDOWN Hash slot not served")
            return
        }
        let address = worker.slotMap.primaries[Int(node)]
        let link = shardLink(to: address)
        subscribed = true
        if !sendToPubSub(link, frame) {
            shardLinks.removeAll { $0 === link }
            subscriptionsChanged()
            respondError("ERR slotproxy: cannot connect to \(address) to subscribe")
        }
    }

    /// The client's shard pub/sub connection to `address`, created on first use.
    func shardLink(to address: NodeAddress) -> BackendConnection {
        if let existing = shardLinks.first(where: { $0.address == address }) { return existing }
        let link = BackendConnection(worker: worker, address: address, protocolVersion: protocolVersion,
                                     kind: .pubsub, owner: self)
        shardLinks.append(link)
        return link
    }

    /// Something a pub/sub connection sent: a (un)subscribe confirmation or a message.
    func deliverPush(_ reply: UnsafeRawBufferPointer, from link: BackendConnection) {
        guard !closed else { return }
        if Self.isSyncMarkerReply(reply) {
            syncMarkerArrived(from: link)
            return
        }
        let tracked = trackSubscriptions(reply, from: link)
        if tracked?.isEmpty == true { return }  // absorbed: the client must not see it
        respond(tracked ?? Array(reply))
    }

    // MARK: - Waiting for pub/sub replies

    // A pub/sub command's replies are not matched to it: SUBSCRIBE a b answers twice,
    // UNSUBSCRIBE as many times as there were channels, and they arrive in between messages.
    // So each client frame sent on a pub/sub connection is followed by a marker PING, and the
    // client's next requests wait (unparsed, in its input buffer) until the marker's reply is
    // back: by then every reply of the command was queued, in order, and the subscription
    // state (subscribed mode, counts) is the one the next request must see, as on one server.

    static let syncMarkerToken = "slotproxy:pubsub-sync"
    static let syncMarker = RESPValueEncoder.command(["PING", syncMarkerToken])
    /// The marker's reply in subscribed mode (RESP2): `*2 pong <token>`; otherwise `$<token>`.
    static let syncMarkerReplies: [[UInt8]] = [
        RESPReply.arrayHeader(2) + RESPReply.bulk("pong") + RESPReply.bulk(syncMarkerToken),
        RESPReply.bulk(syncMarkerToken),
    ]

    /// Sends a client's frame on one of its pub/sub connections, then the marker; false (nothing
    /// sent) when the node cannot be reached.
    func sendToPubSub(_ link: BackendConnection, _ frame: UnsafeRawBufferPointer) -> Bool {
        guard link.enqueue(frame, client: self, sequence: 0) else { return false }
        if replies.command >= 0 {
            // Its replies come as pushes, not matched to it: counted now, untimed.
            _ = worker.commandDone(Int(replies.command), started: 0, reply: UnsafeRawBufferPointer(start: nil, count: 0))
            replies.command = -1
        }
        _ = Self.syncMarker.withUnsafeBytes { link.enqueue($0, client: self, sequence: 0) }
        pubsubMarkers[ObjectIdentifier(link), default: 0] += 1
        awaitingPubSub = true
        return true
    }

    static func isSyncMarkerReply(_ reply: UnsafeRawBufferPointer) -> Bool {
        reply.count <= 48 && syncMarkerReplies.contains { $0.elementsEqual(reply) }
    }

    private func syncMarkerArrived(from link: BackendConnection) {
        let id = ObjectIdentifier(link)
        if let n = pubsubMarkers[id] { pubsubMarkers[id] = n > 1 ? n - 1 : nil }
        subscriptionsChanged()
        resumeIfNotWaiting()
    }

    /// Forgets the markers of a pub/sub connection that is gone.
    private func forgetMarkers(of link: BackendConnection) {
        pubsubMarkers[ObjectIdentifier(link)] = nil
    }

    private func resumeIfNotWaiting() {
        guard awaitingPubSub && pubsubMarkers.isEmpty else { return }
        awaitingPubSub = false
        if !awaitingBlocked { resumeRequests() }
    }

    /// Follows the subscription count in (un)subscribe confirmations, to leave subscribed
    /// mode when it reaches 0, as Redis does. Each primary counts only the shard channels it
    /// holds, but the client subscribed to all of them as if on one server: a shard
    /// confirmation is given the client's total, returned as the bytes to send instead.
    private func trackSubscriptions(_ reply: UnsafeRawBufferPointer, from link: BackendConnection) -> [UInt8]? {
        guard reply.count > 16, reply[0] == UInt8(ascii: "*") || reply[0] == UInt8(ascii: ">"),
              let value = try? RESPValueDecoder.decode(Array(reply))?.value, let items = value.elements, items.count == 3,
              let kind = items[0].string?.lowercased(), kind.hasSuffix("subscribe"), let n = items[2].int else { return nil }
        guard kind == "ssubscribe" || kind == "sunsubscribe" else {
            subscriptionCounts[Self.plainFamily] = n
            subscriptionsChanged()
            return nil
        }
        subscriptionCounts[Self.shardFamily(link)] = n
        if absorbShardConfirmation(kind: kind, channel: items[1].string.map { Array($0.utf8) }, from: link) {
            subscriptionsChanged()
            return []
        }
        let total = subscriptionCounts.reduce(0) { $0 + ($1.key == Self.plainFamily ? 0 : $1.value) }
        subscriptionsChanged()
        return total == n ? nil : Self.replacingCount(reply, with: total)
    }

    static let plainFamily = "plain"

    /// The key of one shard connection's count in `subscriptionCounts`.
    static func shardFamily(_ link: BackendConnection) -> String { "shard \(link.address)" }

    /// A confirmation with its last element, the count (`:<n>\r\n`), replaced.
    static func replacingCount(_ reply: UnsafeRawBufferPointer, with count: Int) -> [UInt8] {
        var i = reply.count - 3
        while i > 0 && reply[i] != UInt8(ascii: ":") { i -= 1 }
        return Array(reply[0..<i]) + RESPReply.integer(count)
    }

    private func subscriptionsChanged() {
        // Channels waiting to be subscribed again still count: the client is subscribed to them.
        let total = subscriptionCounts.values.reduce(0, +) + pendingResubscribe.count
        if total == 0 {
            subscribed = false
            if let link = pubsubLink, (subscriptionCounts[Self.plainFamily] ?? 0) == 0,
               pubsubMarkers[ObjectIdentifier(link)] == nil {
                // Keep nothing open for a client that no longer listens (but not while a
                // command's replies are still coming: UNSUBSCRIBE a b answers twice).
                pubsubLink?.close()
                pubsubLink = nil
            }
        }
    }
}
