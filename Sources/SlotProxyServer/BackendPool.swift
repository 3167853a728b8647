// A worker's backend connections, one shared connection per node and protocol version
// (RESP2 clients use RESP2 connections, RESP3 clients RESP3 ones: replies are never
// translated). The hot path reaches a primary's connection by its slot-map index; nodes
// reached only by ASK are found by address.

import SlotProxyCore

final class BackendPool {
    unowned(unsafe) var worker: Worker!

    /// Connections of one node, created on first use.
    final class Node {
        let address: NodeAddress
        var resp2: BackendConnection?
        var resp3: BackendConnection?
        init(address: NodeAddress) { self.address = address }
    }

    private var byAddress: [NodeAddress: Node] = [:]
    /// Aligned with the slot map's primaries.
    private var byIndex: [Node] = []
    /// The request path's view of `byIndex`: primary i's RESP2 connection at 2i, RESP3 at
    /// 2i+1, filled on first use. Unretained (the nodes keep the connections alive), so
    /// routing a request takes no retain and release of its connection.
    private var links: [Unmanaged<BackendConnection>?] = []

    /// Re-aligns the index with a new or patched slot map; connections to nodes that are
    /// neither primaries nor replicas any more, and not in use, are closed.
    func adopt(_ slotMap: SlotMap) {
        byIndex = slotMap.primaries.map { address in
            if let n = byAddress[address] { return n }
            let n = Node(address: address)
            byAddress[address] = n
            return n
        }
        links = Array(repeating: nil, count: 2 * byIndex.count)
        let keep = Set(slotMap.primaries).union(slotMap.replicas.joined())
        for (address, node) in byAddress where !keep.contains(address) {
            let busy = (node.resp2?.pendingCount ?? 0) + (node.resp3?.pendingCount ?? 0) > 0
            if !busy {
                node.resp2?.close()
                node.resp3?.close()
                byAddress[address] = nil
            }
        }
    }

    @inline(__always)
    func connection(node index: UInt16, protocolVersion: Int) -> BackendConnection {
        connection(of: byIndex[Int(index)], protocolVersion: protocolVersion)
    }

    /// `connection(node:protocolVersion:)` for the request path, unretained.
    @inline(__always)
    func link(node index: UInt16, protocolVersion: Int) -> Unmanaged<BackendConnection> {
        let k = Int(index) &* 2 &+ (protocolVersion >= 3 ? 1 : 0)
        if let link = links[k] { return link }
        let link = Unmanaged.passUnretained(connection(node: index, protocolVersion: protocolVersion))
        links[k] = link
        return link
    }

    func connection(address: NodeAddress, protocolVersion: Int) -> BackendConnection {
        if let n = byAddress[address] { return connection(of: n, protocolVersion: protocolVersion) }
        let n = Node(address: address)
        byAddress[address] = n
        return connection(of: n, protocolVersion: protocolVersion)
    }

    @inline(__always)
    private func connection(of node: Node, protocolVersion: Int) -> BackendConnection {
        if protocolVersion >= 3 {
            if let c = node.resp3 { return c }
            let c = BackendConnection(worker: worker, address: node.address, protocolVersion: 3)
            node.resp3 = c
            return c
        }
        if let c = node.resp2 { return c }
        let c = BackendConnection(worker: worker, address: node.address, protocolVersion: 2)
        node.resp2 = c
        return c
    }

    func checkTimeouts(now: Double, timeout: Double, connectTimeout: Double) {
        for node in byAddress.values {
            node.resp2?.checkTimeout(now: now, timeout: timeout, connectTimeout: connectTimeout)
            node.resp3?.checkTimeout(now: now, timeout: timeout, connectTimeout: connectTimeout)
        }
    }

    /// Lets every shared connection give back the buffers a burst grew (Worker.returnFreedMemory).
    func releaseIdleMemory() {
        for node in byAddress.values {
            node.resp2?.releaseIdleMemory()
            node.resp3?.releaseIdleMemory()
        }
    }

    /// Every shared connection and its state, for the metrics.
    /// Appends the state of every shared connection to `out` (no allocation once `out` has
    /// the capacity: this runs on every tick).
    func appendLinkStates(to out: inout [BackendLinkState]) {
        for node in byAddress.values {
            if let c = node.resp2 { out.append(BackendLinkState(address: c.address, state: c.stateName)) }
            if let c = node.resp3 { out.append(BackendLinkState(address: c.address, state: c.stateName)) }
        }
    }

    func closeAll() {
        for node in byAddress.values {
            node.resp2?.close()
            node.resp3?.close()
        }
        byAddress = [:]
        byIndex = []
        links = []
    }
}
