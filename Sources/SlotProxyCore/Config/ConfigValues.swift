// The kinds of value a directive can take, and how each is read from its text:
//   "7777" ─integer─▶ 7777        "512mb" ─memory─▶ 536870912     "yes" ─boolean─▶ true
//   "notice" ─choice─▶ LogLevel   "127.0.0.1 -::1" ─bind─▶ [BindAddress]
//   "a:7001,[::1]:7002" ─seeds─▶ [SeedAddress]   "alice:pw bob:pw2" ─users─▶ [ProxyUser]
//   "770" ─fileMode─▶ 0o770
// Each reader throws InvalidConfigValue with the words "must be ..." that end up in the
// ConfigError, so every directive of a kind explains itself the same way.

/// What values a directive accepts; shown in help and used to pick the reader.
public enum ConfigValueKind: Equatable, Sendable {
    /// A decimal integer within the range.
    case integer(ClosedRange<Int>)
    /// A byte count with an optional Redis unit (1k = 1000, 1kb = 1024, m, mb, g, gb).
    case memory(ClosedRange<Int>)
    /// `yes` or `no`.
    case boolean
    /// One of these words (case-insensitive).
    case choice([String])
    /// Any text; `""` is the empty string.
    case string
    /// Listen addresses for `bind`.
    case bindAddresses
    /// `host:port` cluster nodes for `seeds`.
    case seedAddresses
    /// `name:password` pairs for `users`.
    case users
    /// `class hard soft seconds` groups for `client-output-buffer-limit`.
    case clientOutputBufferLimits
    /// File permission bits in octal, 0–777 (`unixsocketperm`).
    case fileMode
}

/// How much the proxy logs, with Redis's words; each level includes the ones after it.
public enum LogLevel: String, CaseIterable, Comparable, Sendable {
    case debug, verbose, notice, warning

    public static func < (a: LogLevel, b: LogLevel) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}

/// Where read-only commands go (`read-from`).
public enum ReadFrom: String, CaseIterable, Sendable {
    /// Every command goes to the slot's primary.
    case primary
    /// Reads go to a replica of the slot's primary when one is reachable, else to the primary.
    case preferReplica = "prefer-replica"
    /// Reads go to replicas only: while none of the slot's replicas is reachable they are held
    /// like requests during a failover; a shard that lists no healthy replica serves them
    /// from its primary.
    case replica
}

/// One address the proxy listens on.
///
/// `bind *` expands to `0.0.0.0` and `-::` (every IPv4 and, where available, every IPv6
/// interface). Listeners on IPv6 addresses should set IPV6_V6ONLY so `0.0.0.0` and `::`
/// can share a port, as Redis does.
public struct BindAddress: Hashable, Sendable, CustomStringConvertible {
    /// An IPv4 or IPv6 literal (no brackets) or a host name.
    public var host: String
    /// Written with a leading `-`: if the address is not available on this machine (no IPv6,
    /// say), skip it instead of failing to start.
    public var isOptional: Bool

    public init(host: String, isOptional: Bool = false) {
        self.host = host
        self.isOptional = isOptional
    }

    public var description: String { (isOptional ? "-" : "") + host }
}

/// One cluster node to discover the topology from.
public struct SeedAddress: Hashable, Sendable, CustomStringConvertible {
    /// Host name or IP literal, without IPv6 brackets.
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// `host:port`, with brackets around an IPv6 host.
    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// A value that does not fit its directive; `expected` reads "must be ...".
struct InvalidConfigValue: Error {
    var value: String
    var expected: String
}

/// A user clients may authenticate as (`users name:password`), besides the default user.
public struct ProxyUser: Hashable, Sendable {
    public var name: String
    public var password: String

    public init(name: String, password: String) {
        self.name = name
        self.password = password
    }
}

// MARK: - Readers

enum ConfigValueReader {
    /// A decimal integer in `range`. Text that is not an integer is told the whole rule;
    /// an integer out of range is told the range.
    static func integer(_ text: String, in range: ClosedRange<Int>) throws(InvalidConfigValue) -> Int {
        guard let value = decimal(text) else {
            throw InvalidConfigValue(value: text, expected: "must be an integer from \(range.lowerBound) to \(range.upperBound)")
        }
        guard range.contains(value) else {
            throw InvalidConfigValue(value: text, expected: "must be \(range.lowerBound)-\(range.upperBound)")
        }
        return value
    }

