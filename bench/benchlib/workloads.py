# What bench/run measures: the workload table, the redis-benchmark command line per target, one
# run with the proxy's CPU read around it, CSV parsing, medians, the preflight check and the
# memory test.
#
# redis-benchmark 7.0.15 facts this relies on (checked, see README): --cluster routes only via
# the {tag} placeholder (one fixed slot per primary); every __rand_int__ is replaced independently;
# --csv prints p50/p95/p99; any error reply makes it exit with status 1 (-e is a no-op).
import csv
import io
import random
import resource
import statistics
import subprocess
import time

from .common import CLIENTS, DATA_SIZE, KEYSPACE, MEMORY_CONNECTIONS, MSET_KEYS, VALUE, BenchError, log
from .processes import proc_cpu_seconds, proc_cpu_times, proc_rss_bytes
from .resp import Resp, call

# name, group (--only), label, pipeline, clients, kind, n (full), n (--quick)
# Each n is sized so one direct run takes ~1.5-3 s on this 2-core machine when it is quiet
# (2-3x longer under load; --max-minutes bounds the whole run).
WORKLOADS = [
    ("set_p1", "set", "SET P=1", 1, CLIENTS, "set", 120_000, 60_000),
    ("set_p16", "set", "SET P=16", 16, CLIENTS, "set", 600_000, 300_000),
    ("get_p1", "get", "GET P=1", 1, CLIENTS, "get", 150_000, 75_000),
    ("get_p16", "get", "GET P=16", 16, CLIENTS, "get", 1_000_000, 500_000),
    ("mset_p1", "mset", "MSET10 P=1", 1, CLIENTS, "mset", 50_000, 25_000),
    ("mset_p16", "mset", "MSET10 P=16", 16, CLIENTS, "mset", 80_000, 40_000),
    ("latency_get", "latency", "GET c=1 P=1", 1, 1, "get", 20_000, 10_000),
]
GROUPS = ["set", "get", "mset", "latency", "memory"]


class Target:
    """Something redis-benchmark is pointed at: direct cluster access or a proxy, over TCP or,
    with unix_path, over a Unix socket."""

    def __init__(self, name, port, cluster_mode, pid=None, unix_path=None):
        self.name, self.port, self.cluster_mode, self.pid = name, port, cluster_mode, pid
        self.unix_path = unix_path

    def connect(self, timeout=5.0):
        return Resp(self.port, timeout, self.unix_path)


def mset_args(cluster_mode):
    # Direct: all ten keys share redis-benchmark's per-node {tag}, so every MSET is single-slot.
    # Proxy: ten independent __rand_int__ keys, so (almost always) ten different slots.
    args = []
    for i in range(1, MSET_KEYS + 1):
        args += [f"k{i}:{{tag}}:__rand_int__" if cluster_mode else f"k{i}:__rand_int__", VALUE]
    return ["MSET"] + args


def benchmark_argv(target, kind, n, pipeline, clients):
    argv = ["redis-benchmark"] + (["-s", target.unix_path] if target.unix_path
                                  else ["-h", "127.0.0.1", "-p", str(target.port)])
    if target.cluster_mode:
        argv.append("--cluster")
    argv += ["-c", str(clients), "-d", str(DATA_SIZE), "-r", str(KEYSPACE), "-n", str(n),
             "-P", str(pipeline), "--csv"]
    if kind in ("set", "get"):
        argv += ["-t", kind]
    elif kind == "mset":
        argv += mset_args(target.cluster_mode)
    else:
        raise ValueError(kind)
    return argv


CURRENT_CHILD = []   # the redis-benchmark running now, killed by PID in the finally block


def parse_csv(stdout):
    """redis-benchmark 7.0 --csv: a header '"test","rps","avg_latency_ms","min_latency_ms",
    "p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"' then one row per test.
    In --cluster mode the cluster description is printed before it."""
    lines = stdout.splitlines()
    for i, line in enumerate(lines):
        if line.startswith('"test","rps"'):
            rows = list(csv.reader(io.StringIO("\n".join(lines[i:]))))
            header, values = rows[0], rows[1]
            out = {}
            for h, v in zip(header[1:], values[1:]):
                out[h] = float(v)
            return out
    raise BenchError("no CSV header in redis-benchmark output:\n" + stdout[-1000:])


