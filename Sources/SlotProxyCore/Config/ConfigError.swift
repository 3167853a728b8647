// Why configuration failed, worded like redis-server's own complaints so an operator can
// go straight to the line at fault. Every stage of loading (reading the file, splitting a
// line, looking up a directive, checking its value) reports through this one type; the
// location says whether the bad text came from a file line or from the command line.

/// A configuration problem, with where it was found.
///
/// `description` is the message to print before exiting, for example
/// `proxy.conf:12: unknown directive 'prot'` or
/// `--threads: invalid value 'x' (must be an integer from 1 to 64)`.
public struct ConfigError: Error, CustomStringConvertible, Equatable, Sendable {
    /// Where the offending text came from.
    public enum Location: Equatable, Sendable {
        /// A line of a config file (1-based line number).
        case file(name: String, line: Int)
        /// A `--directive value...` group on the command line.
        case commandLine
        /// Not tied to one place (for example: no seeds anywhere).
        case none
    }

    /// What is wrong.
    public enum Problem: Equatable, Sendable {
        /// The directive name is not in `ConfigDirective.all`.
        case unknownDirective
        /// `value` does not fit the directive; `expected` says what would ("must be 1-65535").
        case invalidValue(value: String, expected: String)
        /// Too few or too many arguments; `expected` is "1" or "at least 1".
        case wrongArgumentCount(expected: String, got: Int)
        /// A quoted argument is not closed, or a closing quote is not followed by a space.
        case unbalancedQuotes
        /// A command-line argument that is neither the config file nor part of a `--directive`.
        case unexpectedArgument(String)
        /// The caller's `readFile` failed; `reason` is its error's text.
        case unreadableFile(path: String, reason: String)
        /// No `seeds` anywhere, but the proxy needs one cluster node to start from.
        case missingSeeds
    }

    public var location: Location
    /// The directive at fault (lower case), when there is one.
    public var directive: String?
    public var problem: Problem

    public init(_ problem: Problem, directive: String? = nil, at location: Location = .none) {
        self.problem = problem
        self.directive = directive
        self.location = location
    }

    public var description: String {
        switch location {
        case .file(let name, let line):
            return "\(name):\(line): \(message(namingDirective: true))"
        case .commandLine:
            if let directive { return "--\(directive): \(message(namingDirective: false))" }
            return message(namingDirective: false)
        case .none:
            return message(namingDirective: true)
        }
    }

    /// The problem in words. On the command line the `--name:` prefix already names the
    /// directive, so the message does not repeat it.
    private func message(namingDirective: Bool) -> String {
        let name = directive ?? ""
        let forName = namingDirective && directive != nil ? " for '\(name)'" : ""
        switch problem {
        case .unknownDirective:
            return "unknown directive '\(name)'"
        case .invalidValue(let value, let expected):
            if forName.isEmpty { return "invalid value '\(value)' (\(expected))" }
            return "invalid value\(forName): '\(value)' (\(expected))"
        case .wrongArgumentCount(let expected, let got):
            return "wrong number of arguments\(forName) (expected \(expected), got \(got))"
        case .unbalancedQuotes:
            return "unbalanced quotes in configuration line"
        case .unexpectedArgument(let argument):
            return "unexpected argument '\(argument)' (after the config file, give directives as --name value)"
        case .unreadableFile(let path, let reason):
            return "can't open config file '\(path)': \(reason)"
        case .missingSeeds:
            return "no seeds: give at least one cluster node as 'seeds host:port' in the config file or --seeds host:port"
        }
    }
}
