"""Integration tests for the proxy's foundation: routing by slot, pipelining, protocol behaviour.

Tests taking `target` run twice: [proxy] through slotproxy over all 16384 slots, and [redis]
against one real primary of the cluster over the slots it owns. The [redis] run checks the test
itself and the expected texts against Redis; the [proxy] run is the one that tests slotproxy.

What each test checks (each fails when its feature breaks; every one is bounded in time):
  test_every_slot_set_get          SET+GET of a key in every slot, pipelined in batches; each value
                                   read back through the target AND on the primary owning its slot
                                   (per CLUSTER SLOTS), so a key routed to the wrong node fails.
  test_20000_mixed_pipeline        20000 SET/GET/INCR/DEL/EXISTS over keys in all slots, written as
                                   raw RESP in one write; replies in order and equal to a python
                                   model of the keyspace; nothing extra after the last reply.
  test_concurrent_clients          24 threads, 300 SET+GET each on their own keys, RESP2 and RESP3
                                   connections mixed: every reply correct.
  test_binary_safe                 values with CRLF, NUL, a 1 MB value, an empty value; keys with
                                   spaces and binary bytes; read back and checked on the owner.
  test_hash_tags_single_slot       {user42}:a and {user42}:b share a slot: MSET/MGET work and the
                                   keys sit on one node.
  test_cross_slot_rejected         MSETNX and RENAME of keys in two slots get
                                   "CROSSSLOT Keys in request don't hash to the same slot"
                                   (commands that cannot be split; MGET is split: test_multikey).
  test_redis_cli_stdin             `redis-cli` with commands piped in prints OK / the value.
  test_redis_cli_interactive       `redis-cli` on a pty (it sends COMMAND DOCS first): SET/GET.
  test_redis_py_commands           redis-py with its default protocol (RESP3 in redis-py 8:
                                   HELLO 3), protocol=2 and protocol=3: SET/GET/HSET/HGETALL/INCR/
                                   EXPIRE/TTL.
  test_ping_echo_select            PING, ECHO, SELECT 0 (+OK), SELECT 1 (cluster-mode error).
  test_command_errors_keep_connection   unknown command and wrong arity: Redis's error texts, and
                                   the connection answers PING afterwards.
  test_inline_commands             inline PING, SET then GET.
  test_protocol_error_closes       malformed requests get Redis's exact protocol error, then the
                                   connection is closed.
  test_hello                       HELLO 3 gives a RESP3 map (proto 3) and RESP3 nulls/maps after;
                                   HELLO 2 an array (proto 2) and RESP2 nulls; HELLO 4 -NOPROTO.
  test_first_seed_down             a proxy whose first seed is down still becomes ready (within
                                   30 s) and serves: [refused] a closed port, [unresponsive] a port
                                   that accepts connections but never answers.
  test_redis_benchmark             redis-benchmark -t set,get -n 20000 -P 16 through the proxy
                                   finishes with no error replies (one key, then random keys).
"""

from __future__ import annotations

import random
import socket
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor

import pexpect
import pytest
import redis

from support import (
    ErrorReply,
    RawConnection,
    RespMap,
    encode_command,
    closed_port,
    key_in_slot,
    key_slot,
)

CROSSSLOT = "CROSSSLOT Keys in request don't hash to the same slot"


def error_text(exc_or_reply) -> str:
    return exc_or_reply.text if isinstance(exc_or_reply, ErrorReply) else str(exc_or_reply)


# MARK: - Routing


