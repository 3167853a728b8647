// One configuration directive: its name, kind of value, default, help text, and how it
// reads into and out of ProxyConfig. The table of all directives (ConfigDirective+Table)
// is the single source for everything configuration:
//   table ──defaults──▶ ProxyConfig()          (each default parsed like a file line)
//   table ──lookup────▶ ProxyConfig.load        (file lines and --directive groups)
//   table ──text──────▶ annotatedFile()         (the committed proxy.conf; a test keeps them equal)

/// A configuration directive, as it appears in proxy.conf (`port 7777`) or on the command
/// line (`--port 7777`).
public struct ConfigDirective: Sendable {
    /// Lower-case name, as in Redis where Redis has the same setting.
    public let name: String
    /// What values are accepted.
    public let kind: ConfigValueKind
    /// The default value, written as it would be in proxy.conf.
    public let defaultValue: String
    /// What the shipped proxy.conf sets instead of the default, when it sets something else
    /// to show the format (only `seeds`, whose default is empty).
    public let example: String?
    /// The paragraph explaining the directive, in plain lines (no `#`).
    public let help: String

    /// Reads the arguments (already counted) into the config.
    let read: @Sendable (inout ProxyConfig, [String]) throws(InvalidConfigValue) -> Void
    /// Writes the current value back as proxy.conf text.
    let write: @Sendable (ProxyConfig) -> String

    /// True for directives that take a list (`bind`, `seeds`, `users`, `client-output-buffer-limit`):
    /// any number of arguments, each further split on spaces. Every other directive takes
    /// exactly one argument.
    public var takesList: Bool {
        kind == .bindAddresses || kind == .seedAddresses || kind == .users || kind == .clientOutputBufferLimits
    }

    /// Looks a directive up by name, ignoring ASCII case.
    public static func named(_ name: String) -> ConfigDirective? {
        let lower = asciiLowercased(name)
        return all.first { $0.name == lower }
    }

    /// Sets this directive in `config` from its arguments.
    /// - Throws: `ConfigError` naming this directive, without a location (the caller knows it).
    func apply(_ arguments: [String], to config: inout ProxyConfig) throws(ConfigError) {
        if takesList ? arguments.isEmpty : arguments.count != 1 {
            throw ConfigError(.wrongArgumentCount(expected: takesList ? "at least 1" : "1", got: arguments.count), directive: name)
        }
        do {
            try read(&config, arguments)
        } catch {
            throw ConfigError(.invalidValue(value: error.value, expected: error.expected), directive: name)
        }
    }

    /// The directive's value in `config`, as proxy.conf text (quoted where needed); what
    /// `CONFIG GET` would show.
    public func currentValue(in config: ProxyConfig) -> String {
        write(config)
    }
}

// MARK: - Building directives of each kind

extension ConfigDirective {
    static func integer(_ name: String, _ property: WritableKeyPath<ProxyConfig, Int> & Sendable,
                        default value: Int, range: ClosedRange<Int>, help: String) -> ConfigDirective {
        ConfigDirective(
            name: name, kind: .integer(range), defaultValue: String(value), example: nil, help: help,
            read: { (config: inout ProxyConfig, arguments: [String]) throws(InvalidConfigValue) in
                config[keyPath: property] = try ConfigValueReader.integer(arguments[0], in: range)
            },
            write: { config in String(config[keyPath: property]) })
    }

    static func memory(_ name: String, _ property: WritableKeyPath<ProxyConfig, Int> & Sendable,
                       default value: String, range: ClosedRange<Int>, help: String) -> ConfigDirective {
        ConfigDirective(
            name: name, kind: .memory(range), defaultValue: value, example: nil, help: help,
            read: { (config: inout ProxyConfig, arguments: [String]) throws(InvalidConfigValue) in
                config[keyPath: property] = try ConfigValueReader.memory(arguments[0], in: range)
            },
            write: { config in ConfigValueReader.memoryValueText(config[keyPath: property]) })
    }

