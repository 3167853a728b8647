// Splits an inline request line into arguments exactly as Redis's sdssplitargs does:
// blanks separate arguments; "double quotes" understand \n \r \t \b \a \\ \" and \xHH;
// 'single quotes' understand \'; a closing quote must be followed by a blank or the end.
// A NUL byte ends the line, as it does for the C string Redis scans.

enum InlineSplitter {
    /// The arguments of `line` (without its newline), or nil for unbalanced quotes.
    static func split(_ line: UnsafeBufferPointer<UInt8>) -> [[UInt8]]? {
        var args: [[UInt8]] = []
        var p = 0
        let n = line.count
        @inline(__always) func at(_ i: Int) -> UInt8 { i < n ? line[i] : 0 }
        while true {
            while at(p) != 0 && isSpace(at(p)) { p += 1 }
            guard at(p) != 0 else { return args }
            var current: [UInt8] = []
            var inDouble = false
            var inSingle = false
            var done = false
            while !done {
                let c = at(p)
                if inDouble {
                    if c == UInt8(ascii: "\\") && at(p + 1) == UInt8(ascii: "x"),
                       let hi = hexValue(at(p + 2)), let lo = hexValue(at(p + 3)) {
                        current.append(hi << 4 | lo)
                        p += 3
                    } else if c == UInt8(ascii: "\\") && at(p + 1) != 0 {
                        p += 1
                        switch at(p) {
                        case UInt8(ascii: "n"): current.append(10)
                        case UInt8(ascii: "r"): current.append(13)
                        case UInt8(ascii: "t"): current.append(9)
                        case UInt8(ascii: "b"): current.append(8)
                        case UInt8(ascii: "a"): current.append(7)
                        default: current.append(at(p))
                        }
                    } else if c == UInt8(ascii: "\"") {
                        // The closing quote must be followed by a space or nothing at all.
                        if at(p + 1) != 0 && !isSpace(at(p + 1)) { return nil }
                        done = true
                    } else if c == 0 {
                        return nil
                    } else {
                        current.append(c)
                    }
                } else if inSingle {
                    if c == UInt8(ascii: "\\") && at(p + 1) == UInt8(ascii: "'") {
                        p += 1
                        current.append(UInt8(ascii: "'"))
                    } else if c == UInt8(ascii: "'") {
                        if at(p + 1) != 0 && !isSpace(at(p + 1)) { return nil }
                        done = true
                    } else if c == 0 {
                        return nil
                    } else {
                        current.append(c)
                    }
                } else {
                    switch c {
                    case UInt8(ascii: " "), 10, 13, 9, 0: done = true
                    case UInt8(ascii: "\""): inDouble = true
                    case UInt8(ascii: "'"): inSingle = true
                    default: current.append(c)
                    }
                }
                if at(p) != 0 { p += 1 }
            }
            args.append(current)
        }
    }

    @inline(__always)
    private static func isSpace(_ c: UInt8) -> Bool {
        c == 32 || (c >= 9 && c <= 13)
    }

    @inline(__always)
    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case 48...57: return c - 48
        case 97...102: return c - 87
        case 65...70: return c - 55
        default: return nil
        }
    }
}
