// INFO and SLOWLOG, answered by the proxy about itself. INFO's sections and field names are
// Redis's (so dashboards and `redis-cli --stat` work): the numbers come from the metric table
// (Metrics/MetricTable) through MetricsCollector, the rest (version, pid, the cluster as the
// proxy sees it) is added here; the keyspace is every primary's, summed (+FanOut).
// SLOWLOG GET/LEN/RESET read the workers' slow logs (Worker+Metrics), merged by id.

import Glibc
import SlotProxyCore

extension ClientSession {
    // MARK: - INFO

    func info(_ args: RequestArguments) {
        let sections = InfoText.sections(requested: (1..<args.count).map { args.string($0) })
        let collector = MetricsCollector(context: worker.context)
        let text = InfoText.render(sections: sections, fixed: infoFields(sections, collector), snapshot: collector.snapshot())
        if sections.contains("keyspace") {
            // The dataset is the sum of every primary's keyspace.
            fanOut(RESPValueEncoder.command(["INFO", "keyspace"]), finish: .custom(.info(text)))
        } else {
            respond(infoReply(text))
        }
    }

    /// The INFO fields that are not metrics, by section (only the sections asked for).
    private func infoFields(_ sections: [String], _ collector: MetricsCollector) -> [String: [(String, String)]] {
        let context = worker.context
        let view = worker.view
        var fields: [String: [(String, String)]] = [:]
        if sections.contains("server") {
            let uptime = Int(MonotonicClock.seconds() - context.startedAt)
            var now = timeval()
            gettimeofday(&now, nil)
            fields["server"] = [
                ("redis_version", view.redisVersion),
                ("redis_mode", "standalone"),
                ("proxy", "slotproxy"),
                ("os", Self.operatingSystem),
                ("arch_bits", "\(Int.bitWidth)"),
                ("multiplexing_api", "libevent"),
                ("process_id", "\(getpid())"),
                ("run_id", Self.runID),
                ("tcp_port", "\(context.config.port)"),
                ("server_time_usec", "\(Int(now.tv_sec) * 1_000_000 + Int(now.tv_usec))"),
                ("uptime_in_days", "\(uptime / 86400)"),
                ("io_threads_active", "\(context.config.threads)"),
            ]
        }
        if sections.contains("memory") {
            let used = MetricsCollector.usedMemory()
            fields["memory"] = [
                ("used_memory_human", Self.humanBytes(used)),
                ("used_memory_rss", "\(MetricsCollector.residentMemory())"),
            ]
        }
        if sections.contains("replication") {
            fields["replication"] = [("role", "master"), ("connected_slaves", "0")]
        }
        if sections.contains("cpu") {
            var usage = rusage()
            getrusage(Int32(RUSAGE_SELF.rawValue), &usage)
            fields["cpu"] = [("used_cpu_sys", Self.seconds(usage.ru_stime)), ("used_cpu_user", Self.seconds(usage.ru_utime))]
        }
        if sections.contains("stats"), let counter = Self.allocationCounter {
            // Only under the test suite's preloaded counter (Tests/alloc-counter).
            fields["stats"] = [("allocations", "\(counter.pointee)")]
        }
        if sections.contains("cluster") {
            fields["cluster"] = [("cluster_enabled", "0")] + shardLines(view.slotMap, collector.linkStates())
        }
        return fields
    }

    /// `shard0:primary=127.0.0.1:7001,replicas=127.0.0.1:7004,slots=5461,connection=ready`, one per
    /// primary in the proxy's view; connection is the best state any worker's shared
    /// connection to the primary is in (ready, connecting, down, idle, or none).
    private func shardLines(_ map: SlotMap, _ states: [NodeAddress: Set<String>]) -> [(String, String)] {
        var slots = [Int](repeating: 0, count: map.primaries.count)
        for slot in 0..<HashSlot.count {
            if let owner = map.primaryIndex(for: HashSlot(rawValue: UInt16(slot))) { slots[Int(owner)] += 1 }
        }
        return map.primaries.enumerated().map { i, primary in
            let seen = states[primary] ?? []
            let state = ["ready", "connecting", "down", "idle"].first { seen.contains($0) } ?? "none"
            let replicas = map.replicas[i].map { "\($0)" }.joined(separator: " ")
            return ("shard\(i)", "primary=\(primary),replicas=\(replicas),slots=\(slots[i]),connection=\(state)")
        }
    }

    private static let operatingSystem: String = {
        var u = utsname()
        uname(&u)
        func field<T>(_ t: T) -> String {
            withUnsafeBytes(of: t) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        }
        return "\(field(u.sysname)) \(field(u.release)) \(field(u.machine))"
    }()

    /// 40 hex digits, new for each process, as Redis's run_id.
    private static let runID: String = (0..<40).map { _ in String(Int.random(in: 0..<16), radix: 16) }.joined()

    private static func seconds(_ t: timeval) -> String {
        let micros = Int(t.tv_usec)
        let padded = String(micros).count < 6 ? String(repeating: "0", count: 6 - String(micros).count) + String(micros) : String(micros)
        return "\(t.tv_sec).\(padded)"
    }

    /// Redis's bytesToHuman: 1.50K, 2.00M…
    static func humanBytes(_ n: Int) -> String {
        let units: [(Double, String)] = [(1024 * 1024 * 1024, "G"), (1024 * 1024, "M"), (1024, "K")]
        for (size, unit) in units where Double(n) >= size {
            return InfoText.twoDecimals(Double(n) / size) + unit
        }
        return "\(n)B"
    }

    // MARK: - SLOWLOG

    /// SLOWLOG GET [count]: the newest entries of every worker's slow log (10 by default, -1 all).
    func slowlogGet(_ args: RequestArguments) {
        var count = 10
        if args.count > 2 {
            guard let n = args.integer(2), n >= -1, n <= Int64(Int32.max) else {
                respondError("ERR count should be greater than or equal to -1")
                return
            }
            count = Int(n)
        }
        let entries = MetricsCollector(context: worker.context).slowlogEntries(count: count)
        respond(SlowLog.reply(entries))
    }

    func slowlogLen() {
        respond(RESPReply.integer(MetricsCollector(context: worker.context).slowlogLength()))
    }

    func slowlogReset() {
        MetricsCollector(context: worker.context).slowlogReset()
        respond(RESPReply.ok)
    }

    func slowlogHelp() {
        let lines = [
            "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "GET [<count>]",
            "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
            "    Entries are made of:",
            "    id, timestamp, time in microseconds, arguments array, client IP and port,",
            "    client name",
            "LEN",
            "    Return the length of the slowlog.",
            "RESET",
            "    Reset the slowlog.",
            "HELP",
            "    Print this help.",
        ]
        respond(RESPReply.arrayHeader(lines.count) + lines.flatMap { RESPReply.simple($0) })
    }
}
