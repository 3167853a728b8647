"""Topology tests: where reads go (`read-from`), how replica reads follow a failover, and a cluster
whose nodes announce host names.

Each node's `INFO commandstats` (calls actually executed, asked of the node directly) says which
node served what, so routing is checked on the nodes themselves, not inferred from replies. Keys a
test reads are written and replicated before the proxy starts (checked on each replica, READONLY +
EXISTS), and the proxy starts only once every node's CLUSTER SHARDS lists every replica as
"online": Redis reports a replica whose replication offset is still 0 as "loading", and the proxy
leaves such replicas out of its routing.

  test_read_from_routes_reads[MODE]      the session's cluster (it only reads, and writes keys of its
                                         own): a proxy with --read-from MODE, 300 GETs (RESP2 and
                                         RESP3), then MGETs, then SETs: with replica and
                                         prefer-replica each replica executes exactly the GETs of its
                                         shard's keys and no primary executes any, with primary the
                                         reverse; MGET parts follow the same rule; every SET lands on
                                         the primary owning its slot.
  test_read_from_replica_dead_replica    own cluster, --read-from replica --failover-hold-ms 3000:
                                         kill -9 a replica while readers GET keys of every shard.
                                         Its shard's reads are held until the cluster flags the
                                         replica FAIL (2.4-3.3 s here) and the proxy drops it, then
                                         served by the primary (a shard without a healthy replica
                                         reads from its primary); a read held past the 3 s (FAIL
                                         came late) gets the clear "no replica ... could be reached"
                                         error, nothing else does; other shards never see an error;
                                         a second proxy with a 0.5 s hold answers that error after
                                         0.5 s. The replica restarted, reads go back to it. Timings
                                         are printed.
  test_read_from_replica_kill_primary    own cluster, --read-from replica: kill -9 a primary under a
                                         read/write load (SET + GET of own keys, GET and MGET of
                                         replicated keys): zero errors, every read right, the
                                         promoted replica (now without a replica) serves its shard's
                                         reads, the other primaries never serve a GET.
  test_hostname_endpoints                own cluster from `scripts/cluster start --announce-hostname
                                         localhost`: CLUSTER SHARDS names every node `localhost`,
                                         MOVED too; a proxy seeded with one `localhost:<port>` (a
                                         replica) serves SET/GET on every primary's keys, and
                                         follows a hand-made slot migration (ASK, then MOVED naming
                                         localhost) and a redis-cli reshard under load with zero
                                         errors (--topology-refresh-ms 0, so the redirections are
                                         really taken).

Everything started is stopped by PID (fixtures and scripts/cluster); every wait has a deadline.
"""

from __future__ import annotations

import re
import subprocess
import threading
import time
from dataclasses import dataclass, field

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from support import (
    REPO,
    ClientLoad,
    Cluster,
    ConnectionClosed,
    ErrorReply,
    RawConnection,
    free_cluster_base,
    key_in_slot,
    key_slot,
    migrate_slot,
    node_command,
    node_role,
    replica_linked,
    wait_for,
)

HOLD_MS = 3000               # --failover-hold-ms of the dead-replica test
PROMOTION_TIMEOUT = 30.0
# redis-py drops the "CLUSTERDOWN " code from the text (ClusterDownError says it).
HOLD_EXPIRED = re.compile(r"ClusterDownError: slotproxy: no replica of \S+ \(slot \d+\) could be reached "
                          r"within failover-hold-ms \(read-from replica\)$")
PRIMARY_HOLD_EXPIRED = re.compile(r"ClusterDownError: slotproxy: the primary for slot \d+ \(\S+\) could not be "
                                  r"reached within failover-hold-ms$")
STATS = ("redirections", "retries", "held_requests", "topology_refreshes", "failovers_detected")


# MARK: - Reading the nodes


def commandstats(port: int) -> dict[str, int]:
    """calls= of every command the node executed (INFO commandstats), by lower-case name."""
    info = node_command(port, "INFO", "commandstats")
    assert isinstance(info, bytes) and not isinstance(info, ErrorReply), f"INFO commandstats on {port}: {info!r}"
    out = {}
    for line in info.decode().splitlines():
        m = re.match(r"cmdstat_([^:]+):calls=(\d+)", line)
        if m:
            out[m.group(1)] = int(m.group(2))
    return out