def children_cpu_seconds():
    # redis-benchmark's own CPU: it is the only child waited for between two readings.
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def nodes_cpu_seconds(pids):
    times = [proc_cpu_seconds(p) for p in pids]
    return None if not pids or any(t is None for t in times) else sum(times)


def run_one(target, wl, n, timeout, node_pids=()):
    name, _, _, pipeline, clients, kind, _, _ = wl
    argv = benchmark_argv(target, kind, n, pipeline, clients)
    cpu0 = proc_cpu_times(target.pid) if target.pid else None
    nodes0, bench0 = nodes_cpu_seconds(node_pids), children_cpu_seconds()
    t0 = time.monotonic()
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    CURRENT_CHILD.append(p)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()
        return {"error": f"timeout after {timeout}s"}
    finally:
        CURRENT_CHILD.remove(p)
    wall = time.monotonic() - t0
    cpu1 = proc_cpu_times(target.pid) if target.pid else None
    nodes1, bench1 = nodes_cpu_seconds(node_pids), children_cpu_seconds()
    if p.returncode != 0:
        # 7.0.15 exits with status 1 at the first error reply (-e is a no-op there) and says
        # "Error from server: ..." on stderr.
        lines = [l for l in (err + out).splitlines() if l.strip()]
        errs = [l for l in lines if "Error" in l]
        msg = (errs or lines or ["no output"])[0][:200]
        return {"error": f"redis-benchmark exit {p.returncode}: {msg}"}
    res = parse_csv(out)
    r = {"rps": res["rps"], "avg_ms": res["avg_latency_ms"], "p50_ms": res["p50_latency_ms"],
         "p95_ms": res["p95_latency_ms"], "p99_ms": res["p99_latency_ms"], "max_ms": res["max_latency_ms"],
         "requests": n, "wall_s": round(wall, 3)}
    errors = [l for l in out.splitlines() if l.startswith("Error from server")]
    if errors:
        r["error"] = "server errors: " + errors[0][:200]
    if cpu0 is not None and cpu1 is not None:
        user, system = cpu1[0] - cpu0[0], cpu1[1] - cpu0[1]
        r["cpu_user_s"], r["cpu_sys_s"] = round(user, 3), round(system, 3)
        r["cpu_us_per_req"] = (user + system) * 1e6 / n
    # Where the machine's CPU went: on two shared vCPUs every process competes for the same
    # cores, so req/s follows the sum (see docs/PERFORMANCE.md, "CPU per request").
    r["bench_cpu_us_per_req"] = (bench1 - bench0) * 1e6 / n
    if nodes0 is not None and nodes1 is not None:
        r["nodes_cpu_us_per_req"] = (nodes1 - nodes0) * 1e6 / n
    return r


def median_of(runs):
    good = [r for r in runs if "error" not in r]
    if not good:
        return {"error": runs[-1].get("error", "no runs") if runs else "not run"}
    m = {"runs_ok": len(good), "runs": len(runs)}
    for k in ("rps", "avg_ms", "p50_ms", "p95_ms", "p99_ms", "max_ms", "cpu_us_per_req",
              "bench_cpu_us_per_req", "nodes_cpu_us_per_req"):
        vals = [r[k] for r in good if k in r]
        if vals:
            m[k] = statistics.median(vals)
    return m


def preflight(target, direct_port):
    """Check that SET/GET/10-key MSET work through a proxy (and the values land in the cluster),
    so a proxy answering errors quickly is not mistaken for a fast one."""
    problems = []
    c = target.connect()
    try:
        r = c.call("SET", "bench:pf:a", "1")
        if r != "OK":
            problems.append(f"SET -> {r}")
        r = c.call("GET", "bench:pf:a")
        if r != b"1":
            problems.append(f"GET -> {r!r}")
        args = []
        for i in range(MSET_KEYS):
            args += [f"bench:pf:m{i}:{random.randrange(KEYSPACE)}", f"v{i}"]
        r = c.call("MSET", *args)
        if r != "OK":
            problems.append(f"MSET of {MSET_KEYS} keys in different slots -> {r}")
        else:
            # Read one back straight from the cluster (redis-cli -c follows MOVED).
            got = subprocess.run(["redis-cli", "-c", "-p", str(direct_port), "GET", args[-2]],
                                 stdout=subprocess.PIPE, text=True, timeout=10).stdout.strip()
            if got != args[-1]:
                problems.append(f"MSET value not found in the cluster ({args[-2]} -> {got!r})")
    finally:
        c.close()
    return problems