def test_every_slot_set_get(target, resp2, cluster, run_id):
    keys = [key_in_slot(slot, f":every:{run_id}:{target.name}") for slot in target.slots]
    values = [f"v{slot}-{run_id}".encode() for slot in target.slots]
    batch = 1024
    for start in range(0, len(keys), batch):
        pipe = resp2.pipeline(transaction=False)
        for k, v in zip(keys[start : start + batch], values[start : start + batch]):
            pipe.set(k, v)
        assert all(r is True for r in pipe.execute()), f"a SET failed in batch at {start}"
    for start in range(0, len(keys), batch):
        pipe = resp2.pipeline(transaction=False)
        for k in keys[start : start + batch]:
            pipe.get(k)
        got = pipe.execute()
        assert got == values[start : start + batch], f"GET through {target.name} differs in batch at {start}"
    direct = cluster.get_many_direct(keys)
    wrong = [(key_slot(k), k) for k, v, d in zip(keys, values, direct) if v != d]
    assert not wrong, f"{len(wrong)} keys are not on the primary owning their slot, e.g. {wrong[:5]}"


def _mixed_model(target, run_id, count: int, seed: int = 20000):
    """Requests and the RESP2 replies a correct server gives, from a python model of the keys."""
    rng = random.Random(seed)
    strings = target.keys(400, f"mixed-s:{run_id}")
    counters = target.keys(100, f"mixed-c:{run_id}")
    model: dict[str, bytes] = {}
    requests, expected = [], []
    for i in range(count):
        op = rng.random()
        if op < 0.25:
            k, v = rng.choice(strings), f"value-{i}".encode()
            requests.append(("SET", k, v))
            model[k] = v
            expected.append(b"OK")
        elif op < 0.50:
            k = rng.choice(strings + counters)
            requests.append(("GET", k))
            expected.append(model.get(k))
        elif op < 0.70:
            k = rng.choice(counters)
            requests.append(("INCR", k))
            n = int(model.get(k, b"0")) + 1
            model[k] = str(n).encode()
            expected.append(n)
        elif op < 0.80:
            k = rng.choice(strings + counters)
            requests.append(("DEL", k))
            expected.append(1 if model.pop(k, None) is not None else 0)
        else:
            k = rng.choice(strings + counters)
            requests.append(("EXISTS", k))
            expected.append(1 if k in model else 0)
    return requests, expected


def test_20000_mixed_pipeline(target, raw, run_id):
    requests, expected = _mixed_model(target, run_id, 20000)
    payload = b"".join(encode_command(*r) for r in requests)
    conn = raw()
    # One write of the whole pipeline, from a thread so that reading replies never waits on it
    # (a proxy may stop reading while its replies are not drained, as Redis's peers may).
    send_error: list[BaseException] = []

    def send():
        try:
            conn.send(payload)
        except BaseException as e:  # reported below, after the replies that did arrive
            send_error.append(e)

    writer = threading.Thread(target=send, daemon=True)
    writer.start()
    got = []
    try:
        for _ in range(len(requests)):
            got.append(conn.read_reply())
    finally:
        writer.join(20)
    assert not send_error, f"writing the pipeline failed: {send_error[0]!r}"
    for i, (g, e) in enumerate(zip(got, expected)):
        assert g == e, f"reply {i} to {requests[i][:2]} is {g!r}, expected {e!r}"
    assert conn.read_all_available(0.3) == b"", "extra bytes after the last reply"


def test_concurrent_clients(target, run_id):
    threads, rounds = 24, 300

    def worker(t: int) -> int:
        client = redis.Redis(host="127.0.0.1", port=target.port, protocol=2 + t % 2, socket_timeout=20)
        try:
            keys = target.keys(rounds, f"conc:{run_id}:{t}")
            for i, k in enumerate(keys):
                v = f"t{t}-i{i}".encode()
                assert client.set(k, v) is True
                got = client.get(k)
                assert got == v, f"thread {t} key {k}: got {got!r}, expected {v!r}"
            return len(keys)
        finally:
            client.close()

    with ThreadPoolExecutor(threads) as pool:
        done = list(pool.map(worker, range(threads), timeout=120))
    assert sum(done) == threads * rounds