def calls(snapshots: dict[int, dict[str, int]], port: int, *commands: str) -> int:
    return sum(snapshots[port].get(c, 0) for c in commands)


def delta(before: dict, after: dict, port: int, *commands: str) -> int:
    return calls(after, port, *commands) - calls(before, port, *commands)


def snapshot(ports) -> dict[int, dict[str, int]]:
    return {port: commandstats(port) for port in ports}


def cluster_shards(port: int) -> list[tuple[list[int], list[dict]]]:
    """CLUSTER SHARDS as `port` sees it: (slot bounds, node field dicts with str values)."""
    reply = node_command(port, "CLUSTER", "SHARDS")
    assert isinstance(reply, list), f"CLUSTER SHARDS on {port}: {reply!r}"
    out = []
    for shard in reply:
        fields = dict(zip(shard[::2], shard[1::2]))
        nodes = [{k.decode(): (v.decode() if isinstance(v, bytes) else v) for k, v in zip(n[::2], n[1::2])}
                 for n in fields[b"nodes"]]
        out.append((fields[b"slots"], nodes))
    return out


def health_of(port: int, via: int) -> str | None:
    for _, nodes in cluster_shards(via):
        for n in nodes:
            if n["port"] == port:
                return n["health"]
    return None


def replicas_online(ports: list[int], replicas: int = 3) -> bool:
    """Every node lists `replicas` replicas, all "online" (not "loading": offset 0 not gossiped yet)."""
    for port in ports:
        listed = [n for _, nodes in cluster_shards(port) for n in nodes if n["role"] == "replica"]
        if len(listed) != replicas or any(n["health"] != "online" for n in listed):
            return False
    return True


def replicated(replica: int, keys: list[str]) -> bool:
    """True when the replica holds every key (READONLY + EXISTS: no GET is counted there)."""
    with RawConnection(replica, timeout=3) as conn:
        if conn.command("READONLY") != b"OK":
            return False
        return all(conn.command("EXISTS", k) == 1 for k in keys)


def write_and_replicate(cluster: Cluster, keys: list[str], value) -> dict[int, int]:
    """SETs each key on the primary owning it, waits until every replica has them and every node
    lists every replica online. Returns primary -> its replica."""
    pairs = {p: cluster.replica_of(p) for p in cluster.primaries()}
    for k in keys:
        assert cluster.node(cluster.owner_of_key(k)).set(k, value(k))
    for primary, replica in pairs.items():
        mine = [k for k in keys if cluster.owner_of_key(k) == primary]
        wait_for(lambda: replicated(replica, mine), 20, f"replica {replica} has the keys of {primary}")
    wait_for(lambda: replicas_online(cluster.ports), 40, "every node lists every replica online")
    return pairs


