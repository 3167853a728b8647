"""Integration tests for multi-key splitting and cluster-wide fan-out, through the real proxy.

Multi-key commands whose keys span slots are split into one sub-command per slot and the
replies merged in key order; cluster-wide commands go to every primary and are merged by rule.
Values are checked on the primary owning their slot, and counts against a real Redis node.
The session's cluster is shared, so keys carry run_id; the tests that empty the cluster
(FLUSHALL/FLUSHDB) or kill a node run on a cluster of their own (`own_cluster`).

What each test checks (each bounded in time):
  test_mset_mget_1000              MSET of 1000 keys in 1000 slots over every primary (RESP2 and
                                   RESP3), each value read on its owning node; MGET in shuffled
                                   order with missing keys mixed in gives values/nils in order.
  test_mget_nils_raw               cross-slot MGET nils are `$-1` in RESP2 and `_` in RESP3 (bytes).
  test_one_subcommand_per_slot     MGET of 30 keys in 3 slots reaches the nodes as 3 MGETs
                                   (INFO commandstats), never one per key.
  test_exists_duplicates_misses    EXISTS counts a key named twice twice, misses 0, as Redis.
  test_del_unlink_counts           DEL/UNLINK counts across slots; DEL naming a key twice counts
                                   it once, as a real node answers for the same within one slot.
  test_touch                       TOUCH across slots counts existing keys (duplicates as Redis).
  test_pipelined_split_in_order    one socket write mixing cross-slot MSET/MGET/DEL/EXISTS and
                                   plain GETs: the exact reply bytes, in order; then a 300-round
                                   pipeline of the same, checked against a model.
  test_mset_missing_value          MSET a 1 b across slots: CROSSSLOT as a node answers, and the
                                   connections keep working (no half-sent request upstream).
  test_cannot_split                each command that cannot be split gets exactly CROSSSLOT
                                   across slots (as a real node does) and works in one hash tag.
  test_scan_walk                   SCAN over 5000 keys (+100 hashes): COUNT 10 and COUNT 1000 find
                                   every key; cursors are plain unsigned integers ending at "0";
                                   MATCH subset; TYPE string vs hash.
  test_scan_whole_keyspace         SCAN without MATCH finds as many distinct keys as DBSIZE says.
  test_scan_errors                 a cursor that is not an unsigned 64-bit integer: ERR invalid cursor.
  test_scan_iter                   redis-py scan_iter (RESP2 and RESP3) finds every key.
  test_keys                        KEYS pattern finds every key across primaries.
  test_dbsize_sum                  DBSIZE equals the sum of DBSIZE on the primaries.
  test_info_keyspace               INFO keyspace (RESP2 bulk, RESP3 verbatim) sums the primaries.
  test_randomkey                   RANDOMKEY names an existing key.
  test_scripts                     SCRIPT LOAD through the proxy loads everywhere: EVALSHA runs on
                                   a key of every primary; SCRIPT EXISTS is 1 only where every
                                   primary has it (a script loaded on one node: 0); SCRIPT FLUSH.
  test_functions                   FUNCTION LOAD reaches every primary, FCALL runs on a key of each,
                                   a second LOAD is an error, FUNCTION DELETE removes it everywhere.
  test_flushall_own_cluster        on a cluster of its own: FLUSHALL/FLUSHDB empty every primary;
                                   then DBSIZE 0, KEYS empty, SCAN ends at once, RANDOMKEY nil
                                   (RESP2/RESP3) and, with one key, always that key.
  test_primary_down_fanout         on a cluster of its own (node timeout 15 s, so no failover
                                   during the test): after kill -9 of one primary, DBSIZE, KEYS,
                                   MGET/MSET/DEL across slots give one error naming the node
                                   ("N of M ... failed"), never a partial result; single-slot
                                   requests to live primaries still work.
  test_script_kill_own_cluster     on a cluster of its own: SCRIPT KILL with no script anywhere is
                                   NOTBUSY as Redis says it; with a script busy on one primary it
                                   kills it and answers OK (the others' NOTBUSY is expected).
"""

from __future__ import annotations

import os
import random
import re
import signal
import threading
import time
from pathlib import Path

import pytest
import redis

from support import (
    Cluster,
    ErrorReply,
    RawConnection,
    encode_command,
    key_in_slot,
    key_slot,
)

CROSSSLOT = "CROSSSLOT Keys in request don't hash to the same slot"
SLOT_COUNT = 16384