    static func fileMode(_ name: String, _ property: WritableKeyPath<ProxyConfig, Int> & Sendable,
                         default value: Int, help: String) -> ConfigDirective {
        ConfigDirective(
            name: name, kind: .fileMode, defaultValue: String(value, radix: 8), example: nil, help: help,
            read: { (config: inout ProxyConfig, arguments: [String]) throws(InvalidConfigValue) in
                config[keyPath: property] = try ConfigValueReader.fileMode(arguments[0])
            },
            write: { config in String(config[keyPath: property], radix: 8) })
    }

    static func boolean(_ name: String, _ property: WritableKeyPath<ProxyConfig, Bool> & Sendable,
                        default value: Bool, help: String) -> ConfigDirective {
        ConfigDirective(
            name: name, kind: .boolean, defaultValue: value ? "yes" : "no", example: nil, help: help,
            read: { (config: inout ProxyConfig, arguments: [String]) throws(InvalidConfigValue) in
                config[keyPath: property] = try ConfigValueReader.boolean(arguments[0])
            },
            write: { config in config[keyPath: property] ? "yes" : "no" })
    }

    static func choice<Choice: RawRepresentable & CaseIterable & Sendable>(
        _ name: String, _ property: WritableKeyPath<ProxyConfig, Choice> & Sendable,
        default value: Choice, help: String
    ) -> ConfigDirective where Choice.RawValue == String {
        ConfigDirective(
            name: name, kind: .choice(Choice.allCases.map(\.rawValue)), defaultValue: value.rawValue, example: nil, help: help,
            read: { (config: inout ProxyConfig, arguments: [String]) throws(InvalidConfigValue) in
                config[keyPath: property] = try ConfigValueReader.choice(arguments[0], of: Choice.self)
            },
            write: { config in config[keyPath: property].rawValue })
    }

    static func string(_ name: String, _ property: WritableKeyPath<ProxyConfig, String> & Sendable,
                       default value: String, help: String) -> ConfigDirective {
        ConfigDirective(
            name: name, kind: .string, defaultValue: quotedIfNeeded(value), example: nil, help: help,
            read: { (config: inout ProxyConfig, arguments: [String]) throws(InvalidConfigValue) in
                config[keyPath: property] = arguments[0]
            },
            write: { config in quotedIfNeeded(config[keyPath: property]) })
    }

    static func bindAddresses(_ name: String, _ property: WritableKeyPath<ProxyConfig, [BindAddress]> & Sendable,
                              default value: String, help: String) -> ConfigDirective {
        ConfigDirective(
            name: name, kind: .bindAddresses, defaultValue: value, example: nil, help: help,
            read: { (config: inout ProxyConfig, arguments: [String]) throws(InvalidConfigValue) in
                config[keyPath: property] = try ConfigValueReader.bindAddresses(arguments)
            },
            write: { config in config[keyPath: property].map(\.description).joined(separator: " ") })
    }

    static func seedAddresses(_ name: String, _ property: WritableKeyPath<ProxyConfig, [SeedAddress]> & Sendable,
                              default value: String, example: String?, help: String) -> ConfigDirective {
        ConfigDirective(
            name: name, kind: .seedAddresses, defaultValue: value, example: example, help: help,
            read: { (config: inout ProxyConfig, arguments: [String]) throws(InvalidConfigValue) in
                config[keyPath: property] = try ConfigValueReader.seedAddresses(arguments)
            },
            write: { config in
                let seeds = config[keyPath: property]
                return seeds.isEmpty ? "\"\"" : seeds.map(\.description).joined(separator: " ")
            })
    }

    static func users(_ name: String, _ property: WritableKeyPath<ProxyConfig, [ProxyUser]> & Sendable,
                      default value: String, help: String) -> ConfigDirective {
        ConfigDirective(
            name: name, kind: .users, defaultValue: value, example: nil, help: help,
            read: { (config: inout ProxyConfig, arguments: [String]) throws(InvalidConfigValue) in
                config[keyPath: property] = try ConfigValueReader.users(arguments)
            },
            write: { config in
                let users = config[keyPath: property]
                return users.isEmpty ? "\"\"" : users.map { quotedIfNeeded("\($0.name):\($0.password)") }.joined(separator: " ")
            })
    }
}