def test_binary_safe(target, resp2, cluster, run_id):
    tag = f"bin:{run_id}:".encode()
    values = {
        b"crlf": b"line1\r\nline2\r\n*1\r\n$3\r\nfoo\r\n",
        b"nul": b"\x00a\x00b\x00",
        b"empty": b"",
        b"mega": random.Random(7).randbytes(1 << 20),
        b"high": bytes(range(256)),
    }
    pairs = []
    for name, value in values.items():
        pairs.append((target.find_key(tag + name + b":"), value))
    pairs.append((target.find_key(tag + b"key with spaces "), b"spaced"))
    pairs.append((target.find_key(tag + b"\x00\r\n\xff\xfe binary key "), b"binary key"))
    for k, v in pairs:
        assert resp2.set(k, v) is True, f"SET {k!r}"
    for k, v in pairs:
        assert resp2.get(k) == v, f"GET {k[:40]!r} through {target.name}"
        assert resp2.strlen(k) == len(v)
    direct = cluster.get_many_direct([k for k, _ in pairs])
    for (k, v), d in zip(pairs, direct):
        assert d == v, f"{k[:40]!r} is not on the primary owning slot {key_slot(k)}"


def _user_tag(target) -> str:
    """{user42} when the target serves its slot, else the first {userN} it serves."""
    n = 42
    while not target.serves(f"user{n}"):
        n += 1
    return f"user{n}"


def test_hash_tags_single_slot(target, resp2, cluster, run_id):
    tag = _user_tag(target)
    a, b = f"{{{tag}}}:a", f"{{{tag}}}:b"
    assert key_slot(a) == key_slot(b) == key_slot(tag)
    va, vb = f"a-{run_id}".encode(), f"b-{run_id}".encode()
    assert resp2.mset({a: va, b: vb}) is True
    assert resp2.mget([a, b]) == [va, vb]
    owner = cluster.owner_of_key(a)
    assert cluster.node(owner).mget([a, b]) == [va, vb]


def test_cross_slot_rejected(target, raw, run_id):
    keys = target.keys(2, f"xslot:{run_id}")
    assert key_slot(keys[0]) != key_slot(keys[1])
    conn = raw()
    # MSETNX cannot be split (all or nothing across slots): rejected. (MGET is split and merged
    # by the proxy; test_multikey.py tests it.)
    reply = conn.command("MSETNX", keys[0], "1", keys[1], "2")
    assert isinstance(reply, ErrorReply) and reply.text == CROSSSLOT, reply
    conn.command("SET", keys[0], "x")
    reply = conn.command("RENAME", keys[0], keys[1])
    assert isinstance(reply, ErrorReply) and reply.text == CROSSSLOT, reply
    assert conn.command("PING") == b"PONG"


# MARK: - Real clients


def test_redis_cli_stdin(target, run_id):
    key = target.find_key(f"cli-stdin:{run_id}:".encode()).decode()
    result = subprocess.run(
        ["redis-cli", "-h", "127.0.0.1", "-p", str(target.port)],
        input=f"SET {key} hello\nGET {key}\n".encode(),
        capture_output=True, timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"OK\nhello\n", result.stdout


def test_redis_cli_interactive(target, run_id):
    key = target.find_key(f"cli-pty:{run_id}:".encode()).decode()
    child = pexpect.spawn("redis-cli", ["-h", "127.0.0.1", "-p", str(target.port)],
                          env={"TERM": "dumb", "PATH": "/usr/bin:/bin"}, timeout=15)
    try:
        prompt = rf"127\.0\.0\.1:{target.port}> "
        child.expect(prompt)
        child.sendline(f"SET {key} hello-pty")
        child.expect(r"OK\r\n")
        child.expect(prompt)
        child.sendline(f"GET {key}")
        child.expect(r'"hello-pty"\r\n')
        child.expect(prompt)
        child.sendline("PING")
        child.expect(r"PONG\r\n")
        child.expect(prompt)
        child.sendline("quit")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)


