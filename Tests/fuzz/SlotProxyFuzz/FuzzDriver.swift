// The main of every fuzz executable: libFuzzer when the executable was linked with it
// (`-Xswiftc -sanitize=fuzzer,address`), otherwise a replay of the files and directories named
// on the command line through the same harness, so a plain build can rerun a corpus or a crash.
//
//   Fuzz<Target> main.swift ──▶ FuzzDriver.main ──▶ LLVMFuzzerRunDriver (fuzzer build)
//                                              └──▶ replay each input file (plain build)

import CFuzzDriver

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public enum FuzzDriver {
    /// Runs libFuzzer with the process's arguments when it is linked in; otherwise replays every
    /// file (and every file in every directory) named on the command line through `harness`.
    /// - Parameters:
    ///   - name: the executable's name, for messages.
    ///   - harness: the target's check of one input; it stops the process when an invariant fails.
    ///   - callback: the same harness as a C function, for libFuzzer.
    public static func main(name: String, harness: (UnsafeRawBufferPointer) -> Void,
                            callback: slotproxy_fuzz_callback) -> Never {
        var argc = CommandLine.argc
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
        let status = slotproxy_fuzz_run_driver(&argc, &argv, callback)
        if status >= 0 { exit(status) }

        let paths = CommandLine.arguments.dropFirst().filter { !$0.hasPrefix("-") }
        if paths.isEmpty {
            print("\(name): built without libFuzzer; replays inputs: \(name) FILE|DIR …")
            print("  fuzz with: swift build -c debug -Xswiftc -sanitize=fuzzer,address --product \(name)")
            exit(0)
        }
        var count = 0
        for path in paths {
            for file in files(at: path) {
                guard let bytes = readFile(file) else {
                    print("\(name): cannot read \(file)")
                    exit(2)
                }
                bytes.withUnsafeBytes { harness($0) }
                count += 1
            }
        }
        print("\(name): \(count) inputs replayed, every invariant held")
        exit(0)
    }

    /// The regular files at `path`: itself, or the files directly inside it, sorted.
    public static func files(at path: String) -> [String] {
        guard let dir = opendir(path) else { return [path] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name.hasPrefix(".") { continue }
            var info = stat()
            let full = path.hasSuffix("/") ? path + name : path + "/" + name
            if stat(full, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG { names.append(full) }
        }
        return names.sorted()
    }

    /// The whole content of a file, or nil when it cannot be read.
    public static func readFile(_ path: String) -> [UInt8]? {
        guard let f = fopen(path, "rb") else { return nil }
        defer { fclose(f) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, f) }
            if n > 0 { bytes.append(contentsOf: chunk[0..<n]) }
            if n < chunk.count { break }
        }
        return ferror(f) == 0 ? bytes : nil
    }
}
