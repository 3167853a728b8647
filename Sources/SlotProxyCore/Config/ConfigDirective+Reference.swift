// The directive reference of docs/OPERATIONS.md, generated from the directive table, so the
// operations guide lists every directive with its real default and accepted values and cannot
// drift from the code:
//   ConfigDirective.all ──referenceMarkdown()──▶ the text between the markers in OPERATIONS.md
// A unit test (OperationsDocTests) compares them; SLOTPROXY_WRITE_OPERATIONS_MD=1 rewrites it.

extension ConfigDirective {
    /// Marks the start of the generated section in docs/OPERATIONS.md.
    public static let referenceBeginMarker = "<!-- directives: generated from ConfigDirective+Table.swift; do not edit -->"
    /// Marks its end.
    public static let referenceEndMarker = "<!-- end of generated directives -->"

    /// One Markdown entry per directive, in table order: name, default, accepted values, and
    /// the help paragraph (the same text proxy.conf carries).
    public static func referenceMarkdown() -> String {
        var text = "| directive | default | values |\n|---|---|---|\n"
        for directive in all {
            text += "| [`\(directive.name)`](#\(directive.name)) | `\(directive.defaultValue)` | \(directive.kind.referenceDescription) |\n"
        }
        for directive in all {
            text += "\n#### `\(directive.name)`\n\n"
            text += "Default `\(directive.defaultValue)`; \(directive.kind.referenceDescription).\n\n"
            text += directive.help.split(separator: "\n", omittingEmptySubsequences: false)
                .map { $0.isEmpty ? "" : String($0) }.joined(separator: "\n") + "\n"
        }
        return text
    }
}

extension ConfigValueKind {
    /// The accepted values, in words, for the reference.
    var referenceDescription: String {
        switch self {
        case .integer(let range): return "integer \(range.lowerBound)–\(range.upperBound)"
        case .memory(let range):
            return "size with Redis units (1k, 1kb, 1mb, 1gb…) \(ConfigValueReader.memoryValueText(range.lowerBound))–\(ConfigValueReader.memoryValueText(range.upperBound))"
        case .boolean: return "yes or no"
        case .choice(let words): return words.joined(separator: ", ")
        case .string: return "text (\"\" for none)"
        case .bindAddresses: return "addresses, space-separated (`*`, `-` prefix: optional)"
        case .seedAddresses: return "host:port list, spaces or commas"
        case .users: return "name:password pairs, space-separated"
        case .fileMode: return "octal permissions 0–777"
        case .clientOutputBufferLimits: return "`<class> <hard> <soft> <seconds>` groups (classes normal, pubsub; sizes with Redis units)"
        }
    }
}