@pytest.mark.parametrize("protocol", [None, 2, 3], ids=["default", "resp2", "resp3"])
def test_redis_py_commands(target, protocol, run_id):
    kwargs = {} if protocol is None else {"protocol": protocol}
    r = redis.Redis(host="127.0.0.1", port=target.port, socket_timeout=20, **kwargs)
    try:
        label = f"py:{run_id}:{protocol}"
        s, h, c, e = target.keys(4, label)
        assert r.set(s, "value") is True
        assert r.get(s) == b"value"
        assert r.hset(h, mapping={"f1": "v1", "f2": "v2"}) == 2
        assert r.hgetall(h) == {b"f1": b"v1", b"f2": b"v2"}
        assert r.incr(c) == 1
        assert r.incr(c, 41) == 42
        assert r.set(e, "soon gone") is True
        assert r.expire(e, 100) is True
        assert 90 <= r.ttl(e) <= 100
        assert r.ttl(s) == -1
        assert r.get(s + ":missing") is None
    finally:
        r.close()


# MARK: - Protocol over raw sockets


def test_ping_echo_select(target, raw):
    conn = raw()
    conn.send(b"*1\r\n$4\r\nPING\r\n")
    assert conn.read_exact(7) == b"+PONG\r\n"
    conn.send(b"*2\r\n$4\r\nPING\r\n$5\r\nhello\r\n")
    assert conn.read_exact(11) == b"$5\r\nhello\r\n"
    conn.send(b"*2\r\n$4\r\nECHO\r\n$12\r\nhello\r\nworld\r\n")
    assert conn.read_exact(19) == b"$12\r\nhello\r\nworld\r\n"
    assert conn.command("SELECT", "0") == b"OK"
    reply = conn.command("SELECT", "1")
    assert isinstance(reply, ErrorReply) and reply.text == "ERR SELECT is not allowed in cluster mode", reply
    assert conn.command("PING") == b"PONG"


def test_command_errors_keep_connection(target, raw):
    conn = raw()
    reply = conn.command("nosuchcommand", "arg1", "arg2")
    assert isinstance(reply, ErrorReply), reply
    assert reply.text.startswith("ERR unknown command 'nosuchcommand'"), reply
    assert conn.command("PING") == b"PONG"
    reply = conn.command("GET")
    assert isinstance(reply, ErrorReply) and reply.text == "ERR wrong number of arguments for 'get' command", reply
    assert conn.command("PING") == b"PONG"


def test_inline_commands(target, raw, run_id):
    key = target.find_key(f"inline:{run_id}:".encode())
    conn = raw()
    conn.send(b"PING\r\n")
    assert conn.read_exact(7) == b"+PONG\r\n"
    conn.send(b"SET " + key + b" b\r\n")
    assert conn.read_exact(5) == b"+OK\r\n"
    conn.send(b"GET " + key + b"\r\n")
    assert conn.read_exact(7) == b"$1\r\nb\r\n"
    conn.send(b"SET " + key + b' "two words"\nGET ' + key + b"\n")  # bare \n ends a line too
    assert conn.read_exact(5 + 15) == b"+OK\r\n$9\r\ntwo words\r\n"


PROTOCOL_ERRORS = {
    "multibulk-length": (b"*abc\r\n", "ERR Protocol error: invalid multibulk length"),
    "bulk-length": (b"*1\r\n$abc\r\n", "ERR Protocol error: invalid bulk length"),
    "expected-dollar": (b"*1\r\n+x\r\n", "ERR Protocol error: expected '$', got '+'"),
    "unbalanced-quotes": (b'SET "a b\r\n', "ERR Protocol error: unbalanced quotes in request"),
    "too-big-inline": (b"a" * 70000, "ERR Protocol error: too big inline request"),
}


@pytest.mark.parametrize("case", list(PROTOCOL_ERRORS))
def test_protocol_error_closes(target, raw, case):
    data, expected = PROTOCOL_ERRORS[case]
    conn = raw()
    assert conn.command("PING") == b"PONG"
    try:
        conn.send(data)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the reply may already be on its way; read it below
    reply = conn.read_reply()
    assert isinstance(reply, ErrorReply) and reply.text == expected, reply
    assert conn.is_closed_by_peer(5.0), "the connection stayed open after a protocol error"