# ---------------------------------------------------------------- memory test

def memory_test(target):
    """RSS idle (fresh proxy), then over a round of MEMORY_CONNECTIONS clients that each sent PING
    and read PONG: before them, with them, and after they closed. A first, unmeasured round
    comes before: the first clients ever also fill holes that start-up left in the heap, which
    would make a connection look cheaper than it is. The proxy returns freed memory to the system
    after a burst of clients left (ProcessMemory), within its 1 s tick, hence the waits."""
    pid = target.pid
    idle = proc_rss_bytes(pid)
    _connection_round(target)
    time.sleep(1.5)
    before = proc_rss_bytes(pid)
    loaded = _connection_round(target)
    time.sleep(1.5)
    after = proc_rss_bytes(pid)
    return {"rss_idle_bytes": idle, "rss_before_round_bytes": before, "rss_1000_bytes": loaded,
            "rss_after_close_bytes": after, "connections": MEMORY_CONNECTIONS,
            "rss_per_connection_bytes": (loaded - before) / MEMORY_CONNECTIONS}


def _connection_round(target):
    """Opens MEMORY_CONNECTIONS clients, each PINGs; returns RSS while all are open; closes them."""
    conns = []
    try:
        for _ in range(MEMORY_CONNECTIONS):
            c = target.connect(timeout=10)
            conns.append(c)
            r = c.call("PING")
            if r != "PONG":
                raise BenchError(f"PING on connection {len(conns)} -> {r}")
        time.sleep(0.5)
        return proc_rss_bytes(target.pid)
    finally:
        for c in conns:
            c.close()


def idle_after_workloads(target, seconds=2.0):
    """RSS after all workloads, and CPU while nobody talks to the proxy (% of one core): an event
    loop that polls or ticks on a timer shows up here."""
    cpu0, t0 = proc_cpu_seconds(target.pid), time.monotonic()
    time.sleep(seconds)
    cpu = 100 * (proc_cpu_seconds(target.pid) - cpu0) / (time.monotonic() - t0)
    return {"rss_after_workloads_bytes": proc_rss_bytes(target.pid), "idle_cpu_percent": round(cpu, 2)}


def discover_direct_tags(cluster):
    """redis-benchmark --cluster (7.0) substitutes {tag} with ONE fixed hash tag per primary
    (node->slots[current_slot_index], index 0 unless a MOVED makes it refetch), so direct SETs
    and GETs use keys key:{TAG}:NNNNNNNNNNNN. Learn those prefixes with a tiny SET run (-r 1)."""
    cluster.flushall()
    argv = ["redis-benchmark", "-h", "127.0.0.1", "-p", str(cluster.base), "--cluster", "-c", "6",
            "-n", "600", "-r", "1", "-d", str(DATA_SIZE), "-t", "set", "--csv"]
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
    if r.returncode != 0:
        raise BenchError(f"redis-benchmark --cluster probe failed: {r.stderr[-500:]}")
    prefixes = []
    for p in cluster.primaries:
        keys = call(p, "KEYS", "key:*")
        for k in keys:
            prefixes.append(k[:-12])   # strip the 12-digit __rand_int__
    cluster.flushall()
    if len(prefixes) != len(cluster.primaries):
        log(f"warning: expected one direct key prefix per primary, found {prefixes}")
    return prefixes


def preload(cluster, direct_prefixes, with_proxy):
    keys = []
    for i in range(KEYSPACE):
        if with_proxy:
            keys.append(b"key:%012d" % i)
        for pfx in direct_prefixes:
            keys.append(pfx + b"%012d" % i)
    cluster.pipe_sets(keys)
