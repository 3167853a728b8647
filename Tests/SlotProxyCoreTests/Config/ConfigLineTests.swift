import Testing
@testable import SlotProxyCore

@Suite("ConfigLine")
struct ConfigLineTests {
    @Test("splits on spaces and tabs and ignores surrounding blanks")
    func plainWords() {
        #expect(ConfigLine.splitArguments("  bind\t127.0.0.1   ::1  \r") == ["bind", "127.0.0.1", "::1"])
        #expect(ConfigLine.splitArguments("") == [])
        #expect(ConfigLine.splitArguments("   \t ") == [])
    }

    @Test("double quotes understand Redis's escapes")
    func doubleQuotes() {
        #expect(ConfigLine.splitArguments(#"logfile "/var/log/slot proxy.log""#) == ["logfile", "/var/log/slot proxy.log"])
        #expect(ConfigLine.splitArguments(#"x "a\nb\rc\td\be\af\\g\"h\qi""#) == ["x", "a\nb\rc\td\u{08}e\u{07}f\\g\"hqi"])
        #expect(ConfigLine.splitArguments(#"x "\x41\x62\x7a" "\xZZ""#) == ["x", "Abz", "xZZ"])
        #expect(ConfigLine.splitArguments(#"x """#) == ["x", ""])
    }

    @Test("single quotes understand only an escaped single quote")
    func singleQuotes() {
        #expect(ConfigLine.splitArguments(#"x 'it\'s \n raw'"#) == ["x", #"it's \n raw"#])
        #expect(ConfigLine.splitArguments("x ''") == ["x", ""])
    }

    @Test("a quote inside a word quotes the rest of that word, as sdssplitargs does")
    func quoteInsideWord() {
        #expect(ConfigLine.splitArguments(#"x ab"c d" e"#) == ["x", "abc d", "e"])
    }

    @Test("unbalanced quotes are refused")
    func unbalanced() {
        #expect(ConfigLine.splitArguments(#"x "open"#) == nil)
        #expect(ConfigLine.splitArguments("x 'open") == nil)
        #expect(ConfigLine.splitArguments(#"x "closed"glued"#) == nil)
        #expect(ConfigLine.splitArguments("x 'closed'glued") == nil)
    }

    @Test("# begins a comment at the start of an unquoted word only")
    func comments() {
        #expect(ConfigLine.splitArguments("# whole line") == [])
        #expect(ConfigLine.splitArguments("port 7777 # trailing") == ["port", "7777"])
        #expect(ConfigLine.splitArguments("logfile a#b") == ["logfile", "a#b"])
        #expect(ConfigLine.splitArguments("logfile \"#b\"") == ["logfile", "#b"])
    }

    @Test("a file becomes lower-cased directive lines with their line numbers")
    func parseFile() throws {
        let text = """
            # comment

            PORT 7000
              Bind 127.0.0.1 "::1"\r
            logfile ""
            """
        let lines = try ConfigLine.parse(fileContents: text, fileName: "proxy.conf")
        #expect(lines == [
            ConfigLine(directive: "port", arguments: ["7000"], line: 3),
            ConfigLine(directive: "bind", arguments: ["127.0.0.1", "::1"], line: 4),
            ConfigLine(directive: "logfile", arguments: [""], line: 5),
        ])
    }

    @Test("unbalanced quotes in a file report the file and line")
    func parseFileUnbalanced() {
        #expect(throws: ConfigError(.unbalancedQuotes, at: .file(name: "p.conf", line: 2))) {
            try ConfigLine.parse(fileContents: "port 1\nlogfile \"x\n", fileName: "p.conf")
        }
        let error = ConfigError(.unbalancedQuotes, at: .file(name: "p.conf", line: 2))
        #expect(error.description == "p.conf:2: unbalanced quotes in configuration line")
    }

    @Test("quotedIfNeeded writes what splitArguments reads back")
    func quotingRoundTrip() {
        for value in ["plain", "", "with space", "tab\there", "q\"uote", "s'ingle", "back\\slash", "#hash", "nl\n", "bell\u{07}\u{01}", "é ü"] {
            let line = "x " + quotedIfNeeded(value)
            #expect(ConfigLine.splitArguments(line) == ["x", value], "\(line)")
        }
        #expect(quotedIfNeeded("plain") == "plain")
        #expect(quotedIfNeeded("") == "\"\"")
    }
}
