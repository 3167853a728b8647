// swift-tools-version:6.0
//
// slotproxy: a Redis Cluster routing proxy. The package reads as the request path:
//   CLibevent        the C shim over libevent (system library)
//   CEventMemory     where libevent's small allocations live (memory returned when clients leave)
//   SlotProxyCore    pure Swift, no I/O: RESP, command table, slots, topology, routing, config
//   SlotProxyServer  the thin libevent layer: workers, client sessions, backend connections
//   slotproxy        the executable: command line, config, start, signals
import PackageDescription

let package = Package(
    name: "slotproxy",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "slotproxy", targets: ["slotproxy"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        .systemLibrary(
            name: "CLibevent",
            pkgConfig: "libevent",
            providers: [.apt(["libevent-dev"])]
        ),
        // libevent's small allocations in a region of their own (see event_memory.c).
        .target(name: "CEventMemory", dependencies: ["CLibevent"]),
        .target(
            name: "SlotProxyCore",
            swiftSettings: [.unsafeFlags(["-enforce-exclusivity=unchecked"])]
        ),
        .target(
            name: "SlotProxyServer",
            dependencies: [
                "CLibevent",
                "CEventMemory",
                "SlotProxyCore",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: [
                .swiftLanguageMode(.v5),
                .unsafeFlags(["-enforce-exclusivity=unchecked"]),
            ]
        ),
        .executableTarget(
            name: "slotproxy",
            dependencies: [
                "SlotProxyServer",
                "SlotProxyCore",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: [.swiftLanguageMode(.v5)]
        ),
        .testTarget(
            name: "SlotProxyCoreTests",
            dependencies: ["SlotProxyCore"]
        ),
        .testTarget(
            name: "CEventMemoryTests",
            dependencies: ["CEventMemory"]
        ),

        // Fuzzing (docs/HARDENING.md, scripts/fuzz): the harnesses live in SlotProxyFuzz, one
        // executable per entry point. Built plainly they replay inputs given as arguments; built
        // with `-Xswiftc -sanitize=fuzzer,address --product Fuzz…` they run libFuzzer.
        .target(name: "CFuzzDriver", path: "Tests/fuzz/CFuzzDriver"),
        .target(name: "SlotProxyFuzz", dependencies: ["SlotProxyCore", "CFuzzDriver"], path: "Tests/fuzz/SlotProxyFuzz"),
        .executableTarget(name: "FuzzRequestParser", dependencies: ["SlotProxyFuzz"], path: "Tests/fuzz/FuzzRequestParser"),
        .executableTarget(name: "FuzzReplyParser", dependencies: ["SlotProxyFuzz"], path: "Tests/fuzz/FuzzReplyParser"),
        .executableTarget(name: "FuzzKeyExtraction", dependencies: ["SlotProxyFuzz"], path: "Tests/fuzz/FuzzKeyExtraction"),
        .executableTarget(name: "FuzzSplitPlan", dependencies: ["SlotProxyFuzz"], path: "Tests/fuzz/FuzzSplitPlan"),
        .testTarget(
            name: "SlotProxyFuzzTests",
            dependencies: ["SlotProxyFuzz", "SlotProxyCore"]
        ),
    ]
)