extension ConfigDirective {
    static func clientOutputBufferLimits(_ name: String, _ property: WritableKeyPath<ProxyConfig, ClientOutputBufferLimits> & Sendable,
                                         default value: String, help: String) -> ConfigDirective {
        ConfigDirective(
            name: name, kind: .clientOutputBufferLimits, defaultValue: value, example: nil, help: help,
            read: { (config: inout ProxyConfig, arguments: [String]) throws(InvalidConfigValue) in
                try ConfigValueReader.clientOutputBufferLimits(arguments, into: &config[keyPath: property])
            },
            write: { config in config[keyPath: property].text })
    }
}

// MARK: - The annotated proxy.conf

extension ConfigDirective {
    /// The text of the shipped proxy.conf: a header, then one paragraph per directive in
    /// table order, each a `#` comment followed by the directive set to its default (or,
    /// for `seeds`, to its example). The committed file must equal this text; a test checks.
    public static func annotatedFile() -> String {
        var text = """
            # slotproxy configuration file.
            #
            # Start the proxy with:
            #
            #   slotproxy /path/to/proxy.conf [--directive value ...]
            #
            # Every directive below is set to its default value, except seeds: it has no
            # default (at least one seed is required) and shows an example. A --directive on
            # the command line overrides the file, e.g. `slotproxy proxy.conf --port 7778`;
            # with no file at all, `slotproxy --seeds 127.0.0.1:7001` runs on the defaults.
            #
            # The syntax is redis.conf's: one directive per line, arguments separated by
            # spaces, "double quotes" with backslash escapes or 'single quotes' around
            # arguments that contain spaces, # to start a comment. Directive names are
            # case-insensitive. When a directive appears twice, the later line wins.
            #
            # Sizes accept Redis's memory units, in any case:
            #
            #   1k => 1000 bytes        1kb => 1024 bytes
            #   1m => 1000000 bytes     1mb => 1024*1024 bytes
            #   1g => 1000000000 bytes  1gb => 1024*1024*1024 bytes

            """
        for directive in all {
            text += "\n"
            for line in directive.help.split(separator: "\n", omittingEmptySubsequences: false) {
                text += line.isEmpty ? "#\n" : "# \(line)\n"
            }
            text += "\(directive.name) \(directive.example ?? directive.defaultValue)\n"
        }
        return text
    }
}

/// An argument as proxy.conf would need it written: bare when it is a plain word, otherwise
/// in double quotes with the escapes `ConfigLine.splitArguments` understands.
func quotedIfNeeded(_ value: String) -> String {
    let plain = !value.isEmpty && value.utf8.allSatisfy { b in
        b > 0x20 && b < 0x7F && b != UInt8(ascii: "\"") && b != UInt8(ascii: "'") && b != UInt8(ascii: "\\")
    } && !value.hasPrefix("#")
    if plain { return value }
    var quoted = "\""
    for b in value.utf8 {
        switch b {
        case UInt8(ascii: "\\"): quoted += "\\\\"
        case UInt8(ascii: "\""): quoted += "\\\""
        case 0x0A: quoted += "\\n"
        case 0x0D: quoted += "\\r"
        case 0x09: quoted += "\\t"
        case 0x07: quoted += "\\a"
        case 0x08: quoted += "\\b"
        case 0x20...0x7E: quoted.unicodeScalars.append(Unicode.Scalar(b))
        default:
            let hex = Array("0123456789abcdef".utf8)
            quoted += "\\x" + String(decoding: [hex[Int(b >> 4)], hex[Int(b & 15)]], as: UTF8.self)
        }
    }
    return quoted + "\""
}
