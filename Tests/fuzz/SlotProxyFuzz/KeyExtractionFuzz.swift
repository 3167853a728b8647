// Fuzz harness of command resolution and key extraction over the committed command table
// (CommandTable.snapshot: Redis 7.0's COMMAND reply): CommandTable.resolve, CommandSpec.forEachKey
// (key specs, and Redis's own finders for SORT and MIGRATE) and CommandSpec.keySlot.
//
//   input ──RequestParser──▶ each request ─────────────────────────┐
//   input ──bytes 0-1 pick any command or subcommand of the table,  ├─▶ resolve ─▶ keys ─▶ slot
//           the rest split at spaces are its arguments ─────────────┘
//
// Checked: a command's own name resolves to it (any letter case) unless the argument count
// does not fit; keys are real argument positions; the keys of not_key specs come on top of
// the others; keySlot agrees with the keys; error texts are one line.

import SlotProxyCore

public enum KeyExtractionFuzz {
    static let table = CommandTable.snapshot
    /// Every command and subcommand of the table.
    static let specs: [CommandSpec] = table.commands.flatMap { [$0] + $0.subcommands }

    /// Checks one input; stops the process when an invariant fails.
    public static func run(_ data: UnsafeRawBufferPointer) {
        // 1. The input as a client's requests.
        var frames = 0
        _ = parseAll(data, RequestParser()) { args in
            // A few requests per input are plenty, and keep every input fast.
            frames += 1
            if frames <= 16 { check(args, expected: nil) }
        }

        // 2. The input as the arguments of a command chosen by its first two bytes.
        guard data.count >= 2 else { return }
        let spec = specs[(Int(data[0]) << 8 | Int(data[1])) % specs.count]
        var name = Array(spec.name.utf8)
        // Upper-case some letters: names are matched ignoring ASCII case.
        for i in name.indices where (data[i % data.count] >> (i % 8)) & 1 == 1 && name[i] >= 97 && name[i] <= 122 {
            name[i] -= 32
        }
        var arguments: [[UInt8]] = name.split(separator: UInt8(ascii: "|")).map(Array.init)
        arguments += data[2...].split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false).map(Array.init)
        OwnedRequest(bytes: arguments).withArguments { args in
            check(args, expected: spec)
        }
    }

    /// Resolves one request and checks what its keys are.
    /// - Parameter expected: the command the request was built for, if any.
    static func check(_ args: RequestArguments, expected: CommandSpec?) {
        let resolution = table.resolve(args)
        switch resolution {
        case .command(let spec):
            expect(spec.accepts(argumentCount: args.count), "\(spec.name) resolved with \(args.count) arguments")
            if let expected {
                // A container named with an argument 1 that happens to be one of its subcommands.
                let viaContainer = expected.isContainer && spec.containerName == expected.name
                expect(spec === expected || viaContainer, "\(expected.name) resolved as \(spec.name)")
            }
            checkKeys(args, spec)
        case .wrongArity(let error):
            expect(isOneLine(error), "arity error text spans lines")
            if let expected, !expected.isContainer {
                expect(!expected.accepts(argumentCount: args.count), "\(expected.name) refused with \(args.count) arguments")
            }
        case .unknownCommand(let error):
            expect(isOneLine(error), "unknown command text spans lines")
            expect(expected == nil, "\(expected?.name ?? "") is unknown to its own table")
        case .unknownSubcommand(let error):
            expect(isOneLine(error), "unknown subcommand text spans lines")
            expect(expected == nil || expected!.isContainer, "\(expected?.name ?? "") has no subcommands")
        }
    }

    private static func checkKeys(_ args: RequestArguments, _ spec: CommandSpec) {
        var keys: [Int] = []
        let extraction = spec.forEachKey(in: args) { keys.append($0) }
        var all: [(index: Int, flags: KeySpecFlags)] = []
        let extractionAll = spec.forEachKey(in: args, includingNotKeys: true) { all.append(($0, $1)) }

        if extraction == .ok {
            for k in keys { expect(k >= 1 && k < args.count, "\(spec.name): key index \(k) of \(args.count) arguments") }
        }
        if extractionAll == .ok {
            for k in all { expect(k.index >= 1 && k.index < args.count, "\(spec.name): key index \(k.index) of \(args.count) arguments") }
        }
        if extraction == .ok && extractionAll == .ok {
            let keysOnly = all.filter { !$0.flags.contains(.notKey) }.map(\.index)
            expect(keysOnly == keys, "\(spec.name): keys \(keys), with not_key specs \(all.map(\.index))")
        }

        let slot = spec.keySlot(in: args)
        if extraction == .invalid {
            expect(slot == .invalid, "\(spec.name): keySlot \(slot) for an invalid extraction")
            return
        }
        let slots = Set(keys.map { HashSlot(key: args[$0]) })
        switch slots.count {
        case 0: expect(slot == .none, "\(spec.name): keySlot \(slot) without keys")
        case 1: expect(slot == .single(slots.first!), "\(spec.name): keySlot \(slot), keys in \(slots)")
        default: expect(slot == .crossSlot, "\(spec.name): keySlot \(slot), keys in \(slots)")
        }
    }

    private static func isOneLine(_ text: String) -> Bool {
        !text.utf8.contains(13) && !text.utf8.contains(10)
    }
}