def spread_keys(n: int, label: str, run_id: str) -> list[str]:
    """n keys in n different slots spread evenly over all 16384 (so over every primary)."""
    return [key_in_slot((i * SLOT_COUNT) // n, f":mk:{run_id}:{label}:{i}") for i in range(n)]


def client(port: int, protocol: int = 2) -> redis.Redis:
    return redis.Redis(host="127.0.0.1", port=port, protocol=protocol, socket_timeout=20)


def owners(cluster: Cluster, keys) -> set[int]:
    return {cluster.owner_of_key(k) for k in keys}


def keys_on_each_primary(cluster: Cluster, label: str) -> dict[int, str]:
    """One key per primary: {port: key}, the key in the primary's lowest slot."""
    return {port: key_in_slot(cluster.slots_of(port)[0], f":{label}") for port in cluster.primaries()}


# MARK: - Split: MGET / MSET / EXISTS / DEL / UNLINK / TOUCH


@pytest.mark.parametrize("protocol", [2, 3], ids=["resp2", "resp3"])
def test_mset_mget_1000(proxy, cluster, run_id, protocol):
    r = client(proxy.port, protocol)
    try:
        keys = spread_keys(1000, f"mset{protocol}", run_id)
        assert len({key_slot(k) for k in keys}) == 1000
        assert owners(cluster, keys) == set(cluster.primaries())
        values = {k: f"value-{i}-{run_id}".encode() for i, k in enumerate(keys)}
        assert r.mset(values) is True
        direct = cluster.get_many_direct(keys)
        wrong = [k for k, d in zip(keys, direct) if d != values[k]]
        assert not wrong, f"{len(wrong)} values are not on the primary owning their slot, e.g. {wrong[:3]}"

        missing = spread_keys(200, f"missing{protocol}", run_id)
        asked = keys + missing + keys[:50]  # some keys twice
        random.Random(protocol).shuffle(asked)
        got = r.mget(asked)
        expected = [values.get(k) for k in asked]
        assert len(got) == len(asked)
        bad = [(i, asked[i], g, e) for i, (g, e) in enumerate(zip(got, expected)) if g != e]
        assert not bad, f"{len(bad)} MGET replies out of place, e.g. {bad[:3]}"
    finally:
        r.close()


def test_mget_nils_raw(proxy, run_id):
    a, b, missing = (key_in_slot(s, f":mk:{run_id}:nil") for s in (10, 8000, 16000))
    with RawConnection(proxy.port) as conn:
        assert conn.command("MSET", a, "va", b, "vb") == b"OK"
        request = encode_command("MGET", missing, a, missing, b)
        conn.send(request)
        assert conn.read_exact(30) == b"*4\r\n$-1\r\n$2\r\nva\r\n$-1\r\n$2\r\nvb\r\n"
        conn.command("HELLO", "3")
        conn.send(request)
        assert conn.read_exact(26) == b"*4\r\n_\r\n$2\r\nva\r\n_\r\n$2\r\nvb\r\n"
        assert conn.read_all_available(0.2) == b""


def _commandstats_calls(cluster: Cluster, command: str) -> int:
    total = 0
    for port in cluster.primaries():
        stats = cluster.node(port).info("commandstats")
        total += stats.get(f"cmdstat_{command}", {}).get("calls", 0)
    return total


def test_one_subcommand_per_slot(proxy, cluster, run_id):
    tags = [keys_in_slot_tag(s) for s in (100, 7000, 14000)]
    keys = [f"{{{tag}}}:mk:{run_id}:per-slot:{i}" for tag in tags for i in range(10)]
    assert len({key_slot(k) for k in keys}) == 3
    r = client(proxy.port)
    try:
        before = _commandstats_calls(cluster, "mget")
        assert r.mget(keys) == [None] * 30
        after = _commandstats_calls(cluster, "mget")
        assert after - before == 3, f"30 keys in 3 slots reached the nodes as {after - before} MGETs"
    finally:
        r.close()


def keys_in_slot_tag(slot: int) -> str:
    """A hash tag (a plain key name) hashing to `slot`."""
    return key_in_slot(slot)[1:-1]


def test_exists_duplicates_misses(proxy, cluster, run_id):
    a, b, c = (key_in_slot(s, f":mk:{run_id}:exists") for s in (1, 6000, 12000))
    missing = key_in_slot(9000, f":mk:{run_id}:exists-missing")
    r = client(proxy.port)
    try:
        assert r.mset({a: 1, b: 2, c: 3}) is True
        assert r.exists(a, b, c) == 3
        assert r.exists(a, a, b, missing, c, a) == 5
        assert r.exists(missing, missing) == 0
        # A real node counts a key named twice twice too.
        assert cluster.node(cluster.owner_of_key(a)).exists(a, a) == 2
    finally:
        r.close()


def test_del_unlink_counts(proxy, cluster, run_id):
    keys = spread_keys(20, "del", run_id)
    missing = spread_keys(5, "del-missing", run_id)
    r = client(proxy.port)
    try:
        assert r.mset({k: "x" for k in keys}) is True
        assert r.delete(*keys[:10], *missing) == 10
        assert cluster.get_many_direct(keys[:10]) == [None] * 10
        assert r.unlink(*missing, *keys[10:]) == 10
        assert r.exists(*keys) == 0

        # DEL naming a key twice: compare with a real node for the same within one slot.
        tag = keys_in_slot_tag(4242)
        same = f"{{{tag}}}:mk:{run_id}:twice"
        node = cluster.node(cluster.owner_of_key(same))
        node.set(same, "x")
        node_answer = node.delete(same, same)
        assert node_answer == 1
        a, b = key_in_slot(3, f":mk:{run_id}:twice"), key_in_slot(13000, f":mk:{run_id}:twice")
        assert r.mset({a: "1", b: "2"}) is True
        assert r.delete(a, b, a) == node_answer + 1
        assert r.exists(a, b) == 0
        assert r.set(same, "x") is True
        assert r.delete(same, same) == node_answer  # one slot: forwarded as it is
    finally:
        r.close()


def test_touch(proxy, cluster, run_id):
    a, b = key_in_slot(20, f":mk:{run_id}:touch"), key_in_slot(11000, f":mk:{run_id}:touch")
    missing = key_in_slot(6000, f":mk:{run_id}:touch-missing")
    r = client(proxy.port)
    try:
        assert r.mset({a: "1", b: "2"}) is True
        node = cluster.node(cluster.owner_of_key(a))
        node_answer = node.touch(a, a)  # how a real node counts a key named twice
        assert r.touch(a, b, missing) == 2
        assert r.touch(a, missing, b, a) == 1 + node_answer
    finally:
        r.close()


def test_pipelined_split_in_order(proxy, run_id):
    a, b, c, g = (key_in_slot(s, f":mk:{run_id}:pipe") for s in (0, 8000, 16000, 4000))
    missing = key_in_slot(12000, f":mk:{run_id}:pipe-missing")
    requests = [
        ("SET", g, "v1"), ("GET", g), ("MSET", a, "1", b, "2", c, "3"), ("GET", a),
        ("MGET", a, b, missing, c), ("GET", b), ("DEL", a, b, c, missing, a), ("GET", c),
        ("EXISTS", a, b, c), ("PING",),
    ]
    expected = (b"+OK\r\n" b"$2\r\nv1\r\n" b"+OK\r\n" b"$1\r\n1\r\n"
                b"*4\r\n$1\r\n1\r\n$1\r\n2\r\n$-1\r\n$1\r\n3\r\n" b"$1\r\n2\r\n" b":3\r\n" b"$-1\r\n"
                b":0\r\n" b"+PONG\r\n")
    with RawConnection(proxy.port) as conn:
        conn.send(b"".join(encode_command(*q) for q in requests))
        assert conn.read_exact(len(expected)) == expected
        assert conn.read_all_available(0.3) == b""

        # 300 rounds of the same mix in one write, against a model.
        rng = random.Random(5)
        model: dict[str, bytes] = {}
        keys = [a, b, c, g, missing]
        payload, replies = [], []
        for i in range(300):
            op = rng.randrange(4)
            if op == 0:
                chosen = rng.sample(keys, 3)
                args = []
                for k in chosen:
                    v = f"{i}-{k[-6:]}".encode()
                    args += [k, v]
                    model[k] = v
                payload.append(encode_command("MSET", *args))
                replies.append(b"OK")
            elif op == 1:
                chosen = [rng.choice(keys) for _ in range(4)]
                payload.append(encode_command("MGET", *chosen))
                replies.append([model.get(k) for k in chosen])
            elif op == 2:
                k = rng.choice(keys)
                payload.append(encode_command("GET", k))
                replies.append(model.get(k))
            else:
                chosen = rng.sample(keys, 2)
                payload.append(encode_command("DEL", *chosen))
                replies.append(sum(1 for k in chosen if model.pop(k, None) is not None))
        data = b"".join(payload)
        writer = threading.Thread(target=conn.send, args=(data,), daemon=True)
        writer.start()
        got = [conn.read_reply() for _ in replies]
        writer.join(20)
        for i, (g_, e) in enumerate(zip(got, replies)):
            assert g_ == e, f"reply {i}: {g_!r}, expected {e!r}"
        assert conn.read_all_available(0.3) == b""


def test_mset_missing_value(proxy, cluster, run_id):
    a, b = key_in_slot(30, f":mk:{run_id}:odd"), key_in_slot(9000, f":mk:{run_id}:odd")
    request = encode_command("MSET", a, "1", b)
    # What a cluster node answers for the same request.
    with RawConnection(cluster.primaries()[0]) as node:
        node.send(request)
        node_reply = node.read_reply()
    assert isinstance(node_reply, ErrorReply) and node_reply.text == CROSSSLOT, node_reply
    with RawConnection(proxy.port) as conn, RawConnection(proxy.port) as other:
        conn.send(request + encode_command("SET", b, "after") + encode_command("GET", b))
        reply = conn.read_reply()
        assert isinstance(reply, ErrorReply) and reply.text == CROSSSLOT, reply
        assert conn.read_reply() == b"OK"
        assert conn.read_reply() == b"after"
        # Another client sharing the proxy's backend connections is not disturbed either.
        assert other.command("SET", a, "a2") == b"OK"
        assert other.command("MGET", a, b) == [b"a2", b"after"]
    assert cluster.get_direct(b) == b"after"


# MARK: - Commands that cannot be split

# name: (setup commands, the command), with A, B, D standing for keys.
CANNOT_SPLIT = {
    "MSETNX": ([], ["MSETNX", "A", "1", "B", "2"], 1),
    "RENAME": ([["SET", "A", "x"]], ["RENAME", "A", "B"], b"OK"),
    "RENAMENX": ([["SET", "A", "x"]], ["RENAMENX", "A", "B"], 1),
    "COPY": ([["SET", "A", "x"]], ["COPY", "A", "B"], 1),
    "SMOVE": ([["SADD", "A", "m"]], ["SMOVE", "A", "B", "m"], 1),
    "LMOVE": ([["RPUSH", "A", "x"]], ["LMOVE", "A", "B", "LEFT", "RIGHT"], b"x"),
    "RPOPLPUSH": ([["RPUSH", "A", "x"]], ["RPOPLPUSH", "A", "B"], b"x"),
    "SUNIONSTORE": ([["SADD", "A", "1", "2"], ["SADD", "B", "2", "3"]], ["SUNIONSTORE", "D", "A", "B"], 3),
    "SINTERSTORE": ([["SADD", "A", "1", "2"], ["SADD", "B", "2", "3"]], ["SINTERSTORE", "D", "A", "B"], 1),
    "SDIFFSTORE": ([["SADD", "A", "1", "2"], ["SADD", "B", "2", "3"]], ["SDIFFSTORE", "D", "A", "B"], 1),
    "ZUNIONSTORE": ([["ZADD", "A", "1", "x", "2", "y"], ["ZADD", "B", "1", "y", "1", "z"]],
                    ["ZUNIONSTORE", "D", "2", "A", "B"], 3),
    "ZINTERSTORE": ([["ZADD", "A", "1", "x", "2", "y"], ["ZADD", "B", "1", "y", "1", "z"]],
                    ["ZINTERSTORE", "D", "2", "A", "B"], 1),
    "ZDIFFSTORE": ([["ZADD", "A", "1", "x", "2", "y"], ["ZADD", "B", "1", "y", "1", "z"]],
                   ["ZDIFFSTORE", "D", "2", "A", "B"], 1),
    "ZRANGESTORE": ([["ZADD", "A", "1", "x", "2", "y"]], ["ZRANGESTORE", "D", "A", "0", "-1"], 2),
    "BITOP": ([["SET", "A", "a"], ["SET", "B", "b"]], ["BITOP", "AND", "D", "A", "B"], 1),
    "PFMERGE": ([["PFADD", "A", "x"], ["PFADD", "B", "y"]], ["PFMERGE", "D", "A", "B"], b"OK"),
    "PFCOUNT": ([["PFADD", "A", "x"], ["PFADD", "B", "y"]], ["PFCOUNT", "A", "B"], 2),
    "SINTERCARD": ([["SADD", "A", "1", "2"], ["SADD", "B", "2", "3"]], ["SINTERCARD", "2", "A", "B"], 1),
    "GEOSEARCHSTORE": ([["GEOADD", "A", "13.361389", "38.115556", "Palermo"]],
                       ["GEOSEARCHSTORE", "D", "A", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km"], 1),
}


def _with_keys(args: list[str], keys: dict[str, str]) -> list[str]:
    return [keys.get(a, a) for a in args]


@pytest.mark.parametrize("name", list(CANNOT_SPLIT))
def test_cannot_split(proxy, cluster, run_id, name):
    setup, command, expected = CANNOT_SPLIT[name]
    label = f":mk:{run_id}:nosplit:{name}"
    cross = {"A": key_in_slot(200, label + ":A"), "B": key_in_slot(8200, label + ":B"),
             "D": key_in_slot(15200, label + ":D")}
    tag = f"{{nosplit-{run_id}-{name}}}"
    same = {"A": tag + "A", "B": tag + "B", "D": tag + "D"}
    with RawConnection(proxy.port) as conn:
        for s in setup:
            assert not isinstance(conn.command(*_with_keys(s, cross)), ErrorReply)
        reply = conn.command(*_with_keys(command, cross))
        assert isinstance(reply, ErrorReply) and reply.text == CROSSSLOT, f"{name} across slots: {reply!r}"
        # A real node answers the same.
        with RawConnection(cluster.owner_of_key(cross["A"])) as node:
            node_reply = node.command(*_with_keys(command, cross))
        assert isinstance(node_reply, ErrorReply) and node_reply.text == CROSSSLOT, node_reply

        for s in setup:
            assert not isinstance(conn.command(*_with_keys(s, same)), ErrorReply)
        reply = conn.command(*_with_keys(command, same))
        assert reply == expected, f"{name} within one hash tag: {reply!r}"
        assert conn.command("PING") == b"PONG"


# MARK: - SCAN, KEYS, DBSIZE, INFO keyspace, RANDOMKEY

SCAN_STRINGS = 5000
SCAN_HASHES = 100


@pytest.fixture(scope="module")
def scan_keys(_shared_proxy, run_id):
    """5000 string keys and 100 hashes over all slots, named *:scan:<run_id>:*."""
    p = _shared_proxy.get()
    strings = [key_in_slot((i * SLOT_COUNT) // SCAN_STRINGS, f":scan:{run_id}:s:{i}") for i in range(SCAN_STRINGS)]
    hashes = [key_in_slot((i * 163 + 7) % SLOT_COUNT, f":scan:{run_id}:h:{i}") for i in range(SCAN_HASHES)]
    r = client(p.port)
    try:
        for start in range(0, len(strings), 500):
            assert r.mset({k: "v" for k in strings[start:start + 500]}) is True
        pipe = r.pipeline(transaction=False)
        for h in hashes:
            pipe.hset(h, "f", "v")
        assert pipe.execute() == [1] * SCAN_HASHES
    finally:
        r.close()
    return {"pattern": f"*:scan:{run_id}:*", "strings": set(strings), "hashes": set(hashes), "run_id": run_id}


CURSOR = re.compile(rb"[0-9]+")


def _scan_all(port: int, *options, max_calls: int = 200000, max_seconds: float = 90.0):
    """Walks SCAN from 0 to 0; returns (keys found, number of calls). Checks every cursor."""
    found: list[bytes] = []
    calls = 0
    cursor = b"0"
    deadline = time.monotonic() + max_seconds
    with RawConnection(port) as conn:
        while True:
            reply = conn.command("SCAN", cursor, *options)
            calls += 1
            assert isinstance(reply, list) and len(reply) == 2, reply
            cursor, keys = reply
            assert CURSOR.fullmatch(cursor) and int(cursor) < 2**64, f"cursor {cursor!r} is not an unsigned integer"
            assert cursor == b"0" or not cursor.startswith(b"0"), f"cursor {cursor!r} has a leading zero"
            found += keys
            if cursor == b"0":
                return found, calls
            assert calls < max_calls and time.monotonic() < deadline, "SCAN did not come back to 0"


def _decoded(keys) -> set[str]:
    return {k.decode(errors="surrogateescape") for k in keys}


@pytest.mark.parametrize("count", [10, 1000])
def test_scan_walk(proxy, scan_keys, count):
    everything = scan_keys["strings"] | scan_keys["hashes"]
    found, calls = _scan_all(proxy.port, "MATCH", scan_keys["pattern"], "COUNT", count)
    assert _decoded(found) == everything
    assert calls > 1

    # MATCH a subset: the string keys whose number starts with 12.
    subset = {k for k in scan_keys["strings"] if re.search(r":s:12[0-9]*$", k)}
    found, _ = _scan_all(proxy.port, "MATCH", f"*:scan:{scan_keys['run_id']}:s:12*", "COUNT", count)
    assert _decoded(found) == subset

    found, _ = _scan_all(proxy.port, "MATCH", scan_keys["pattern"], "COUNT", count, "TYPE", "hash")
    assert _decoded(found) == scan_keys["hashes"]
    found, _ = _scan_all(proxy.port, "MATCH", scan_keys["pattern"], "COUNT", count, "TYPE", "string")
    assert _decoded(found) == scan_keys["strings"]


def test_scan_whole_keyspace(proxy, cluster, scan_keys):
    """Without MATCH the walk visits every primary: it finds as many distinct keys as DBSIZE."""
    found, _ = _scan_all(proxy.port, "COUNT", 1000)
    distinct = set(found)
    assert (scan_keys["strings"] | scan_keys["hashes"]) <= _decoded(distinct)
    total = sum(cluster.node(p).dbsize() for p in cluster.primaries())
    # DBSIZE still counts keys that expired but were not yet reclaimed; SCAN skips them.
    volatile = sum(cluster.node(p).info("keyspace").get("db0", {}).get("expires", 0) for p in cluster.primaries())
    assert total - volatile <= len(distinct) <= total


def test_scan_errors(proxy):
    with RawConnection(proxy.port) as conn:
        for bad in ("abc", "-1", "18446744073709551616"):
            reply = conn.command("SCAN", bad)
            assert isinstance(reply, ErrorReply) and reply.text == "ERR invalid cursor", (bad, reply)
        assert conn.command("PING") == b"PONG"


@pytest.mark.parametrize("protocol", [2, 3], ids=["resp2", "resp3"])
def test_scan_iter(proxy, scan_keys, protocol):
    r = client(proxy.port, protocol)
    try:
        found = set(r.scan_iter(match=scan_keys["pattern"], count=500))
        assert _decoded(found) == scan_keys["strings"] | scan_keys["hashes"]
        found = set(r.scan_iter(match=scan_keys["pattern"], count=500, _type="HASH"))
        assert _decoded(found) == scan_keys["hashes"]
    finally:
        r.close()


def test_keys(proxy, cluster, scan_keys):
    r = client(proxy.port)
    try:
        got = r.keys(scan_keys["pattern"])
        assert len(got) == len(set(got)) == SCAN_STRINGS + SCAN_HASHES
        assert _decoded(got) == scan_keys["strings"] | scan_keys["hashes"]
        assert r.keys(f"*:scan:{scan_keys['run_id']}:nothing-matches*") == []
    finally:
        r.close()


def _primaries_sum(cluster: Cluster, fn) -> int:
    return sum(fn(cluster.node(p)) for p in cluster.primaries())


def test_dbsize_sum(proxy, cluster, scan_keys):
    r = client(proxy.port, 3)
    try:
        before = _primaries_sum(cluster, lambda n: n.dbsize())
        got = r.dbsize()
        after = _primaries_sum(cluster, lambda n: n.dbsize())
        assert before == got == after
        assert got >= SCAN_STRINGS + SCAN_HASHES
    finally:
        r.close()


def _keyspace(text: bytes) -> dict[str, dict[str, int]]:
    out = {}
    for line in text.decode().splitlines():
        if line.startswith("db"):
            db, fields = line.split(":", 1)
            out[db] = {k: int(v) for k, v in (f.split("=") for f in fields.split(","))}
    return out


def test_info_keyspace(proxy, cluster, scan_keys, run_id):
    expiring = spread_keys(30, "info-ttl", run_id)
    r = client(proxy.port)
    try:
        for k in expiring:
            assert r.set(k, "x", ex=1000) is True
    finally:
        r.close()
    keys = _primaries_sum(cluster, lambda n: n.info("keyspace").get("db0", {}).get("keys", 0))
    expires = _primaries_sum(cluster, lambda n: n.info("keyspace").get("db0", {}).get("expires", 0))
    assert expires >= 30
    with RawConnection(proxy.port) as conn:
        text = conn.command("INFO", "keyspace")
        assert isinstance(text, bytes) and text.startswith(b"# Keyspace\r\n"), text
        db0 = _keyspace(text)["db0"]
        assert (db0["keys"], db0["expires"]) == (keys, expires)
        # Redis estimates avg_ttl in its expire cycle (0 until it has run): only a bound here.
        assert 0 <= db0["avg_ttl"] <= 1000 * 1000

        conn.command("HELLO", "3")
        conn.send(encode_command("INFO", "keyspace"))
        assert conn.peek(1) == b"=", "RESP3 INFO is a verbatim string"
        text = conn.read_reply()
        assert text.startswith(b"txt:# Keyspace\r\n"), text
        db0 = _keyspace(text[4:])["db0"]
        assert (db0["keys"], db0["expires"]) == (keys, expires)


def test_randomkey(proxy, scan_keys):
    r = client(proxy.port)
    try:
        for _ in range(10):
            k = r.randomkey()
            assert k is not None
            assert r.exists(k) == 1, k
    finally:
        r.close()


# MARK: - Scripts


@pytest.mark.parametrize("protocol", [2, 3], ids=["resp2", "resp3"])
def test_scripts(proxy, cluster, run_id, protocol):
    body = f"return {{KEYS[1], ARGV[1], '{run_id}-{protocol}'}}"
    r = client(proxy.port, protocol)
    try:
        sha = r.script_load(body)
        assert re.fullmatch(r"[0-9a-f]{40}", sha), sha
        for port in cluster.primaries():
            assert cluster.node(port).script_exists(sha) == [True], f"not loaded on primary {port}"
        for port, key in keys_on_each_primary(cluster, f"mk:{run_id}:script").items():
            assert r.evalsha(sha, 1, key, "arg") == [key.encode(), b"arg", f"{run_id}-{protocol}".encode()], port
        assert r.script_exists(sha) == [True]

        # Loaded directly on one primary only: not there as far as the proxy's clients know.
        only_one = f"return 'only on one node {run_id} {protocol}'"
        sha_one = cluster.node(cluster.primaries()[1]).script_load(only_one)
        assert r.script_exists(sha, sha_one, "0" * 40) == [True, False, False]

        # SCRIPT FLUSH reaches every primary.
        assert r.script_flush() is True
        assert r.script_exists(sha, sha_one) == [False, False]
        for port in cluster.primaries():
            assert cluster.node(port).script_exists(sha, sha_one) == [False, False]
    finally:
        r.close()


def test_functions(proxy, cluster, run_id):
    library, function = f"mklib_{run_id}", f"mk_{run_id}"
    code = f"#!lua name={library}\nredis.register_function('{function}', function(keys, args) return keys[1] end)"
    r = client(proxy.port)
    try:
        assert r.function_load(code) == library.encode()
        for port in cluster.primaries():
            listed = cluster.node(port).function_list(library=library)
            assert [entry[b"library_name"] if isinstance(entry, dict) else entry[1] for entry in listed] == [library.encode()], port
        for port, key in keys_on_each_primary(cluster, f"mk:{run_id}:fcall").items():
            assert r.fcall(function, 1, key) == key.encode(), port
        # Loading it again fails on every primary: one error, not a result.
        with pytest.raises(redis.ResponseError, match="already exists"):
            r.function_load(code)
        assert r.function_delete(library) is True
        for port in cluster.primaries():
            assert cluster.node(port).function_list(library=library) == [], port
    finally:
        r.close()


# MARK: - Clusters of their own


@pytest.fixture
def own_cluster(run_dir):
    """A fresh 3+3 cluster for one test (node timeout 15 s: no failover while a test runs)."""
    cluster = Cluster.start_retrying(run_dir, node_timeout=15000)
    try:
        cluster.slot_owners()
        yield cluster
    finally:
        cluster.stop()


def test_flushall_own_cluster(own_cluster, start_proxy, run_id):
    c = own_cluster
    p = start_proxy(seeds=c.seeds)
    r = client(p.port)
    r3 = client(p.port, 3)
    try:
        keys = spread_keys(300, "flush", run_id)
        for command in ("FLUSHALL", "FLUSHDB"):
            assert r.mset({k: "x" for k in keys}) is True
            assert all(c.node(port).dbsize() > 0 for port in c.primaries())
            assert r.execute_command(command) is True
            assert [c.node(port).dbsize() for port in c.primaries()] == [0, 0, 0], command
            assert r.dbsize() == 0
        assert r.keys("*") == []
        found, calls = _scan_all(p.port, "COUNT", 100)
        assert found == [] and calls == 3, (found, calls)
        assert r.randomkey() is None
        with RawConnection(p.port) as conn:
            assert conn.command("INFO", "keyspace") == b"# Keyspace\r\n"
            conn.send(encode_command("RANDOMKEY"))
            assert conn.read_exact(5) == b"$-1\r\n"
            conn.command("HELLO", "3")
            conn.send(encode_command("RANDOMKEY"))
            assert conn.read_exact(3) == b"_\r\n"
        assert r3.randomkey() is None
        # One key on one primary: every RANDOMKEY names it (the other primaries' nils are skipped).
        only = keys[150]
        assert r.set(only, "x") is True
        assert {r.randomkey() for _ in range(10)} == {only.encode()}
        assert r3.randomkey() == only.encode()
    finally:
        r.close()
        r3.close()


def _kill_node(cluster: Cluster, port: int) -> None:
    """SIGKILL the redis-server of one node of our own cluster, by its recorded PID."""
    pid = int(Path(cluster.dir, f"{port}.pid").read_text())
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    assert b"redis-server" in cmdline and str(port).encode() in cmdline, cmdline
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        if Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z":
            return
        time.sleep(0.05)
    raise AssertionError(f"node {port} (PID {pid}) did not die")


def test_primary_down_fanout(own_cluster, start_proxy, run_id):
    # The proxy holds requests for an unreachable primary for failover-hold-ms (no failover
    # comes here: node timeout 15 s), then answers an error naming it; never a partial result.
    c = own_cluster
    p = start_proxy(seeds=c.seeds, extra_args=["--failover-hold-ms", "300"])
    started = time.monotonic()
    per_primary = keys_on_each_primary(c, f"mk:{run_id}:down")
    dead = c.primaries()[1]
    alive_key = per_primary[c.primaries()[0]]
    keys = list(per_primary.values())
    with RawConnection(p.port) as conn:
        assert conn.command("MSET", *[x for k in keys for x in (k, "v")]) == b"OK"
        assert conn.command("DBSIZE") == 4  # and the key the proxy's readiness check set
        _kill_node(c, dead)
        node = re.escape(f"127.0.0.1:{dead}")
        # Single-slot requests to the live primaries still work.
        assert conn.command("GET", alive_key) == b"v"
        for attempt in range(2):
            for command, part_name, parts in [(("DBSIZE",), "primaries", 3), (("KEYS", "*"), "primaries", 3),
                                              (("MGET", *keys), "slots", 3), (("MSET", *[x for k in keys for x in (k, "w")]), "slots", 3),
                                              (("DEL", keys[1], keys[2] + ":missing"), "slots", 2), (("EXISTS", *keys), "slots", 3)]:
                reply = conn.command(*command)
                assert isinstance(reply, ErrorReply), f"{command[0]} with primary {dead} down: {reply!r}"
                assert re.fullmatch(rf"ERR slotproxy: 1 of {parts} {part_name} failed: .*{node}\b.*", reply.text), \
                    f"{command[0]}: {reply.text}"
        # A SCAN walk fails when it reaches the dead primary, never skipping it silently.
        cursor, seen_error = b"0", None
        for _ in range(1000):
            reply = conn.command("SCAN", cursor, "COUNT", 1000)
            if isinstance(reply, ErrorReply):
                seen_error = reply.text
                break
            cursor = reply[0]
            assert cursor != b"0", "SCAN completed a walk without the dead primary"
        assert seen_error is not None and re.search(node, seen_error), seen_error
        # The parts on live primaries did run (MSET wrote w there); only the reply is an error.
        assert conn.command("GET", alive_key) == b"w"
        assert conn.command("PING") == b"PONG"
    assert time.monotonic() - started < 12, "the test ran into the node timeout (a failover may have begun)"


def test_script_kill_own_cluster(own_cluster, start_proxy):
    """SCRIPT KILL goes to every primary; the one running a script answers OK, the others NOTBUSY:
    the client gets OK (Redis's tip: one_succeeded). With no script anywhere: NOTBUSY, as Redis."""
    c = own_cluster
    p = start_proxy(seeds=c.seeds)
    busy = c.primaries()[2]
    c.node(busy).config_set("busy-reply-threshold", 100)
    with RawConnection(p.port) as conn:
        reply = conn.command("SCRIPT", "KILL")
        assert isinstance(reply, ErrorReply) and reply.text.startswith("NOTBUSY"), reply

        script = ("local s = tonumber(redis.call('TIME')[1]) "
                  "while tonumber(redis.call('TIME')[1]) < s + 10 do end return 1")
        runner = RawConnection(busy)
        outcome: list = []
        thread = threading.Thread(target=lambda: outcome.append(runner.command("EVAL", script, 0)), daemon=True)
        started = time.monotonic()
        thread.start()
        try:
            time.sleep(0.5)  # past the busy threshold: the node answers SCRIPT KILL now
            reply = conn.command("SCRIPT", "KILL")
            assert reply == b"OK", reply
            thread.join(15)
            assert outcome and isinstance(outcome[0], ErrorReply) and "killed" in outcome[0].text.lower(), outcome
            assert time.monotonic() - started < 5, "the script ran to its end: SCRIPT KILL did not reach it"
        finally:
            thread.join(15)
            runner.close()
        assert conn.command("PING") == b"PONG"
