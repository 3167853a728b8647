// Turns the text of proxy.conf into directive lines, the way redis-server reads redis.conf:
//   file text ──split on '\n'──▶ one line ──splitArguments (sdssplitargs rules)──▶ [name, arg, ...]
//            ──▶ ConfigLine(directive: lower-cased name, arguments, line number)
// Nothing here knows what a directive means; ProxyConfig.load looks each one up in the
// directive table afterwards, so an unknown name is reported with its line number.

/// One non-blank, non-comment line of a config file: `directive arg arg ...`.
public struct ConfigLine: Equatable, Sendable {
    /// The directive name, lower-cased (names are case-insensitive).
    public var directive: String
    /// The arguments after the name, unquoted and unescaped.
    public var arguments: [String]
    /// 1-based line number in the file.
    public var line: Int

    public init(directive: String, arguments: [String], line: Int) {
        self.directive = directive
        self.arguments = arguments
        self.line = line
    }
}

extension ConfigLine {
    /// Splits one line into arguments with the rules of Redis's `sdssplitargs`:
    /// - arguments are separated by spaces or tabs;
    /// - `"double quotes"` understand `\n \r \t \b \a \\ \"` and `\xHH`; any other
    ///   escaped character stands for itself;
    /// - `'single quotes'` understand only `\'`;
    /// - a closing quote must be followed by a space or the end of the line;
    /// - a quote inside an unquoted argument starts a quoted part of that same argument.
    ///
    /// One addition to Redis: a `#` at the start of an unquoted argument begins a comment
    /// that runs to the end of the line, so `port 7777  # the client port` works.
    ///
    /// - Returns: the arguments, or nil when quotes are unbalanced.
    public static func splitArguments(_ line: String) -> [String]? {
        let bytes = Array(line.utf8)
        var arguments: [String] = []
        var p = 0

        func isSpace(_ b: UInt8) -> Bool { b == 0x20 || (b >= 0x09 && b <= 0x0D) }
        func at(_ i: Int) -> UInt8? { i < bytes.count ? bytes[i] : nil }
        func hexValue(_ b: UInt8?) -> UInt8? {
            guard let b else { return nil }
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): return b - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): return b - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): return b - UInt8(ascii: "A") + 10
            default: return nil
            }
        }

        while true {
            while let b = at(p), isSpace(b) { p += 1 }
            guard let first = at(p) else { return arguments }
            // An unquoted '#' opening an argument comments out the rest of the line.
            if first == UInt8(ascii: "#") { return arguments }

            var current: [UInt8] = []
            var inDoubleQuotes = false
            var inSingleQuotes = false
            var done = false
            while !done {
                let b = at(p)
                if inDoubleQuotes {
                    guard let b else { return nil }  // unterminated "
                    if b == UInt8(ascii: "\\"), at(p + 1) == UInt8(ascii: "x"),
                       let high = hexValue(at(p + 2)), let low = hexValue(at(p + 3)) {
                        current.append(high << 4 | low)
                        p += 3
                    } else if b == UInt8(ascii: "\\"), let escaped = at(p + 1) {
                        p += 1
                        switch escaped {
                        case UInt8(ascii: "n"): current.append(0x0A)
                        case UInt8(ascii: "r"): current.append(0x0D)
                        case UInt8(ascii: "t"): current.append(0x09)
                        case UInt8(ascii: "b"): current.append(0x08)
                        case UInt8(ascii: "a"): current.append(0x07)
                        default: current.append(escaped)
                        }
                    } else if b == UInt8(ascii: "\"") {
                        // The closing quote must end the argument.
                        if let next = at(p + 1), !isSpace(next) { return nil }
                        done = true
                    } else {
                        current.append(b)
                    }
                } else if inSingleQuotes {
                    guard let b else { return nil }  // unterminated '
                    if b == UInt8(ascii: "\\"), at(p + 1) == UInt8(ascii: "'") {
                        p += 1
                        current.append(UInt8(ascii: "'"))
                    } else if b == UInt8(ascii: "'") {
                        if let next = at(p + 1), !isSpace(next) { return nil }
                        done = true
                    } else {
                        current.append(b)
                    }
                } else {
                    switch b {
                    case nil: done = true
                    case let b? where isSpace(b): done = true
                    case UInt8(ascii: "\"")?: inDoubleQuotes = true
                    case UInt8(ascii: "'")?: inSingleQuotes = true
                    case let b?: current.append(b)
                    }
                }
                if p < bytes.count { p += 1 }
            }
            arguments.append(String(decoding: current, as: UTF8.self))
        }
    }

    /// Parses a whole config file into its directive lines, skipping blank and comment lines.
    /// Directive names are not checked here.
    /// - Parameters:
    ///   - fileContents: the file's text.
    ///   - fileName: the name to report in errors (the path as the user gave it).
    /// - Throws: `ConfigError` `.unbalancedQuotes` with the file name and line number.
    public static func parse(fileContents: String, fileName: String) throws(ConfigError) -> [ConfigLine] {
        var lines: [ConfigLine] = []
        var number = 0
        // Split on the byte, not the Character: "\r\n" is one Character and would hide the '\n'.
        for text in fileContents.utf8.split(separator: 0x0A, omittingEmptySubsequences: false) {
            number += 1
            guard let words = splitArguments(String(decoding: text, as: UTF8.self)) else {
                throw ConfigError(.unbalancedQuotes, at: .file(name: fileName, line: number))
            }
            guard let name = words.first else { continue }
            lines.append(ConfigLine(directive: asciiLowercased(name), arguments: Array(words.dropFirst()), line: number))
        }
        return lines
    }
}

/// Lower-cases ASCII letters only, so directive names compare the same in every locale.
func asciiLowercased(_ s: String) -> String {
    String(decoding: s.utf8.map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 }, as: UTF8.self)
}
