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

    @Test("arguments are truncated as Redis does: 32 arguments, 128 bytes each")
    func truncation() {
        let many = ["DEL"] + (1...39).map { "k\($0)" }
        let args = OwnedRequest(many).withArguments { SlowLog.truncatedArguments($0) }
        #expect(args.count == 32)
        #expect(args[31] == Array("... (9 more arguments)".utf8))
        #expect(args[30] == Array("k30".utf8))
        let long = OwnedRequest(["SET", "k", String(repeating: "x", count: 200)]).withArguments { SlowLog.truncatedArguments($0) }
        #expect(long[2] == Array(String(repeating: "x", count: 128).utf8) + Array("... (72 more bytes)".utf8))
        let exact = OwnedRequest(["SET", "k", String(repeating: "x", count: 128)]).withArguments { SlowLog.truncatedArguments($0) }
        #expect(exact[2].count == 128)
    }

    @Test("a request frame (multibulk or inline) gives its arguments")
    func frames() {
        let multibulk = RESPValueEncoder.command(["GET", "key"])
        #expect(multibulk.withUnsafeBytes { SlowLog.truncatedArguments(frame: $0) } == [Array("GET".utf8), Array("key".utf8)])
        let inline = Array("PING hello\r\n".utf8)
        #expect(inline.withUnsafeBytes { SlowLog.truncatedArguments(frame: $0) } == [Array("PING".utf8), Array("hello".utf8)])
        #expect(Array("*2\r\n$3\r\nGE".utf8).withUnsafeBytes { SlowLog.truncatedArguments(frame: $0) }.isEmpty)
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
