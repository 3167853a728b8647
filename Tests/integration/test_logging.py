"""The log: one line per event, never one per request.

  test_requests_add_no_log_lines   a proxy at loglevel debug with a logfile on the session's cluster:
        after its start lines, 10,000 requests (pipelined SET/GET over every slot, cross-slot MGETs,
        unknown commands, wrong arity, CROSSSLOT in MULTI) and 50 connections opened and closed
        add no line at all.
  test_event_lines                 a cluster of its own, a proxy with --logfile, --read-from
        prefer-replica and a 500 ms topology refresh: the start line (version, listening address,
        seeds, threads); a replica killed under read traffic: one "connection to node lost" line
        for it (two workers, RESP2 and RESP3 connections: still one), and one "connection to node
        restored" after its restart; a primary killed: "failover detected" naming it and its
        promoted replica, "cluster topology changed"; a node joined with redis-cli --cluster
        add-node: "cluster node added"; removed with del-node: "cluster node removed"; SIGTERM:
        the shutdown lines, exit 0. Every line has the Redis-like prefix.
"""

from __future__ import annotations

import re
import signal
import subprocess
import threading
import time

import pytest
import redis

from support import (
    ProxyProcess,
    RawConnection,
    encode_command,
    key_in_slot,
    node_command,
    node_role,
    replica_linked,
    wait_for,
)

LINE = re.compile(r"^\d+:P \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d\.\d{3} "
                  r"(trace|debug|info|notice|warning|error|critical) \S")


@pytest.fixture
def logged_proxy(run_dir):
    """logged_proxy(seeds, name, extra_args) -> (ProxyProcess, log path); stopped by PID after."""
    started: list[ProxyProcess] = []

    def start(seeds: str, name: str, extra_args: list[str] | None = None):
        log = run_dir / f"{name}.log"
        p = ProxyProcess(seeds, extra_args=["--logfile", str(log), *(extra_args or [])], run_dir=run_dir)
        started.append(p)
        p.start()
        return p, log

    yield start
    for p in started:
        p.stop()


def lines(log) -> list[str]:
    return log.read_text().splitlines()


def stable_lines(log, quiet: float = 1.0, timeout: float = 15.0) -> list[str]:
    """The log's lines once no line has been added for `quiet` seconds (bounded)."""
    deadline = time.monotonic() + timeout
    last = lines(log)
    since = time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.1)
        now = lines(log)
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return now
    return last


def test_requests_add_no_log_lines(cluster, logged_proxy, run_id):
    proxy, log = logged_proxy(cluster.seeds, f"quiet-{run_id}", ["--loglevel", "debug"])
    before = stable_lines(log)
    assert any("ready" in l for l in before), before

    keys = [key_in_slot(slot, f":{run_id}:quiet") for slot in range(0, 16384, 7)]  # 2341 slots
    sent = 0
    with RawConnection(proxy.port) as conn:
        batch = []
        for i in range(3500):
            batch.append(encode_command("SET", keys[i % len(keys)], str(i)))
            batch.append(encode_command("GET", keys[i % len(keys)]))
        batch += [encode_command("MGET", *keys[i:i + 20]) for i in range(0, 2000, 20)]       # 100
        batch += [encode_command("NOSUCHCOMMAND", "x") for _ in range(100)]
        batch += [encode_command("GET") for _ in range(100)]
        conn.send(b"".join(batch))
        for _ in batch:
            conn.read_reply()
        sent += len(batch)
        for _ in range(100):  # CROSSSLOT inside a transaction, refused at queue time
            conn.send(encode_command("MULTI") + encode_command("SET", keys[0], "a")
                      + encode_command("SET", keys[1], "b") + encode_command("DISCARD"))
            for _ in range(4):
                conn.read_reply()
            sent += 4
    client = redis.Redis(host="127.0.0.1", port=proxy.port, socket_timeout=20)
    while sent < 10_000:
        client.incr(f"{{{run_id}}}:quiet-counter")
        sent += 1
    client.close()
    for _ in range(50):
        with RawConnection(proxy.port) as conn:
            assert conn.command("PING") == b"PONG"

    after = stable_lines(log)
    assert after == before, f"{len(after) - len(before)} lines added by {sent} requests:\n" + "\n".join(after[len(before):][:20])


def _read_load(port: int, keys: list[str], stop: threading.Event, protocol: int) -> None:
    """GETs over `keys` until stopped, ignoring errors (it only keeps connections busy)."""
    client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=5, protocol=protocol)
    while not stop.is_set():
        for key in keys:
            try:
                client.get(key)
            except redis.RedisError:
                time.sleep(0.05)
            if stop.is_set():
                break
    client.close()


