import Testing
@testable import SlotProxyCore

@Suite("SlowLog")
struct SlowLogTests {
    static func entry(_ id: Int64) -> SlowLogEntry {
        SlowLogEntry(id: id, timestamp: 1_700_000_000, durationMicros: 12, arguments: [Array("GET".utf8)],
                     clientAddress: "127.0.0.1:5000", clientName: "")
    }

    @Test("the ring keeps the newest capacity entries, newest first; reset empties it")
    func ring() {
        var log = SlowLog(capacity: 3)
        for id in 0..<5 { log.add(Self.entry(Int64(id))) }
        #expect(log.count == 3)
        #expect(log.newestFirst.map(\.id) == [4, 3, 2])
        log.reset()
        #expect(log.count == 0 && log.newestFirst.isEmpty)
        var off = SlowLog(capacity: 0)
        off.add(Self.entry(1))
        #expect(off.count == 0)
    }

    @Test("workers' logs merge by id, newest first, up to count (-1: all)")
    func merge() {
        let a = [5, 2, 1].map { Self.entry($0) }, b = [4, 3].map { Self.entry($0) }
        #expect(SlowLog.merge([a, b], count: 3).map(\.id) == [5, 4, 3])
        #expect(SlowLog.merge([a, b], count: -1).map(\.id) == [5, 4, 3, 2, 1])
        #expect(SlowLog.merge([[], []], count: 10).isEmpty)
    }

    /// What the slow log keeps of a request's arguments, decoded.
    static func logged(_ args: RequestArguments) -> [[UInt8]] {
        var out: [UInt8] = []
        SlowLogWriter().append(args, to: &out)
        return SlowLog.decodeArguments(out)
    }

    static func logged(frame: [UInt8], writer: SlowLogWriter = SlowLogWriter()) -> [[UInt8]] {
        var out: [UInt8] = []
        frame.withUnsafeBytes { writer.append(frame: $0, to: &out) }
        return SlowLog.decodeArguments(out)
    }

    @Test("arguments are truncated as Redis does: 32 arguments, 128 bytes each")
    func truncation() {
        let many = ["DEL"] + (1...39).map { "k\($0)" }
        let args = OwnedRequest(many).withArguments { Self.logged($0) }
        #expect(args.count == 32)
        #expect(args[31] == Array("... (9 more arguments)".utf8))
        #expect(args[30] == Array("k30".utf8))
        let long = OwnedRequest(["SET", "k", String(repeating: "x", count: 200)]).withArguments { Self.logged($0) }
        #expect(long[2] == Array(String(repeating: "x", count: 128).utf8) + Array("... (72 more bytes)".utf8))
        let exact = OwnedRequest(["SET", "k", String(repeating: "x", count: 128)]).withArguments { Self.logged($0) }
        #expect(exact[2].count == 128)
        // The most a request can take: 40 arguments of 100,000 bytes.
        let huge = OwnedRequest(["SET"] + (1...39).map { String(repeating: "\($0 % 10)", count: 100_000) })
            .withArguments { Self.logged($0) }
        #expect(huge.count == 32)
        #expect(huge[5] == Array(String(repeating: "5", count: 128).utf8) + Array("... (99872 more bytes)".utf8))
        #expect(huge[31] == Array("... (9 more arguments)".utf8))
        let binary: [UInt8] = [0, 13, 10, 36, 42, 255]
        var frame = Array("*2\r\n$3\r\nGET\r\n$6\r\n".utf8)
        frame += binary + Array("\r\n".utf8)
        #expect(Self.logged(frame: frame) == [Array("GET".utf8), binary])
    }

    @Test("a request frame (multibulk or inline) gives its arguments; one writer serves many")
    func frames() {
        let writer = SlowLogWriter()
        let multibulk = RESPValueEncoder.command(["GET", "key"])
        #expect(Self.logged(frame: multibulk, writer: writer) == [Array("GET".utf8), Array("key".utf8)])
        #expect(Self.logged(frame: Array("*2\r\n$3\r\nGE".utf8), writer: writer).isEmpty)
        let inline = Array("PING hello\r\n".utf8)
        #expect(Self.logged(frame: inline, writer: writer) == [Array("PING".utf8), Array("hello".utf8)])
        #expect(Self.logged(frame: multibulk, writer: writer) == [Array("GET".utf8), Array("key".utf8)])
    }

    @Test("a full ring hands back the dropped entry's arguments buffer; entries keep theirs")
    func bufferReuse() {
        var log = SlowLog(capacity: 2)
        #expect(log.add(Self.entry(1)).isEmpty)
        #expect(log.add(Self.entry(2)).isEmpty)
        let dropped = log.add(SlowLogEntry(id: 3, timestamp: 0, durationMicros: 1, arguments: [Array("SET".utf8)],
                                           clientAddress: "", clientName: ""))
        #expect(SlowLog.decodeArguments(dropped) == [Array("GET".utf8)])
        #expect(log.newestFirst.map(\.arguments) == [[Array("SET".utf8)], [Array("GET".utf8)]])
        var off = SlowLog(capacity: 0)
        #expect(off.add(Self.entry(4)) == Self.entry(4).argumentsRESP)
    }

    @Test("SLOWLOG GET's reply has Redis's shape")
    func reply() {
        let bytes = SlowLog.reply([Self.entry(7)])
        #expect(String(decoding: bytes, as: UTF8.self)
                == "*1\r\n*6\r\n:7\r\n:1700000000\r\n:12\r\n*1\r\n$3\r\nGET\r\n$14\r\n127.0.0.1:5000\r\n$0\r\n\r\n")
    }

    @Test("names get stable numbers; past the capacity they share the overflow number")
    func registry() {
        let r = NameRegistry(capacity: 3, overflow: "other")
        #expect(r.index(for: "get") == 0)
        #expect(r.index(for: "set") == 1)
        #expect(r.index(for: "get") == 0)
        #expect(r.index(for: "del") == 2)
        #expect(r.index(for: "mget") == 2)
        #expect(r.names() == ["get", "set", "other"])
        #expect(CommandSpec(name: "GET", arity: 2).statsIndex == NameRegistry.commands.index(for: "get"))
    }
}