def keys_over_slots(n: int, label: str) -> list[str]:
    """n keys spread evenly over all slots (so over every shard)."""
    return [key_in_slot((37 + i * (16384 // n)) % 16384, f":{label}:{i}") for i in range(n)]


def proxy_counters(proxy) -> str:
    try:
        stats = proxy.stats()
        return ", ".join(f"{name}={stats.get(name, '?')}" for name in STATS)
    except (OSError, ConnectionClosed) as e:
        return f"(INFO stats failed: {e})"


# MARK: - read-from: where reads go


@pytest.mark.timeout(120)
@pytest.mark.parametrize("mode", ["replica", "prefer-replica", "primary"])
def test_read_from_routes_reads(cluster, start_proxy, run_id, mode):
    keys = keys_over_slots(30, f"readfrom:{mode}:{run_id}")
    value = lambda k: f"v0:{k}".encode()
    pairs = write_and_replicate(cluster, keys, value)
    owner = {k: cluster.owner_of_key(k) for k in keys}
    proxy = start_proxy(["--read-from", mode])
    to_replicas = mode != "primary"
    serving = {p: (r if to_replicas else p) for p, r in pairs.items()}
    idle = {p: (p if to_replicas else r) for p, r in pairs.items()}

    c2 = redis.Redis(host="127.0.0.1", port=proxy.port, protocol=2, socket_timeout=10)
    c3 = redis.Redis(host="127.0.0.1", port=proxy.port, protocol=3, socket_timeout=10)
    try:
        # 300 GETs, half RESP2, half RESP3 (each protocol has its own backend connections).
        expected = {p: 0 for p in pairs}
        s0 = snapshot(cluster.ports)
        for i in range(300):
            k = keys[i % len(keys)]
            assert (c2 if i % 2 else c3).get(k) == value(k), f"GET {k} through the proxy"
            expected[owner[k]] += 1
        s1 = snapshot(cluster.ports)
        gets = {port: delta(s0, s1, port, "get") for port in cluster.ports}
        print(f"\nread-from {mode}: GETs executed per node {gets}")
        for primary in pairs:
            assert gets[serving[primary]] == expected[primary], \
                f"{serving[primary]} should have served the {expected[primary]} GETs of {primary}'s shard: {gets}"
            assert gets[idle[primary]] == 0, f"{idle[primary]} should have served no GET: {gets}"

        # MGETs over three shards: split per slot, every part a read.
        for i in range(10):
            ks = keys[i::10]
            assert (c3 if i % 2 else c2).mget(ks) == [value(k) for k in ks]
        s2 = snapshot(cluster.ports)
        reads = {port: delta(s1, s2, port, "get", "mget") for port in cluster.ports}
        print(f"read-from {mode}: MGET parts (get+mget) executed per node {reads}")
        for primary in pairs:
            assert reads[serving[primary]] > 0, f"no MGET part reached {serving[primary]}: {reads}"
            assert reads[idle[primary]] == 0, f"{idle[primary]} should have served no MGET part: {reads}"

        # Writes always go to primaries.
        written = {p: 0 for p in pairs}
        for k in keys:
            assert c2.set(k, b"v1:" + k.encode()) is True
            written[owner[k]] += 1
        s3 = snapshot(cluster.ports)
        sets = {p: delta(s2, s3, p, "set") for p in pairs}
        print(f"read-from {mode}: SETs executed per primary {sets}, expected {written}")
        assert sets == written
        cluster.forget_clients()
        assert cluster.get_many_direct(keys) == [b"v1:" + k.encode() for k in keys]
    finally:
        c2.close()
        c3.close()


# MARK: - read-from replica through failures


@dataclass
class Reader:
    """A thread GETting keys of known values through one connection, recording every outcome."""

    port: int
    keys: list[str]
    value: object
    protocol: int = 2
    outcomes: list[tuple[float, float, str, str | None]] = field(default_factory=list)  # start, latency, key, error
    wrong: list[str] = field(default_factory=list)

    def __post_init__(self):
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> "Reader":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)
        assert not self._thread.is_alive(), "reader did not stop"

    def _run(self) -> None:
        client = redis.Redis(host="127.0.0.1", port=self.port, protocol=self.protocol, socket_timeout=15,
                             socket_connect_timeout=5, retry=Retry(NoBackoff(), 0))
        deadline = time.monotonic() + 150
        i = 0
        try:
            while not self._stop.is_set() and time.monotonic() < deadline:
                k = self.keys[i % len(self.keys)]
                i += 1
                start = time.monotonic()
                error = None
                try:
                    got = client.get(k)
                    if got != self.value(k):
                        self.wrong.append(f"GET {k} = {got!r}")
                except redis.exceptions.RedisError as e:
                    error = f"{type(e).__name__}: {e}"
                self.outcomes.append((start, time.monotonic() - start, k, error))
                time.sleep(0.01)
        finally:
            client.close()

    def errors(self) -> list[tuple[float, float, str, str | None]]:
        return [o for o in self.outcomes if o[3] is not None]


@pytest.mark.failover
@pytest.mark.timeout(240)
def test_read_from_replica_dead_replica(own_cluster, own_proxy, run_id):
    cluster = own_cluster
    primary = cluster.primaries()[0]
    keys = keys_over_slots(48, f"deadreplica:{run_id}")
    value = lambda k: f"v:{k}".encode()
    pairs = write_and_replicate(cluster, keys, value)
    victim = pairs[primary]
    proxy = own_proxy(cluster.seeds, ["--read-from", "replica", "--failover-hold-ms", str(HOLD_MS),
                                      "--topology-refresh-ms", "1000"])
    # A second proxy whose hold (0.5 s) ends long before the FAIL flag (node timeout 2 s).
    short = own_proxy(cluster.seeds, ["--read-from", "replica", "--failover-hold-ms", "500"])
    shard_keys = [k for k in keys if cluster.owner_of_key(k) == primary]
    other_keys = [k for k in keys if cluster.owner_of_key(k) != primary]
    readers = [Reader(proxy.port, shard_keys, value, 2), Reader(proxy.port, shard_keys, value, 3),
               Reader(proxy.port, other_keys, value, 2)]
    for r in readers:
        r.start()
    try:
        time.sleep(1.5)
        before_kill = snapshot([primary, victim])
        assert calls(before_kill, victim, "get") > 0, "the replica served no read before the kill"
        assert calls(before_kill, primary, "get") == 0, "the primary served reads before the kill"
        cluster.kill_node(victim)
        killed_at = time.monotonic()   # the script returns once the process is gone
        short_client = redis.Redis(host="127.0.0.1", port=short.port, protocol=2, socket_timeout=10,
                                   retry=Retry(NoBackoff(), 0))
        try:
            started = time.monotonic()
            with pytest.raises(redis.exceptions.ClusterDownError) as expired:
                short_client.get(shard_keys[0])
            short_wait = time.monotonic() - started
            short_ok = short_client.get(other_keys[0]) == value(other_keys[0])
        finally:
            short_client.close()
        live = [p for p in cluster.ports if p != victim]
        wait_for(lambda: all(health_of(victim, p) == "fail" for p in live), 30,
                 f"every node flags {victim} FAIL", interval=0.05)
        failed_at = time.monotonic()
        time.sleep(4)
        after_fail = commandstats(primary)
        cluster.restart_node(victim)
        restarted_at = time.monotonic()
        wait_for(lambda: replica_linked(victim), 60, f"{victim} linked to its primary again")
        wait_for(lambda: replicas_online(cluster.ports), 60, "every node lists every replica online")
        back_stats = commandstats(victim).get("get", 0)
        wait_for(lambda: commandstats(victim).get("get", 0) > back_stats, 30,
                 f"reads go to the restarted replica {victim} again", interval=0.2)
        back_at = time.monotonic()
        time.sleep(0.5)
    finally:
        for r in readers:
            r.stop()

    shard = readers[0].outcomes + readers[1].outcomes
    shard_errors = [o for o in shard if o[3] is not None]
    held = [o for o in shard if o[0] + o[1] >= killed_at and o[1] > 0.2]
    rel = lambda t: f"{t - killed_at:+.2f}s"
    lines = [f"replica {victim} of {primary} killed; every node flagged it FAIL at {rel(failed_at)}; "
             f"restarted at {rel(restarted_at)}, reads back on it at {rel(back_at)}",
             f"  its shard: {len(shard)} GETs, {len(shard_errors)} errors, {len(held)} held > 0.2 s: "
             + ", ".join(f"sent {rel(o[0])} answered {rel(o[0] + o[1])} ({'error' if o[3] else 'served'})"
                         for o in held),
             f"  other shards: {len(readers[2].outcomes)} GETs, {len(readers[2].errors())} errors",
             f"  primary {primary} GETs served while the replica was down: "
             f"{after_fail.get('get', 0) - calls(before_kill, primary, 'get')}",
             f"  proxy: {proxy_counters(proxy)}",
             f"  proxy with hold 0.5 s: GET of the shard answered after {short_wait:.2f}s: "
             f"{type(expired.value).__name__}: {expired.value}"]
    lines += [f"  error: GET sent {rel(o[0])}, after {o[1]:.2f}s: {o[3]}" for o in shard_errors[:10]]
    text = "\n".join(lines)
    print("\n" + text)
    text += f"\nproxy log tail:\n{proxy.log_tail(15)}"

    assert HOLD_EXPIRED.search(f"{type(expired.value).__name__}: {expired.value}"), text
    assert 0.4 < short_wait < 2.0, f"the 0.5 s hold ended after {short_wait:.2f}s\n{text}"
    assert short_ok, f"the short-hold proxy failed a read of another shard\n{text}"
    assert not readers[2].errors(), f"reads of other shards failed\n{text}"
    assert not any(r.wrong for r in readers), f"wrong values: {[r.wrong[:3] for r in readers]}\n{text}"
    # A read held longer than failover-hold-ms (the FAIL flag came late: node timeout 2 s plus
    # the failure reports) gets the clear hold error; any such read was sent before the proxy
    # could learn that the replica had failed.
    # When the deadline and the new view (replica dropped) meet within one tick, the error is
    # worded from the new view, where the shard has no replica: "the primary ... could not be
    # reached".
    for o in shard_errors:
        same_moment = abs(o[0] + o[1] - failed_at) < 0.5 and PRIMARY_HOLD_EXPIRED.search(o[3])
        assert HOLD_EXPIRED.search(o[3]) or same_moment, f"unexpected error for a held read: {o}\n{text}"
        assert o[0] < failed_at, f"a read sent after the FAIL flag failed: {o}\n{text}"
    after_fail_reads = [o for o in shard if failed_at + 1.0 <= o[0] < restarted_at]
    assert after_fail_reads and all(o[3] is None for o in after_fail_reads), \
        f"reads of the shard sent 1 s after the FAIL flag were not all served\n{text}"
    assert after_fail.get("get", 0) > calls(before_kill, primary, "get"), \
        f"the primary served none of its shard's reads while its only replica was dead\n{text}"


class ReadWriteLoad:
    """Client threads through the proxy, each looping over: SET an own key, GET it back (from a
    replica: the value just written or an older one of this client, i.e. stale, never another),
    GET a key of fixed, replicated value, and every 8th time MGET three such keys. No retries."""

    def __init__(self, port: int, label: str, static: list[str], value, protocols=(2, 2, 3, 3)):
        self.port, self.static, self.value, self.protocols = port, static, value, protocols
        self.own = [keys_over_slots(32, f"{label}:{c}") for c in range(len(protocols))]
        self.last: dict[str, bytes | None] = {}       # own key -> last value written successfully
        self.history: dict[str, set] = {}             # own key -> every value ever written to it
        self.ops: list[tuple[int, str, float, float, bool]] = []   # client, op, start, latency, ok
        self.errors: list[str] = []
        self.wrong: list[str] = []
        self.stale = 0
        self.events: list[tuple[str, float]] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(c,), daemon=True) for c in range(len(protocols))]

    def start(self) -> "ReadWriteLoad":
        self.started_at = self.mark("start")
        for t in self._threads:
            t.start()
        return self

    def mark(self, name: str) -> float:
        now = time.monotonic()
        self.events.append((name, now))
        return now

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(60)
        assert not any(t.is_alive() for t in self._threads), "load threads did not stop"
        self.mark("stop")

    def _call(self, c: int, op: str, fn):
        start = time.monotonic()
        try:
            reply = fn()
            ok = True
        except redis.exceptions.RedisError as e:
            reply, ok = None, False
            self.errors.append(f"client {c} {op} at +{start - self.started_at:.2f}s: {type(e).__name__}: {e}")
            time.sleep(0.05)
        self.ops.append((c, op, start, time.monotonic() - start, ok))
        return ok, reply

    def _run(self, c: int) -> None:
        client = redis.Redis(host="127.0.0.1", port=self.port, protocol=self.protocols[c], socket_timeout=45,
                             socket_connect_timeout=5, retry=Retry(NoBackoff(), 0))
        deadline = time.monotonic() + 200
        i = 0
        try:
            while not self._stop.is_set() and time.monotonic() < deadline:
                key = self.own[c][i % len(self.own[c])]
                fixed = self.static[(i * 7 + c) % len(self.static)]
                i += 1
                v = f"{c}:{i}".encode()
                self.history.setdefault(key, {None}).add(v)
                ok, reply = self._call(c, "SET", lambda: client.set(key, v))
                if ok:
                    self.last[key] = v
                ok, got = self._call(c, "GET", lambda: client.get(key))
                if ok and got != v:
                    if got in self.history[key]:
                        self.stale += 1
                    else:
                        self.wrong.append(f"GET {key} = {got!r}: never written")
                ok, got = self._call(c, "GET", lambda: client.get(fixed))
                if ok and got != self.value(fixed):
                    self.wrong.append(f"GET {fixed} = {got!r}, expected {self.value(fixed)!r}")
                if i % 8 == 0:
                    ks = [self.static[(i + j * 5) % len(self.static)] for j in range(3)]
                    ok, got = self._call(c, "MGET", lambda: client.mget(ks))
                    if ok and got != [self.value(k) for k in ks]:
                        self.wrong.append(f"MGET {ks} = {got!r}")
                time.sleep(0.002)
        finally:
            client.close()

    def event_time(self, name: str) -> float:
        return next(t for n, t in self.events if n == name)

    def successes_after(self, t: float) -> list[int]:
        return [sum(1 for cc, _, start, _, ok in self.ops if cc == c and ok and start >= t)
                for c in range(len(self.protocols))]

    def summary(self) -> str:
        latencies = sorted(o[3] for o in self.ops)
        worst = max(self.ops, key=lambda o: o[3]) if self.ops else (0, "-", 0.0, 0.0, True)
        return "\n".join([
            f"load: {len(self.ops)} ops by {len(self.protocols)} clients, {len(self.errors)} errors, "
            f"{len(self.wrong)} wrong values, {self.stale} stale reads of own keys",
            f"  latency p50 {latencies[len(latencies) // 2] * 1000 if latencies else 0:.1f} ms, "
            f"max {worst[3] * 1000:.0f} ms ({worst[1]} sent at +{worst[2] - self.started_at:.2f}s)",
            "  events: " + ", ".join(f"{n} +{t - self.started_at:.2f}s" for n, t in self.events),
            *[f"  {e}" for e in self.errors[:10]], *[f"  {w}" for w in self.wrong[:10]]])


@pytest.mark.failover
@pytest.mark.timeout(240)
def test_read_from_replica_kill_primary(own_cluster, own_proxy, run_id):
    cluster = own_cluster
    static = keys_over_slots(48, f"killprimary:static:{run_id}")
    value = lambda k: f"s:{k}".encode()
    pairs = write_and_replicate(cluster, static, value)
    victim = cluster.primaries()[1]
    promoted = pairs[victim]
    others = [p for p in pairs if p != victim]
    proxy = own_proxy(cluster.seeds, ["--read-from", "replica"])
    s0 = snapshot(cluster.ports)
    load = ReadWriteLoad(proxy.port, f"killprimary:{run_id}", static, value).start()
    try:
        time.sleep(3)
        load.mark("kill")
        cluster.kill_node(victim)
        wait_for(lambda: node_role(promoted) == "master", PROMOTION_TIMEOUT, f"replica {promoted} promoted")
        load.mark("promoted")
        s1 = snapshot([promoted])
        time.sleep(5)
        s2 = snapshot([promoted])
    finally:
        load.stop()
    live = [p for p in cluster.ports if p != victim]
    s3 = snapshot(live)
    killed, promoted_at = load.event_time("kill"), load.event_time("promoted")
    window = [o for o in load.ops if killed <= o[2] < promoted_at and o[1] in ("GET", "MGET")]
    slowest_read = max((o[3] for o in load.ops if o[1] in ("GET", "MGET")), default=0.0)
    text = (f"{load.summary()}\n  reads sent between the kill and the promotion: {len(window)}, "
            f"all answered correctly; slowest read {slowest_read:.2f}s\n  promoted {promoted} served {delta(s1, s2, promoted, 'get')} GETs in the 5 s "
            f"after its promotion; GETs per node over the whole test: "
            f"{ {p: delta(s0, s3, p, 'get') for p in live} }\n  proxy: {proxy_counters(proxy)}")
    print("\n" + text)
    text += f"\nproxy log tail:\n{proxy.log_tail(15)}"
    assert not load.errors, f"clients saw {len(load.errors)} errors\n{text}"
    assert not load.wrong, f"reads returned values never written\n{text}"
    after = load.successes_after(load.event_time("promoted"))
    assert all(after), f"clients stalled after the promotion: {after}\n{text}"
    assert delta(s1, s2, promoted, "get") > 0, f"the promoted node served no read of its shard\n{text}"
    for p in others:
        assert delta(s0, s3, p, "get") == 0, f"primary {p} served GETs with read-from replica\n{text}"
        assert delta(s0, s3, pairs[p], "get") > 0, f"replica {pairs[p]} served no GET\n{text}"
    cluster.forget_clients()
    own = list(load.last)
    values = cluster.get_many_direct(own)
    wrong = [f"{k} = {v!r}, last written {load.last[k]!r}" for k, v in zip(own, values) if v != load.last[k]]
    assert not wrong, f"{len(wrong)} values wrong on their owners, e.g. {wrong[:5]}\n{text}"


# MARK: - Host names


@pytest.fixture
def hostname_cluster(run_dir):
    """A 3+3 cluster whose nodes announce and prefer the host name `localhost`; stopped by PID."""
    started: list[Cluster] = []
    try:
        for attempt in range(3):
            base = free_cluster_base(nodes=7)
            c = Cluster(base=base, dir=run_dir / f"cluster-{base}", ports=[base + i for i in range(6)])
            started.append(c)
            try:
                subprocess.run([str(REPO / "scripts" / "cluster"), "start", "--port", str(base), "--dir", str(c.dir),
                                "--node-timeout", "2000", "--announce-hostname", "localhost"],
                               check=True, timeout=180, stdout=subprocess.DEVNULL)
                break
            except subprocess.CalledProcessError:
                if attempt == 2:
                    raise
        yield started[-1]
    finally:
        for c in started:
            try:
                c.stop()
            except subprocess.SubprocessError as e:
                print(f"stopping cluster {c.dir}: {e}")


@pytest.mark.timeout(300)
def test_hostname_endpoints(hostname_cluster, own_proxy, run_id):
    cluster = hostname_cluster
    for port in cluster.ports:
        endpoints = {(n["port"], n["endpoint"], n["hostname"]) for _, nodes in cluster_shards(port) for n in nodes}
        assert endpoints == {(p, "localhost", "localhost") for p in cluster.ports}, \
            f"CLUSTER SHARDS on {port} does not name every node localhost: {sorted(endpoints)}"
    a, b, c = cluster.primaries()
    elsewhere = key_in_slot(cluster.slots_of(b)[0], f":moved:{run_id}")
    reply = node_command(a, "GET", elsewhere)
    assert isinstance(reply, ErrorReply) and reply.text == f"MOVED {key_slot(elsewhere)} localhost:{b}", reply

    seed = f"localhost:{cluster.replica_of(a)}"
    proxy = own_proxy(seed, ["--topology-refresh-ms", "0"])
    client = redis.Redis(host="127.0.0.1", port=proxy.port, protocol=2, socket_timeout=10)
    try:
        for primary in (a, b, c):
            slots = cluster.slots_of(primary)
            keys = [key_in_slot(slots[i * len(slots) // 20], f":host:{run_id}:{i}") for i in range(20)]
            for k in keys:
                assert client.set(k, f"{primary}:{k}") is True
                assert client.get(k) == f"{primary}:{k}".encode()
            values = [cluster.node(primary).get(k) for k in keys]
            assert values == [f"{primary}:{k}".encode() for k in keys], f"keys of {primary} not on it"
    finally:
        client.close()
    print(f"\nproxy seeded with {seed} served SET/GET on primaries {a}, {b}, {c}")

    redirections_before = int(proxy.stats()["redirections"])
    with ClientLoad(proxy.port, f"hostname:{run_id}", keys_per_client=128) as load:
        by_owner: dict[int, list[int]] = {}
        for k in load.all_keys():
            by_owner.setdefault(cluster.owner_of_key(k), []).append(key_slot(k))
        slot = by_owner[a][0]   # a slot the load writes: it must be redirected
        time.sleep(2)
        load.mark("migrate")
        migrate_slot(cluster, slot, a, b, pause=0.2)
        load.mark("migrated")
        assert cluster.slot_owners(refresh=True)[slot] == b, f"slot {slot} did not move to {b}"
        time.sleep(2)
        reshard = subprocess.run(
            ["redis-cli", "--cluster", "reshard", f"127.0.0.1:{b}", "--cluster-from", cluster.node_id(b),
             "--cluster-to", cluster.node_id(c), "--cluster-slots", "500", "--cluster-yes"],
            capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL)
        load.mark("resharded")
        time.sleep(3)
        load.stop()
    assert reshard.returncode == 0, f"reshard failed:\n{reshard.stdout[-2000:]}\n{reshard.stderr[-2000:]}"
    redirections = int(proxy.stats()["redirections"]) - redirections_before
    text = f"{load.summary()}\n  proxy: {proxy_counters(proxy)}"
    print(text)
    text += f"\nproxy log tail:\n{proxy.log_tail(15)}"
    assert redirections > 0, f"the proxy followed no MOVED/ASK\n{text}"
    assert load.error_count == 0, f"clients saw {load.error_count} errors\n{text}"
    assert not load.mismatches, f"GETs returned other values than last written\n{text}"
    after = load.successes_after(load.event_time("resharded"))
    assert all(after.values()), f"clients stalled after the reshard: {after}\n{text}"
    wrong = load.final_check(cluster)
    assert not wrong, f"{len(wrong)} values wrong on their owners, e.g. {wrong[:5]}\n{text}"
    print(f"hostname cluster: slot {slot} moved {a} -> {b} by hand, 500 slots {b} -> {c} by redis-cli; "
          f"{redirections} redirections followed")