def _wait_line(log, pattern: str, what: str, timeout: float = 60.0) -> str:
    regex = re.compile(pattern)
    try:
        return wait_for(lambda: next((l for l in lines(log) if regex.search(l)), None), timeout, what)
    except AssertionError as e:
        raise AssertionError(f"{e}\nlog:\n" + "\n".join(lines(log)[-40:])) from None


@pytest.mark.failover
@pytest.mark.timeout(300)
def test_event_lines(own_cluster, logged_proxy, run_id):
    cluster = own_cluster
    proxy, log = logged_proxy(cluster.seeds, f"events-{run_id}",
                              ["--read-from", "prefer-replica", "--topology-refresh-ms", "500"])
    start = _wait_line(log, r" notice slotproxy \S+ ready", "the start line")
    assert f"listening=127.0.0.1:{proxy.port}" in start
    assert "threads=2" in start and "seeds=" in start

    primaries = cluster.primaries()
    keep, victim = primaries[0], primaries[1]
    replica = cluster.replica_of(keep)
    keys = [key_in_slot(slot, f":{run_id}:events") for slot in range(0, 16384, 64)]
    stop = threading.Event()
    loads = [threading.Thread(target=_read_load, args=(proxy.port, keys, stop, protocol), daemon=True)
             for protocol in (2, 3, 2, 3)]
    for t in loads:
        t.start()
    try:
        # Replicas serve reads once the cluster lists them online (not "loading").
        wait_for(lambda: b"flags=r" in node_command(replica, "CLIENT", "LIST"), 40,
                 f"the proxy reads from replica {replica}")
        # A replica dies and comes back: one line each, however many connections noticed.
        cluster.kill_node(replica)
        _wait_line(log, rf"warning connection to node lost node=127\.0\.0\.1:{replica}\b", "replica lost")
        time.sleep(2)
        cluster.restart_node(replica)
        _wait_line(log, rf"notice connection to node restored node=127\.0\.0\.1:{replica}\b", "replica restored")

        # A primary dies: its replica is promoted.
        promoted = cluster.replica_of(victim)
        cluster.kill_node(victim)
        wait_for(lambda: node_role(promoted) == "master", 30, f"replica {promoted} promoted")
        failover = _wait_line(log, r"notice failover detected", "failover line")
        assert f"former_primary=127.0.0.1:{victim}" in failover
        assert f"new_primary=127.0.0.1:{promoted}" in failover
        _wait_line(log, r"notice cluster topology changed .*primaries=3", "topology line")
    finally:
        stop.set()
        for t in loads:
            t.join(10)

    # The old primary returns (as a replica: no line of its own), then a node joins (an empty
    # primary) and leaves.
    cluster.restart_node(victim)
    wait_for(lambda: replica_linked(victim), 60, f"node {victim} rejoined as a replica")
    new_port = cluster.base + 6
    cluster.new_node(new_port)
    added = subprocess.run(["redis-cli", "--cluster", "add-node", f"127.0.0.1:{new_port}", f"127.0.0.1:{keep}"],
                           capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert added.returncode == 0, added.stdout[-2000:] + added.stderr[-2000:]
    _wait_line(log, rf"notice cluster node added node=127\.0\.0\.1:{new_port} role=primary", "node added")

    def all_know_new_node():
        for port in cluster.ports:
            nodes = cluster.cluster_nodes(port)
            if len(nodes) != 7 or any({"handshake", "noaddr", "fail", "fail?"} & n["flags"] for n in nodes):
                return False
        return True
    wait_for(all_know_new_node, 30, "every node knows the new one")
    node_id = cluster.node_id(new_port)
    removed = subprocess.run(["redis-cli", "--cluster", "del-node", f"127.0.0.1:{keep}", node_id],
                             capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert removed.returncode == 0, removed.stdout[-2000:] + removed.stderr[-2000:]
    _wait_line(log, rf"notice cluster node removed node=127\.0\.0\.1:{new_port}\b", "node removed")

    proxy.process.send_signal(signal.SIGTERM)
    assert proxy.process.wait(30) == 0
    text = lines(log)
    assert any("SIGTERM received: shutting down" in l for l in text)
    assert any("slotproxy stopped" in l for l in text)
    bad = [l for l in text if not LINE.match(l)]
    assert not bad, f"lines without the Redis-like prefix: {bad[:5]}"
    lost = [l for l in text if re.search(rf"connection to node lost node=127\.0\.0\.1:{replica}\b", l)]
    assert len(lost) == 1, "one line for the replica's loss expected:\n" + "\n".join(lost)
    restored = [l for l in text if re.search(rf"connection to node restored node=127\.0\.0\.1:{replica}\b", l)]
    assert len(restored) == 1, "\n".join(restored)
    print("\n" + "\n".join(text))
