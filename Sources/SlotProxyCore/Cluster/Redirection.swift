// MOVED and ASK as values. A backend answers `-MOVED 3999 127.0.0.1:6381` when the slot
// lives on another primary for good (the slot map gets patched), and `-ASK 3999 ...` while the
// slot is being migrated (send ASKING + the command to the target once; the map stays as it
// is). The reply scanner hands the error body here; the router acts on the parsed value.
// Parsing works over the raw bytes; only the host becomes a String.

/// A cluster redirection parsed from an error reply.
public enum Redirection: Equatable, Sendable {
    /// The slot now lives at `address`: patch the slot map and resend there.
    case moved(slot: HashSlot, address: NodeAddress)
    /// The slot is being migrated to `address`: send `ASKING` and the command there, once.
    case ask(slot: HashSlot, address: NodeAddress)

    /// Parses the body of an error reply: `MOVED <slot> <host>:<port>` or
    /// `ASK <slot> <host>:<port>`, without the leading '-' (tolerated if present) and
    /// without the CRLF. The host is split off at the *last* colon, so IPv6 hosts work
    /// ("MOVED 1 ::1:7000"); a bracketed host ("[::1]:7000") is accepted too.
    ///
    /// An unknown host is kept as `host == ""`: Redis sends `MOVED 3999 :6381` when
    /// `cluster-preferred-endpoint-type` is `unknown-endpoint` and `MOVED 3999 ?:6381`
    /// when it prefers host names but the target has none; both become "". The caller
    /// substitutes the host of the node that sent the redirection
    /// (`resolvingUnknownHost(_:)`), which is what Redis means by an unknown endpoint.
    ///
    /// - Returns: nil for any other error, a slot outside 0..<16384 or a malformed address.
    public init?(errorLine: UnsafeRawBufferPointer) {
        var line = errorLine
        if line.first == UInt8(ascii: "-") { line = UnsafeRawBufferPointer(rebasing: line.dropFirst()) }

        let isAsk: Bool
        var i: Int
        if Redirection.hasPrefix(line, "MOVED ") {
            isAsk = false
            i = 6
        } else if Redirection.hasPrefix(line, "ASK ") {
            isAsk = true
            i = 4
        } else {
            return nil
        }

        // The slot: 1 to 5 decimal digits, then one space.
        var slotNumber = 0
        let slotStart = i
        while i < line.count, line[i] >= UInt8(ascii: "0"), line[i] <= UInt8(ascii: "9"), i - slotStart < 5 {
            slotNumber = slotNumber * 10 + Int(line[i] - UInt8(ascii: "0"))
            i += 1
        }
        guard i > slotStart, i < line.count, line[i] == UInt8(ascii: " "),
              let slot = HashSlot(exactly: slotNumber) else { return nil }
        i += 1

        // The address runs to the end of the line: host, last colon, port.
        let address = UnsafeRawBufferPointer(rebasing: line[i...])
        guard let colon = address.lastIndex(of: UInt8(ascii: ":")) else { return nil }
        var port = 0
        let portBytes = address[(colon + 1)...]
        guard !portBytes.isEmpty, portBytes.count <= 5 else { return nil }
        for byte in portBytes {
            guard byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") else { return nil }
            port = port * 10 + Int(byte - UInt8(ascii: "0"))
        }
        guard port <= 65535 else { return nil }
        var host = address[..<colon]
        if host.count >= 2 && host.first == UInt8(ascii: "[") && host.last == UInt8(ascii: "]") {
            host = host.dropFirst().dropLast()
        }
        guard !host.contains(UInt8(ascii: " ")) else { return nil }
        // "?" is how Redis spells "no host name known": same meaning as an empty host.
        let hostText = host.elementsEqual([UInt8(ascii: "?")]) ? "" : String(decoding: host, as: UTF8.self)

        let target = NodeAddress(host: hostText, port: port)
        self = isAsk ? .ask(slot: slot, address: target) : .moved(slot: slot, address: target)
    }

    /// Parses an error body given as text (tests and cold paths). See `init?(errorLine:)`.
    public init?(errorLine: String) {
        var text = errorLine
        guard let parsed = text.withUTF8({ Redirection(errorLine: UnsafeRawBufferPointer($0)) }) else { return nil }
        self = parsed
    }

    /// The slot being redirected.
    public var slot: HashSlot {
        switch self {
        case .moved(let slot, _), .ask(let slot, _): return slot
        }
    }

    /// Where to send the command; `host` may be "" (see `init?(errorLine:)`).
    public var address: NodeAddress {
        switch self {
        case .moved(_, let address), .ask(_, let address): return address
        }
    }

    /// True when Redis did not say which host to use (`MOVED 3999 :6381` or `?:6381`).
    public var hasUnknownHost: Bool { address.host.isEmpty }

    /// The same redirection with an empty host replaced by `host`, normally the host of the
    /// node that sent it. A redirection that names its host is returned unchanged.
    public func resolvingUnknownHost(_ host: String) -> Redirection {
        guard hasUnknownHost else { return self }
        let target = NodeAddress(host: host, port: address.port)
        switch self {
        case .moved(let slot, _): return .moved(slot: slot, address: target)
        case .ask(let slot, _): return .ask(slot: slot, address: target)
        }
    }

    private static func hasPrefix(_ bytes: UnsafeRawBufferPointer, _ prefix: StaticString) -> Bool {
        guard bytes.count >= prefix.utf8CodeUnitCount else { return false }
        for i in 0..<prefix.utf8CodeUnitCount where bytes[i] != prefix.utf8Start[i] { return false }
        return true
    }
}