    /// A byte count like Redis's `memtoull`: digits, then an optional unit, any case:
    /// b = 1, k = 1000, kb = 1024, m = 1000², mb = 1024², g = 1000³, gb = 1024³.
    static func memory(_ text: String, in range: ClosedRange<Int>) throws(InvalidConfigValue) -> Int {
        guard let value = memoryBytes(text) else {
            throw InvalidConfigValue(value: text, expected: "must be a size in bytes with an optional unit: k, kb, m, mb, g, gb")
        }
        guard range.contains(value) else {
            throw InvalidConfigValue(value: text, expected: "must be from \(memoryText(range.lowerBound)) to \(memoryText(range.upperBound))")
        }
        return value
    }

    /// Permission bits written in octal, as chmod takes them: `700`, `0770`; at most 777.
    static func fileMode(_ text: String) throws(InvalidConfigValue) -> Int {
        let digits = text.utf8
        guard !digits.isEmpty, digits.count <= 4, digits.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "7") }),
              let value = Int(text, radix: 8), value <= 0o777 else {
            throw InvalidConfigValue(value: text, expected: "must be octal permissions from 0 to 777, e.g. 700")
        }
        return value
    }

    static func boolean(_ text: String) throws(InvalidConfigValue) -> Bool {
        switch asciiLowercased(text) {
        case "yes": return true
        case "no": return false
        default: throw InvalidConfigValue(value: text, expected: "must be yes or no")
        }
    }

    static func choice<Choice: RawRepresentable & CaseIterable>(_ text: String, of: Choice.Type) throws(InvalidConfigValue) -> Choice
    where Choice.RawValue == String {
        if let choice = Choice(rawValue: asciiLowercased(text)) { return choice }
        let words = Choice.allCases.map(\.rawValue).joined(separator: ", ")
        throw InvalidConfigValue(value: text, expected: "must be one of \(words)")
    }

    /// Listen addresses, separated by spaces: IP literals or host names, `*` for all
    /// interfaces, `-` in front for "skip if unavailable".
    static func bindAddresses(_ arguments: [String]) throws(InvalidConfigValue) -> [BindAddress] {
        var addresses: [BindAddress] = []
        for word in words(arguments, splittingOnCommas: false) {
            let isOptional = word.hasPrefix("-")
            var host = isOptional ? String(word.dropFirst()) : word
            if host == "*" {
                addresses.append(BindAddress(host: "0.0.0.0", isOptional: isOptional))
                addresses.append(BindAddress(host: "::", isOptional: true))
                continue
            }
            if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            guard isHost(host) else {
                throw InvalidConfigValue(value: word, expected: "must be an IP address, a host name or *, with - in front to skip an unavailable address")
            }
            addresses.append(BindAddress(host: host, isOptional: isOptional))
        }
        guard !addresses.isEmpty else {
            throw InvalidConfigValue(value: arguments.joined(separator: " "), expected: "must name at least one address")
        }
        return addresses
    }

    /// Cluster nodes as `host:port`, separated by spaces or commas; IPv6 hosts in brackets.
    /// An empty list is allowed here (it is the default); starting without seeds is refused later.
    static func seedAddresses(_ arguments: [String]) throws(InvalidConfigValue) -> [SeedAddress] {
        try words(arguments, splittingOnCommas: true).map { word throws(InvalidConfigValue) in
            guard let seed = seedAddress(word) else {
                throw InvalidConfigValue(value: word, expected: "must be host:port with a port from 1 to 65535, IPv6 as [::1]:7000")
            }
            return seed
        }
    }

    /// Users as `name:password`, separated by spaces; the name ends at the first colon.
    /// An empty list is allowed (the default). Error texts never repeat a password.
    static func users(_ arguments: [String]) throws(InvalidConfigValue) -> [ProxyUser] {
        var users: [ProxyUser] = []
        for word in words(arguments, splittingOnCommas: false) {
            guard let colon = word.firstIndex(of: ":"), colon != word.startIndex,
                  word.index(after: colon) != word.endIndex else {
                throw InvalidConfigValue(value: word.contains(":") ? String(word.prefix { $0 != ":" }) + ":…" : "…",
                                         expected: "must be name:password pairs separated by spaces")
            }
            let user = ProxyUser(name: String(word[..<colon]), password: String(word[word.index(after: colon)...]))
            guard user.name != "default" else {
                throw InvalidConfigValue(value: "default:…", expected: "must not name the default user, whose password is requirepass")
            }
            guard !users.contains(where: { $0.name == user.name }) else {
                throw InvalidConfigValue(value: "\(user.name):…", expected: "must name each user once")
            }
            users.append(user)
        }
        return users
    }

    // MARK: - Helpers

    /// Arguments split further on spaces (and commas), so `--bind "127.0.0.1 ::1"` and
    /// `seeds a:1,b:2` mean what they say.
    private static func words(_ arguments: [String], splittingOnCommas: Bool) -> [String] {
        arguments.flatMap { argument in
            argument.split(whereSeparator: { $0 == " " || $0 == "\t" || (splittingOnCommas && $0 == ",") }).map(String.init)
        }
    }

    private static func seedAddress(_ word: String) -> SeedAddress? {
        let host: Substring
        let portText: Substring
        if word.hasPrefix("[") {
            // [v6]:port: the port follows the closing bracket.
            guard let close = word.firstIndex(of: "]"), word[word.index(after: close)...].hasPrefix(":") else { return nil }
            host = word[word.index(after: word.startIndex)..<close]
            portText = word[word.index(close, offsetBy: 2)...]
            guard host.contains(":"), isHost(String(host)) else { return nil }
        } else {
            // host:port: a second colon means an IPv6 literal without the brackets it needs.
            guard let colon = word.lastIndex(of: ":") else { return nil }
            host = word[..<colon]
            portText = word[word.index(after: colon)...]
            guard !host.contains(":"), isHost(String(host)) else { return nil }
        }
        guard let port = decimal(String(portText)), (1...65535).contains(port) else { return nil }
        return SeedAddress(host: String(host), port: port)
    }

    /// An IPv4 literal, an IPv6 literal (optionally with a %zone), or a host name.
    static func isHost(_ host: String) -> Bool {
        guard !host.isEmpty else { return false }
        let bytes = Array(host.utf8)
        func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }
        func isLetter(_ b: UInt8) -> Bool { (b | 0x20) >= 0x61 && (b | 0x20) <= 0x7A }
        func isHex(_ b: UInt8) -> Bool { isDigit(b) || ((b | 0x20) >= 0x61 && (b | 0x20) <= 0x66) }
        if bytes.contains(UInt8(ascii: ":")) {
            let address = bytes.split(separator: UInt8(ascii: "%"), maxSplits: 1, omittingEmptySubsequences: false)[0]
            return address.allSatisfy { isHex($0) || $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: ".") }
                && address.filter { $0 == UInt8(ascii: ":") }.count >= 2
        }
        if bytes.allSatisfy({ isDigit($0) || $0 == UInt8(ascii: ".") }) {
            // Looks numeric, so it must be a well-formed IPv4 address.
            let parts = host.split(separator: ".", omittingEmptySubsequences: false)
            return parts.count == 4 && parts.allSatisfy { !$0.isEmpty && $0.count <= 3 && Int($0)! <= 255 }
        }
        return bytes.allSatisfy { isDigit($0) || isLetter($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_") }
            && bytes.first != UInt8(ascii: "-")
    }

    /// A plain decimal integer, optionally negative; nil on anything else or overflow.
    static func decimal(_ text: String) -> Int? {
        let negative = text.hasPrefix("-")
        let digits = negative ? text.dropFirst() : text[...]
        guard !digits.isEmpty, digits.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let magnitude = Int(digits) else { return nil }
        return negative ? -magnitude : magnitude
    }

    static let memoryUnits: [(suffix: String, bytes: Int)] = [
        ("gb", 1 << 30), ("mb", 1 << 20), ("kb", 1 << 10),
        ("g", 1_000_000_000), ("m", 1_000_000), ("k", 1_000), ("b", 1),
    ]

    static func memoryBytes(_ text: String) -> Int? {
        let lower = asciiLowercased(text)
        let digits = lower.prefix { $0 >= "0" && $0 <= "9" }
        let unit = lower.dropFirst(digits.count)
        guard !digits.isEmpty, let number = Int(digits) else { return nil }
        let multiplier = unit.isEmpty ? 1 : memoryUnits.first(where: { $0.suffix == unit })?.bytes
        guard let multiplier else { return nil }
        let (bytes, overflow) = number.multipliedReportingOverflow(by: multiplier)
        return overflow ? nil : bytes
    }

    /// Bytes in the largest binary unit that divides them exactly, else plain: 1048576 -> "1mb".
    /// Reads back through `memoryBytes` to the same number.
    static func memoryValueText(_ bytes: Int) -> String {
        for (suffix, unit) in memoryUnits where unit > 1 && suffix.hasSuffix("b") && bytes != 0 && bytes % unit == 0 {
            return "\(bytes / unit)\(suffix)"
        }
        return String(bytes)
    }

    /// A size for an error message: "1mb", or "2147483647 bytes" when no unit fits.
    static func memoryText(_ bytes: Int) -> String {
        let text = memoryValueText(bytes)
        return text == String(bytes) ? "\(bytes) bytes" : text
    }
}