def test_hello(target, raw, run_id):
    missing = target.find_key(f"hello-missing:{run_id}:".encode())
    hkey = target.find_key(f"hello-hash:{run_id}:".encode())
    conn = raw()
    assert conn.command("HSET", hkey, "f", "v") == 1

    conn.send(encode_command("HELLO", "3"))
    head = conn.peek(1)
    assert head == b"%", f"HELLO 3 should answer a RESP3 map, got a reply starting {head!r}"
    hello = conn.read_reply()
    assert isinstance(hello, RespMap) and hello.get(b"proto") == 3, hello
    conn.send(encode_command("GET", missing))
    assert conn.read_exact(3) == b"_\r\n"
    assert conn.command("HGETALL", hkey) == RespMap([(b"f", b"v")])

    conn.send(encode_command("HELLO", "2"))
    head = conn.peek(1)
    assert head == b"*", f"HELLO 2 should answer an array, got a reply starting {head!r}"
    hello = conn.read_reply()
    assert isinstance(hello, list) and not isinstance(hello, RespMap)
    fields = dict(zip(hello[::2], hello[1::2]))
    assert fields.get(b"proto") == 2, hello
    conn.send(encode_command("GET", missing))
    assert conn.read_exact(5) == b"$-1\r\n"
    assert conn.command("HGETALL", hkey) == [b"f", b"v"]

    reply = conn.command("HELLO", "4")
    assert isinstance(reply, ErrorReply) and reply.text == "NOPROTO unsupported protocol version", reply
    assert conn.command("PING") == b"PONG"
    assert conn.command("GET", missing) is None  # still RESP2 after the refused HELLO


# MARK: - Proxy start-up and load


@pytest.mark.parametrize("down", ["refused", "unresponsive"])
def test_first_seed_down(start_proxy, cluster, run_id, down):
    silent = None
    if down == "refused":  # nothing listens: connect fails at once
        seed_port = closed_port()
    else:  # accepts connections (kernel backlog) but never answers: needs a timeout
        silent = socket.socket()
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        seed_port = silent.getsockname()[1]
    try:
        p = start_proxy(seeds=f"127.0.0.1:{seed_port},{cluster.seeds}")
        _check_serves(p, cluster, run_id)
    finally:
        if silent is not None:
            silent.close()


def _check_serves(p, cluster, run_id):
    with RawConnection(p.port) as conn:
        for slot in (0, 5000, 10000, 16383):
            key = key_in_slot(slot, f":seed-down:{run_id}")
            assert conn.command("SET", key, f"v{slot}") == b"OK"
            assert conn.command("GET", key) == f"v{slot}".encode()
            assert cluster.get_direct(key) == f"v{slot}".encode()


@pytest.mark.parametrize("keys", ["one-key", "random-keys"])
def test_redis_benchmark(proxy, cluster, keys):
    args = ["redis-benchmark", "-h", "127.0.0.1", "-p", str(proxy.port), "-t", "set,get",
            "-n", "20000", "-P", "16", "-q"]
    if keys == "random-keys":
        args += ["-r", "100000"]
    result = subprocess.run(args, capture_output=True, timeout=120)
    out = result.stdout.decode(errors="replace") + result.stderr.decode(errors="replace")
    assert result.returncode == 0, out
    assert "Error from server" not in out, out
    lines = [l for l in out.replace("\r", "\n").splitlines() if "requests per second" in l]
    assert any(l.startswith("SET:") for l in lines) and any(l.startswith("GET:") for l in lines), out
    if keys == "one-key":  # the SETs reached the primary owning the key: a 3-byte value (-d 3)
        value = cluster.get_direct("key:__rand_int__")
        assert value is not None and len(value) == 3, value
