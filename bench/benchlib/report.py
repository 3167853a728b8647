# bench/run's output: the machine description, the plain-text table (one row per workload, one
# column group per proxy), the latency and memory lines.
import os
import platform
import subprocess

from .common import CLIENTS, DATA_SIZE, KEYSPACE, REPO


def machine_info(proxy_bin):
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass

    def out(argv):
        try:
            return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                  timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return "?"
    # The last commit that changed the proxy's sources (not a merge of unrelated work on top).
    commit = out(["git", "-C", REPO, "log", "-1", "--format=%h", "--", "Sources", "Package.swift"]) or "?"
    if out(["git", "-C", REPO, "status", "--porcelain", "--", "Sources", "Package.swift"]):
        commit += "+dirty"
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_model": model,
        "kernel": platform.release(),
        "loadavg_at_start": os.getloadavg(),
        "redis_server": out(["redis-server", "--version"]),
        "redis_benchmark": out(["redis-benchmark", "--version"]),
        "proxy_commit": commit,
        "repo_head": out(["git", "-C", REPO, "rev-parse", "--short=12", "HEAD"]) or "?",
        "proxy_bin": proxy_bin,
    }


def fmt_rps(m):
    return "ERR" if "error" in m else f"{m['rps']:,.0f}"


def fmt_lat(m):
    return "-" if "error" in m else f"{m['p50_ms']:.3f}/{m['p99_ms']:.3f}"


def fmt_cpu(m):
    return "-" if "error" in m or "cpu_us_per_req" not in m else f"{m['cpu_us_per_req']:.1f}"


def render_table(rows):
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for j, r in enumerate(rows):
        cells = [r[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(r[1:], widths[1:])]
        lines.append("  ".join(cells))
        if j == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def cpu_split(m, with_proxy):
    """'bench + nodes [+ proxy] = total' in us of CPU per request, or '-'."""
    keys = ["bench_cpu_us_per_req", "nodes_cpu_us_per_req"] + (["cpu_us_per_req"] if with_proxy else [])
    if "error" in m or any(k not in m for k in keys):
        return "-"
    parts = [m[k] for k in keys]
    return " + ".join(f"{p:.1f}" for p in parts) + f" = {sum(parts):.1f}"


def cpu_table(results, targets, workloads):
    """CPU per request of every process the workload runs on (redis-benchmark, the six cluster
    nodes, the proxy): on a machine whose cores they all share, req/s follows this total."""
    header = ["CPU us/req"] + [f"{t.name}: bench + nodes" + ("" if t.cluster_mode else " + proxy") + " = total"
                               for t in targets]
    rows = [header]
    for wl in workloads:
        w = results["workloads"].get(wl[0])
        if not w:
            continue
        rows.append([wl[2]] + [cpu_split(w["targets"][t.name]["median"], not t.cluster_mode) for t in targets])
    return render_table(rows)


def report(results, targets, workloads):
    proxies = [t for t in targets if not t.cluster_mode]
    header = ["workload", "direct req/s"]
    for t in proxies:
        header += [f"{t.name} req/s", f"{t.name}/direct"]
    header.append("direct p50/p99 ms")
    for t in proxies:
        header += [f"{t.name} p50/p99 ms", f"{t.name} CPU us/req"]
    rows = [header]
    for wl in workloads:
        w = results["workloads"].get(wl[0])
        if not w:
            continue
        d = w["targets"]["direct"]["median"]
        row = [wl[2], fmt_rps(d)]
        for t in proxies:
            m = w["targets"][t.name]["median"]
            ratio = "-" if "error" in m or "error" in d else f"{m['rps'] / d['rps']:.2f}"
            row += [fmt_rps(m), ratio]
        row.append(fmt_lat(d))
        for t in proxies:
            m = w["targets"][t.name]["median"]
            row += [fmt_lat(m), fmt_cpu(m)]
        rows.append(row)
    lines = [render_table(rows), "", cpu_table(results, targets, workloads), ""]

    errs = []
    for wl in workloads:
        w = results["workloads"].get(wl[0])
        if not w:
            continue
        for tname, tv in w["targets"].items():
            for i, r in enumerate(tv["runs"]):
                if "error" in r:
                    errs.append(f"  {wl[2]} {tname} run {i + 1}: {r['error']}")
    if errs:
        lines.append("errors:")
        lines += errs

    lat = results["workloads"].get("latency_get")
    if lat:
        d = lat["targets"]["direct"]["median"]
        for t in proxies:
            m = lat["targets"][t.name]["median"]
            if "error" in d or "error" in m:
                lines.append(f"latency GET -c 1 -P 1: {t.name} or direct failed")
                continue
            lines.append(f"latency GET -c 1 -P 1: p50 direct {d['p50_ms'] * 1000:.0f} us, "
                         f"{t.name} {m['p50_ms'] * 1000:.0f} us, overhead {(m['p50_ms'] - d['p50_ms']) * 1000:+.0f} us "
                         f"(p99 direct {d['p99_ms'] * 1000:.0f} us, {t.name} {m['p99_ms'] * 1000:.0f} us)")
    for name, mem in results.get("memory", {}).items():
        if "error" in mem:
            lines.append(f"memory {name}: {mem['error']}")
            continue
        mib = 1024 * 1024
        line = f"memory {name}: RSS idle {mem.get('rss_idle_bytes', mem['rss_at_start_bytes']) / mib:.1f} MiB"
        if "rss_1000_bytes" in mem:
            # Older --json files have no second round: their per-connection figure is over idle.
            before = mem.get("rss_before_round_bytes")
            line += ((f"; {mem['connections']} clients: before {before / mib:.1f} MiB" if before is not None
                      else f", with {mem['connections']} clients")
                     + f", with them {mem['rss_1000_bytes'] / mib:.1f} MiB "
                     f"= {mem['rss_per_connection_bytes']:,.0f} bytes per connection, "
                     f"after they closed {mem['rss_after_close_bytes'] / mib:.1f} MiB")
        if "rss_after_workloads_bytes" in mem:
            line += (f"; after the workloads {mem['rss_after_workloads_bytes'] / mib:.1f} MiB, "
                     f"idle CPU {mem['idle_cpu_percent']:.1f}% of a core")
        lines.append(line)
    m = results["machine"]
    floor = m.get("loopback_floor") or {}
    if "tcp_pair_us" in floor and "unix_pair_us" in floor:
        lines.append(f"floor: a 64-byte write and the read that takes it, one thread, no wakeup "
                     f"(bench/loopback_floor.c): loopback TCP {floor['tcp_pair_us']:.1f} us, Unix socket "
                     f"{floor['unix_pair_us']:.1f} us; a proxy pays one such pair per client request at P=1")
    lines.append(f"machine: nproc {m['nproc']}, {m['cpu_model']}, kernel {m['kernel']}, "
                 f"load at start {m['loadavg_at_start'][0]:.2f}")
    lines.append(f"software: {m['redis_server']}; proxy commit {m['proxy_commit']}; "
                 f"proxy threads {results['config']['threads'] or 'default'}")
    c = results["config"]
    lines.append(f"runs: {c['repeats_done']} of {c['repeats']} repeat(s), medians shown; "
                 f"-c {CLIENTS} -d {DATA_SIZE} -r {KEYSPACE}; {c['elapsed_s']:.0f} s total")
    return "\n".join(lines)
