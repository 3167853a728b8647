"""Integration tests for commands with server-side state, through the real proxy: transactions,
WATCH, blocking commands, pub/sub (plain, pattern, sharded) and scripts.

The proxy queues MULTI … EXEC itself and sends the batch in one piece; WATCH lives on the
client's own connection; blocking commands wait on connections of their own (at most
`max-blocking-clients`); subscriptions get a pub/sub connection whose every reply goes to the
client; EVALSHA that meets NOSCRIPT is healed from the scripts loaded through the proxy.
Where exact bytes matter, the same requests go to the real primary owning the slot and the
proxy's bytes must equal the node's. Values are checked directly on the owning primary.
Every socket read has a timeout, so a broken feature makes a test fail, never hang.

What each test checks:
  test_transaction_one_tag          MULTI, SET/INCR/GET, EXEC on one hash tag: EXEC's reply bytes
                                    equal a real node's (RESP2, RESP3); values on the node.
  test_transaction_redis_py         redis-py pipeline(transaction=True) (RESP2, RESP3).
  test_transaction_crossslot        a key of another slot inside MULTI: that command gets CROSSSLOT,
                                    EXEC gets EXECABORT, nothing applied (checked on the nodes);
                                    the same through redis-py; the session works afterwards.
  test_discard                      MULTI … DISCARD: +OK, nothing applied, the session works.
  test_transaction_errors_as_redis  EXEC/DISCARD without MULTI, nested MULTI (the transaction goes
                                    on), WATCH inside MULTI, unknown command and wrong arity inside
                                    MULTI (EXECABORT): byte for byte as a real node.
  test_unwatch_inside_multi         UNWATCH inside MULTI is queued and answers OK, as on a node.
  test_after_exec_session_normal    after EXEC and DISCARD, plain commands on keys of every primary.
  test_transactions_concurrent      8 clients' transactions on one counter and 4 clients' plain
                                    pipelines on the same primary: every EXEC whole and atomic.
  test_watch_conflict               WATCH, another client writes, EXEC: nil (exact bytes as a node,
                                    RESP2/RESP3); redis-py WatchError; nothing applied.
  test_watch_no_conflict            WATCH, MULTI, EXEC with nobody else writing applies (raw and
                                    redis-py's watch/multi/execute).
  test_unwatch                      WATCH, UNWATCH, another client writes: EXEC still applies.
  test_watch_crossslot              WATCH of keys in two slots: CROSSSLOT.
  test_blpop_timeout                BLPOP with a 1 s timeout returns nil (exact bytes, RESP2/3)
                                    no earlier than ~its timeout; redis-py blpop returns None.
  test_blpop_wakes                  BLPOP waits (nothing arrives) until another client LPUSHes.
  test_blocking_pipelined_order     requests pipelined behind a blocking command run after it (BLPOP
                                    k 1 + RPUSH k v: nil, as a node); two wait one after the other.
  test_replies_before_blocking      replies to requests pipelined before a blocking command, on
                                    every primary, arrive while it still waits (the proxy's
                                    one-write-per-batch deferral never waits for a blocked reply).
  test_other_blocking_commands      BRPOP, BLMOVE, BZPOPMIN on one hash tag, waking on a write.
  test_blocking_crossslot           BLPOP / BRPOP / BLMOVE / BZPOPMIN / XREAD BLOCK across slots:
                                    CROSSSLOT as a node answers, and nothing blocks.
  test_50_blocked_clients           50 clients blocked at once (BLPOP, distinct keys on every
                                    primary) while 8 others do 1600 SET/GET correctly; then a push
                                    to every key wakes each blocked client with its own value.
  test_info_blocked_clients         INFO clients blocked_clients counts waiting clients (skipped
                                    with a message when the proxy does not report the field).
  test_blocked_disconnect_releases  --max-blocking-clients 3: a 4th BLPOP gets an error naming
                                    max-blocking-clients; a blocked client that disconnects frees
                                    its place (a new BLPOP blocks) and its node connection (a
                                    value pushed to its key stays in the list).
  test_xread_block                  XREAD BLOCK times out with nil, and wakes on XADD.
  test_xreadgroup_block             XREADGROUP BLOCK wakes on XADD, the entry is pending for it.
  test_subscribe_messages           redis-py pubsub (RESP2, RESP3): SUBSCRIBE and PSUBSCRIBE get
                                    messages published through the proxy and directly on every
                                    node of the cluster.
  test_subscribed_mode_resp2        RESP2 subscribed mode, byte for byte as a node: GET refused with
                                    Redis's text, PING as *2 pong "", UNSUBSCRIBE to zero leaves the
                                    mode and GET/SET work again.
  test_resp3_push                   HELLO 3 then SUBSCRIBE: confirmations and messages are `>`
                                    pushes, as a node sends them; GET works while subscribed.
  test_pubsub_pipelined             (un)subscribe pipelined with other commands in one write, as a
                                    node answers: later requests see the state the (un)subscribe
                                    left (RESP2 mode begins and ends in the right place), replies in
                                    order (RESP3), UNSUBSCRIBE a b answers twice with only a held.
  test_ssubscribe_pipelined         SSUBSCRIBE/SUNSUBSCRIBE over three primaries in one write:
                                    request order, the client's counts.
  test_unsubscribe_when_not_subscribed   (P|S)UNSUBSCRIBE with no subscription: Redis's bytes
                                    (a `>` push in RESP3).
  test_ssubscribe                   SSUBSCRIBE to channels on every primary in one client: counts
                                    1, 2, 3 as one server counts; SPUBLISH through the proxy and on
                                    the owner reaches it; SUNSUBSCRIBE of one keeps the others and
                                    subscribed mode; SUNSUBSCRIBE of all counts down to 0 with no
                                    extra frame; SSUBSCRIBE across slots: CROSSSLOT.
  test_ssubscribe_counts_as_redis   3 shard channels of one primary: bytes equal to the node's.
  test_ssubscribe_survives_slot_migration   on a cluster of its own: the channel's slot moves to
                                    another primary; SPUBLISH through the proxy still reaches the
                                    subscriber, who sees no unsolicited (s)unsubscribe.
  test_eval_evalsha_fcall           EVAL, EVALSHA, FCALL (library loaded through the proxy), EVAL
                                    across slots (CROSSSLOT), EVAL with 0 keys (RESP2, RESP3).
  test_noscript_healing             SCRIPT LOAD through the proxy, SCRIPT FLUSH on every primary
                                    directly: EVALSHA through the proxy still runs on a key of every
                                    primary; an unknown sha gets Redis's NOSCRIPT text.
  test_rate_limiter                 the sliding-window rate limiter via redis-py register_script
                                    allows exactly 100 of 105 calls (RESP2, RESP3).
"""

from __future__ import annotations

import select
import threading
import time

import pytest
import redis

from support import (
    Cluster,
    ErrorReply,
    RawConnection,
    encode_command,
    info_field,
    key_in_slot,
    key_slot,
    migrate_slot,
)

CROSSSLOT = "CROSSSLOT Keys in request don't hash to the same slot"
EXECABORT = "EXECABORT Transaction discarded because of previous errors."


# MARK: - Helpers


def client(port: int, protocol: int = 2) -> redis.Redis:
    return redis.Redis(host="127.0.0.1", port=port, protocol=protocol, socket_timeout=20)


def slot_on(cluster: Cluster, index: int, offset: int = 7) -> int:
    """A slot owned by the index-th primary (not its first: offset into its range)."""
    slots = cluster.slots_of(cluster.primaries()[index])
    return slots[offset % len(slots)]


def tagged(slot: int, run_id: str, label: str) -> str:
    return key_in_slot(slot, f":{run_id}:{label}")


def read_raw(conn: RawConnection) -> bytes:
    """The exact bytes of the next complete reply."""
    start = conn.pos
    conn.read_reply()
    assert conn.pos >= start, "reply too large for read_raw"
    return bytes(conn.buf[start:conn.pos])


def run_raw(port: int, commands, hello3: bool = False, pipelined_replies: int | None = None) -> list[bytes]:
    """Each command sent and its reply's exact bytes read, one after the other; or, with
    pipelined_replies, every command in one write and that many replies read."""
    with RawConnection(port, timeout=10) as conn:
        if hello3:
            conn.command("HELLO", "3")
        if pipelined_replies is not None:
            conn.send(b"".join(encode_command(*command) for command in commands))
            out = [read_raw(conn) for _ in range(pipelined_replies)]
            assert nothing_arrives(conn, 0.3), f"more than {pipelined_replies} replies"
            return out
        out = []
        for command in commands:
            conn.send(encode_command(*command))
            out.append(read_raw(conn))
        return out


def same_as_node(cluster: Cluster, proxy_port: int, keys: list[str], commands, hello3: bool = False,
                 pipelined_replies: int | None = None) -> list[bytes]:
    """Runs the commands on the primary owning keys[0] and then through the proxy, each time on
    freshly deleted keys, asserts the reply bytes are equal, and returns them."""
    node = cluster.owner_of_key(keys[0])
    for key in keys:  # one by one, on its owner: they may be in several slots
        cluster.node(cluster.owner_of_key(key)).delete(key)
    expected = run_raw(node, commands, hello3, pipelined_replies)
    for key in keys:
        cluster.node(cluster.owner_of_key(key)).delete(key)
    got = run_raw(proxy_port, commands, hello3, pipelined_replies)
    assert got == expected, f"proxy and node differ:\n proxy {got}\n node  {expected}"
    return got


def nothing_arrives(conn: RawConnection, seconds: float) -> bool:
    """True when no byte arrives on conn within `seconds`."""
    if len(conn.buf) > conn.pos:
        return False
    readable, _, _ = select.select([conn.sock], [], [], seconds)
    return not readable


def keys_on_each_primary(cluster: Cluster, run_id: str, label: str) -> dict[int, str]:
    return {port: tagged(slot_on(cluster, i), run_id, label) for i, port in enumerate(cluster.primaries())}


# MARK: - Transactions


@pytest.mark.parametrize("hello3", [False, True], ids=["resp2", "resp3"])
def test_transaction_one_tag(proxy, cluster, run_id, hello3):
    slot = slot_on(cluster, 1)
    a, b = tagged(slot, run_id, f"tx:a:{hello3}"), tagged(slot, run_id, f"tx:b:{hello3}")
    replies = same_as_node(cluster, proxy.port, [a, b], [
        ("MULTI",), ("SET", a, "10"), ("INCR", a), ("GET", a), ("RPUSH", b, "x", "y"), ("LRANGE", b, 0, -1), ("EXEC",),
    ], hello3)
    assert replies[0] == b"+OK\r\n" and replies[1:6] == [b"+QUEUED\r\n"] * 5
    assert replies[6] == b"*5\r\n+OK\r\n:11\r\n$2\r\n11\r\n:2\r\n*2\r\n$1\r\nx\r\n$1\r\ny\r\n"
    owner = cluster.node(cluster.owner_of_key(a))
    assert owner.get(a) == b"11" and owner.lrange(b, 0, -1) == [b"x", b"y"]


@pytest.mark.parametrize("protocol", [2, 3], ids=["resp2", "resp3"])
def test_transaction_redis_py(proxy, cluster, run_id, protocol):
    slot = slot_on(cluster, 2)
    a, h = tagged(slot, run_id, f"txpy:a:{protocol}"), tagged(slot, run_id, f"txpy:h:{protocol}")
    r = client(proxy.port, protocol)
    try:
        pipe = r.pipeline(transaction=True)
        pipe.set(a, 5).incr(a).incrby(a, 10).get(a).hset(h, mapping={"f": "1", "g": "2"}).hgetall(h)
        assert pipe.execute() == [True, 6, 16, b"16", 2, {b"f": b"1", b"g": b"2"}]
        assert cluster.get_direct(a) == b"16"
        assert cluster.node(cluster.owner_of_key(h)).hgetall(h) == {b"f": b"1", b"g": b"2"}
    finally:
        r.close()


def test_transaction_crossslot(proxy, cluster, run_id):
    a = tagged(slot_on(cluster, 0), run_id, "txx:a")
    same_node = tagged(slot_on(cluster, 0, offset=100), run_id, "txx:same-node")  # another slot, same primary
    other = tagged(slot_on(cluster, 1), run_id, "txx:other")
    assert key_slot(a) != key_slot(same_node) and cluster.owner_of_key(a) == cluster.owner_of_key(same_node)
    with RawConnection(proxy.port) as conn:
        for stranger in (other, same_node):
            assert conn.command("MULTI") == b"OK"
            assert conn.command("SET", a, "1") == b"QUEUED"
            conn.send(encode_command("SET", stranger, "2"))
            assert read_raw(conn) == b"-" + CROSSSLOT.encode() + b"\r\n"
            assert conn.command("INCR", a) == b"QUEUED"
            conn.send(encode_command("EXEC"))
            assert read_raw(conn) == b"-" + EXECABORT.encode() + b"\r\n"
            assert cluster.get_direct(a) is None and cluster.get_direct(stranger) is None, "a discarded transaction was applied"
            # Not in a transaction any more: commands run at once, on any slot.
            assert conn.command("EXEC") == b"ERR EXEC without MULTI"
            assert conn.command("SET", other, "plain") == b"OK"
            assert conn.command("GET", other) == b"plain"
            assert conn.command("DEL", other) == 1
    # The first key decides the slot: a later key of another slot is refused even when the first
    # command had none.
    with RawConnection(proxy.port) as conn:
        conn.send(encode_command("MULTI") + encode_command("PING") + encode_command("GET", a)
                  + encode_command("GET", other) + encode_command("EXEC"))
        assert [conn.read_reply() for _ in range(5)] == [b"OK", b"QUEUED", b"QUEUED", CROSSSLOT.encode(), EXECABORT.encode()]
    r = client(proxy.port)
    try:
        pipe = r.pipeline(transaction=True)
        pipe.set(a, "1").set(other, "2")
        with pytest.raises(redis.exceptions.ClusterCrossSlotError):  # what redis-py makes of CROSSSLOT
            pipe.execute()
        assert cluster.get_direct(a) is None and cluster.get_direct(other) is None
        assert r.set(other, "after") is True and r.get(other) == b"after"
    finally:
        r.close()


def test_discard(proxy, cluster, run_id):
    a = tagged(slot_on(cluster, 1), run_id, "discard:a")
    other = tagged(slot_on(cluster, 2), run_id, "discard:other")
    same_as_node(cluster, proxy.port, [a], [("MULTI",), ("SET", a, "1"), ("DISCARD",), ("GET", a), ("EXEC",)])
    with RawConnection(proxy.port) as conn:
        assert conn.command("MULTI") == b"OK"
        assert conn.command("SET", a, "1") == b"QUEUED"
        assert conn.command("DISCARD") == b"OK"
        assert cluster.get_direct(a) is None
        assert conn.command("SET", other, "x") == b"OK"
        assert conn.command("GET", other) == b"x"
        assert conn.command("GET", a) is None


def test_transaction_errors_as_redis(proxy, cluster, run_id):
    a = tagged(slot_on(cluster, 0), run_id, "txerr")
    replies = same_as_node(cluster, proxy.port, [a], [
        ("EXEC",), ("DISCARD",),
        ("MULTI",), ("MULTI",), ("SET", a, "1"), ("EXEC",),     # nested MULTI is an error, not an abort
        ("MULTI",), ("WATCH", a), ("INCR", a), ("EXEC",),         # so is WATCH inside MULTI
        ("MULTI",), ("NOSUCHCOMMAND", a), ("SET", a, "2"), ("EXEC",),
        ("MULTI",), ("GET",), ("EXEC",),
        ("GET", a),
    ])
    assert replies[0] == b"-ERR EXEC without MULTI\r\n"
    assert replies[1] == b"-ERR DISCARD without MULTI\r\n"
    assert replies[3] == b"-ERR MULTI calls can not be nested\r\n"
    assert replies[5] == b"*1\r\n+OK\r\n"
    assert replies[7] == b"-ERR WATCH inside MULTI is not allowed\r\n"
    assert replies[9] == b"*1\r\n:2\r\n"
    assert replies[11].startswith(b"-ERR unknown command 'NOSUCHCOMMAND'")
    assert replies[13] == replies[16] == b"-" + EXECABORT.encode() + b"\r\n"
    assert replies[15] == b"-ERR wrong number of arguments for 'get' command\r\n"
    assert replies[17] == b"$1\r\n2\r\n"


def test_unwatch_inside_multi(proxy, cluster, run_id):
    a = tagged(slot_on(cluster, 2), run_id, "unwatch-in-multi")
    replies = same_as_node(cluster, proxy.port, [a], [("MULTI",), ("SET", a, "1"), ("UNWATCH",), ("EXEC",), ("GET", a)])
    assert replies[2:] == [b"+QUEUED\r\n", b"*2\r\n+OK\r\n+OK\r\n", b"$1\r\n1\r\n"]


def test_after_exec_session_normal(proxy, cluster, run_id):
    per_primary = keys_on_each_primary(cluster, run_id, "after")
    first = per_primary[cluster.primaries()[0]]
    with RawConnection(proxy.port) as conn:
        for ending, expected in (("EXEC", [b"OK"]), ("DISCARD", b"OK")):
            assert conn.command("MULTI") == b"OK"
            assert conn.command("SET", first, ending) == b"QUEUED"
            assert conn.command(ending) == expected
            # Plain commands on every primary, one by one and pipelined.
            for port, key in per_primary.items():
                assert conn.command("SET", key + ending, port) == b"OK"
                assert cluster.get_direct(key + ending) == str(port).encode()
            conn.send(b"".join(encode_command("GET", key + ending) for key in per_primary.values()))
            assert [conn.read_reply() for _ in per_primary] == [str(p).encode() for p in per_primary]
            assert conn.command("PING") == b"PONG"
        assert cluster.get_direct(first) == b"EXEC"


def test_transactions_concurrent(proxy, cluster, run_id):
    """8 clients run 40 transactions each on one shared counter while 4 others pipeline plain
    commands to the same primary: every EXEC reply is whole and atomic (GET sees its own INCRs),
    and no plain reply is mixed up with a transaction's."""
    slot = slot_on(cluster, 0)
    counter = tagged(slot, run_id, "txc:counter")
    failures: list[str] = []
    seen: list[int] = []
    lock = threading.Lock()

    def transactions(t: int):
        try:
            with RawConnection(proxy.port) as conn:
                if t % 2:
                    conn.command("HELLO", "3")
                for n in range(40):
                    conn.send(encode_command("MULTI") + encode_command("INCR", counter) + encode_command("INCR", counter)
                              + encode_command("GET", counter) + encode_command("EXEC"))
                    replies = [conn.read_reply() for _ in range(5)]
                    if replies[:4] != [b"OK", b"QUEUED", b"QUEUED", b"QUEUED"]:
                        failures.append(f"tx client {t}: {replies!r}")
                        return
                    first, second, value = replies[4]
                    if second != first + 1 or value != str(second).encode():
                        failures.append(f"tx client {t}: EXEC gave {replies[4]!r}")
                    with lock:
                        seen.append(second)
        except Exception as exc:  # noqa: BLE001 - reported below
            failures.append(f"tx client {t}: {exc!r}")

    def plain(t: int):
        try:
            with RawConnection(proxy.port) as conn:
                for n in range(40):
                    key = tagged(slot, run_id, f"txc:plain:{t}:{n}")
                    conn.send(encode_command("SET", key, n) + encode_command("GET", key) + encode_command("INCR", key))
                    replies = [conn.read_reply() for _ in range(3)]
                    if replies != [b"OK", str(n).encode(), n + 1]:
                        failures.append(f"plain client {t}: {replies!r}")
        except Exception as exc:  # noqa: BLE001
            failures.append(f"plain client {t}: {exc!r}")

    threads = [threading.Thread(target=transactions, args=(t,), daemon=True) for t in range(8)]
    threads += [threading.Thread(target=plain, args=(t,), daemon=True) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads), "a client hung"
    assert not failures, failures[:5]
    assert sorted(seen) == list(range(2, 2 * 8 * 40 + 1, 2)), "transactions interleaved"
    assert cluster.get_direct(counter) == str(2 * 8 * 40).encode()


# MARK: - WATCH


@pytest.mark.parametrize("hello3", [False, True], ids=["resp2", "resp3"])
def test_watch_conflict(proxy, cluster, run_id, hello3):
    a = tagged(slot_on(cluster, 1), run_id, f"watch:conflict:{hello3}")
    owner = cluster.node(cluster.owner_of_key(a))
    nil_exec = {}
    for name, port in (("node", cluster.owner_of_key(a)), ("proxy", proxy.port)):
        owner.set(a, "0")
        with RawConnection(port) as conn, RawConnection(proxy.port) as other:
            if hello3:
                conn.command("HELLO", "3")
            assert conn.command("WATCH", a) == b"OK"
            assert conn.command("GET", a) == b"0"
            assert other.command("SET", a, "changed") == b"OK"  # another client, through the proxy
            assert conn.command("MULTI") == b"OK"
            assert conn.command("SET", a, "mine") == b"QUEUED"
            conn.send(encode_command("EXEC"))
            nil_exec[name] = read_raw(conn)
            assert owner.get(a) == b"changed", f"{name}: EXEC applied despite the WATCH conflict"
            # The connection goes on normally; the next transaction (no WATCH) applies.
            assert conn.command("MULTI") == b"OK"
            assert conn.command("INCRBY", a + "n", 2) == b"QUEUED"
            assert conn.command("EXEC") == [2]
            owner.delete(a + "n")
    assert nil_exec["proxy"] == nil_exec["node"] == (b"_\r\n" if hello3 else b"*-1\r\n")

    r, other = client(proxy.port, 3 if hello3 else 2), client(proxy.port)
    try:
        with r.pipeline() as pipe:
            pipe.watch(a)
            assert pipe.get(a) == b"changed"
            other.set(a, "again")
            pipe.multi()
            pipe.set(a, "mine")
            with pytest.raises(redis.WatchError):
                pipe.execute()
        assert owner.get(a) == b"again"
    finally:
        r.close()
        other.close()


def test_watch_no_conflict(proxy, cluster, run_id):
    a = tagged(slot_on(cluster, 0), run_id, "watch:ok")
    b = tagged(slot_on(cluster, 0), run_id, "watch:ok:b")
    with RawConnection(proxy.port) as conn:
        assert conn.command("SET", a, "1") == b"OK"
        assert conn.command("WATCH", a, b) == b"OK"
        assert conn.command("GET", a) == b"1"
        assert conn.command("MULTI") == b"OK"
        assert conn.command("INCR", a) == b"QUEUED"
        assert conn.command("SET", b, "x") == b"QUEUED"
        assert conn.command("EXEC") == [2, b"OK"]
        assert cluster.get_direct(a) == b"2" and cluster.get_direct(b) == b"x"
        # EXEC ended the WATCH: a later write by another client does not abort the next one.
        assert client(proxy.port).set(a, "other") is True
        assert conn.command("MULTI") == b"OK"
        assert conn.command("INCR", b + "c") == b"QUEUED"
        assert conn.command("EXEC") == [1]
    # redis-py's optimistic-locking pattern.
    assert client(proxy.port).set(a, "2") is True
    r = client(proxy.port, 3)
    try:
        def increment(pipe):
            value = int(pipe.get(a))
            pipe.multi()
            pipe.set(a, value + 40)
        assert r.transaction(increment, a) == [True]
        assert cluster.get_direct(a) == b"42"
    finally:
        r.close()


def test_unwatch(proxy, cluster, run_id):
    a = tagged(slot_on(cluster, 2), run_id, "unwatch")
    owner = cluster.node(cluster.owner_of_key(a))
    owner.set(a, "0")
    with RawConnection(proxy.port) as conn, RawConnection(proxy.port) as other:
        assert conn.command("WATCH", a) == b"OK"
        assert conn.command("UNWATCH") == b"OK"
        assert other.command("SET", a, "changed") == b"OK"
        assert conn.command("MULTI") == b"OK"
        assert conn.command("SET", a, "mine") == b"QUEUED"
        assert conn.command("EXEC") == [b"OK"], "UNWATCH did not forget the watched key"
        assert owner.get(a) == b"mine"
        # UNWATCH without WATCH is fine too, and a WATCH on another primary works after it.
        assert conn.command("UNWATCH") == b"OK"
        b = tagged(slot_on(cluster, 0), run_id, "unwatch:b")
        assert conn.command("WATCH", b) == b"OK"
        assert other.command("SET", b, "x") == b"OK"
        assert conn.command("MULTI") == b"OK"
        assert conn.command("SET", b, "mine") == b"QUEUED"
        assert conn.command("EXEC") is None
        assert cluster.get_direct(b) == b"x"


def test_watch_crossslot(proxy, cluster, run_id):
    a = tagged(slot_on(cluster, 0), run_id, "watchx:a")
    near = tagged(slot_on(cluster, 0, offset=100), run_id, "watchx:near")
    far = tagged(slot_on(cluster, 1), run_id, "watchx:far")
    for stranger in (far, near):
        same_as_node(cluster, proxy.port, [a, stranger], [("WATCH", a, stranger)])
        with RawConnection(proxy.port) as conn:
            conn.send(encode_command("WATCH", a, stranger))
            assert read_raw(conn) == b"-" + CROSSSLOT.encode() + b"\r\n"
            assert conn.command("PING") == b"PONG"
            assert conn.command("MULTI") == b"OK"
            assert conn.command("SET", stranger, "1") == b"QUEUED"
            assert conn.command("EXEC") == [b"OK"]
            assert cluster.get_direct(stranger) == b"1"


# MARK: - Blocking commands


@pytest.mark.parametrize("hello3", [False, True], ids=["resp2", "resp3"])
def test_blpop_timeout(proxy, cluster, run_id, hello3):
    k = tagged(slot_on(cluster, 1), run_id, f"blpop:timeout:{hello3}")
    for port in (cluster.owner_of_key(k), proxy.port):
        with RawConnection(port) as conn:
            if hello3:
                conn.command("HELLO", "3")
            started = time.monotonic()
            conn.send(encode_command("BLPOP", k, "1"))
            reply = read_raw(conn)
            elapsed = time.monotonic() - started
            assert reply == (b"_\r\n" if hello3 else b"*-1\r\n"), (port, reply)
            assert elapsed >= 0.8, f"BLPOP 1 returned after {elapsed:.3f} s"
            assert conn.command("PING") == b"PONG"
    r = client(proxy.port, 3 if hello3 else 2)
    try:
        started = time.monotonic()
        assert r.blpop([k], timeout=0.5) is None
        assert time.monotonic() - started >= 0.3
    finally:
        r.close()


def test_blpop_wakes(proxy, cluster, run_id):
    k = tagged(slot_on(cluster, 2), run_id, "blpop:wake")
    with RawConnection(proxy.port) as waiter, RawConnection(proxy.port) as pusher:
        waiter.send(encode_command("BLPOP", k, "20"))
        assert nothing_arrives(waiter, 0.5), "BLPOP answered before anything was pushed"
        # The waiter's own connection does not hold the others up.
        assert pusher.command("SET", k + ":s", "x") == b"OK"
        assert pusher.command("LPUSH", k, "v1") == 1
        started = time.monotonic()
        assert waiter.read_reply() == [k.encode(), b"v1"]
        assert time.monotonic() - started < 5
        assert cluster.node(cluster.owner_of_key(k)).exists(k) == 0
        # The same connection blocks again (its node connection was reused or replaced).
        waiter.send(encode_command("BLPOP", k, "20"))
        assert nothing_arrives(waiter, 0.3)
        assert pusher.command("RPUSH", k, "v2") == 1
        assert waiter.read_reply() == [k.encode(), b"v2"]
        assert waiter.command("GET", k + ":s") == b"x"
    r, other = client(proxy.port, 3), client(proxy.port)
    try:
        timer = threading.Timer(0.3, lambda: other.rpush(k, "v3"))
        timer.start()
        assert r.blpop([k], timeout=20) == [k.encode(), b"v3"]
        timer.join(5)
    finally:
        r.close()
        other.close()


def test_blocking_pipelined_order(proxy, cluster, run_id):
    """Requests pipelined behind a blocking command run after it, as on a node: BLPOP k 1 then
    RPUSH k v times out instead of popping v; two blocking commands wait one after the other."""
    k = tagged(slot_on(cluster, 0), run_id, "blk:order")
    replies = same_as_node(cluster, proxy.port, [k], [
        ("BLPOP", k, "1"), ("RPUSH", k, "v"), ("LLEN", k), ("BLPOP", k, "1"), ("LLEN", k),
    ], pipelined_replies=5)
    assert replies == [b"*-1\r\n", b":1\r\n", b":1\r\n", b"*2\r\n$%d\r\n%s\r\n$1\r\nv\r\n" % (len(k), k.encode()), b":0\r\n"]
    other = tagged(slot_on(cluster, 1), run_id, "blk:order:other")
    with RawConnection(proxy.port) as conn:
        started = time.monotonic()
        conn.send(encode_command("SET", other, "1") + encode_command("BLPOP", k, "1")
                  + encode_command("INCR", other) + encode_command("BRPOP", k, "0.5") + encode_command("GET", other))
        assert [conn.read_reply() for _ in range(5)] == [b"OK", None, 2, None, b"2"]
        assert time.monotonic() - started >= 1.3, "the two blocking commands waited at the same time"


def test_replies_before_blocking(proxy, cluster, run_id):
    """The proxy holds a client's ready replies for a loop iteration or two while more of the
    same pipeline are in flight, so that they leave in one write. It must never hold them for a
    blocked command: SET/GET on every primary, then BLPOP k 0 (forever), all in one write: the
    six replies arrive while BLPOP waits, and BLPOP's own when another client pushes."""
    k = tagged(slot_on(cluster, 0), run_id, "blk:before")
    keys = [tagged(slot_on(cluster, i), run_id, f"blk:before:{i}") for i in range(3)]
    with RawConnection(proxy.port) as waiter, RawConnection(proxy.port) as pusher:
        batch = b"".join(encode_command("SET", key, f"v{i}") + encode_command("GET", key)
                         for i, key in enumerate(keys))
        waiter.send(batch + encode_command("BLPOP", k, "0"))
        assert [waiter.read_reply() for _ in range(6)] == [b"OK", b"v0", b"OK", b"v1", b"OK", b"v2"]
        assert nothing_arrives(waiter, 0.3), "BLPOP answered before anything was pushed"
        assert pusher.command("RPUSH", k, "x") == 1
        assert waiter.read_reply() == [k.encode(), b"x"]


def test_other_blocking_commands(proxy, cluster, run_id):
    slot = slot_on(cluster, 0)
    src, dst, z = (tagged(slot, run_id, f"blk:{n}") for n in ("src", "dst", "z"))
    with RawConnection(proxy.port) as waiter, RawConnection(proxy.port) as writer:
        # Data already there: answered at once.
        assert writer.command("RPUSH", src, "a", "b", "c") == 3
        assert waiter.command("BRPOP", src, "5") == [src.encode(), b"c"]
        assert waiter.command("BLMOVE", src, dst, "LEFT", "RIGHT", "5") == b"a"
        assert writer.command("ZADD", z, "2", "two", "1", "one") == 2
        assert waiter.command("BZPOPMIN", z, "5") == [z.encode(), b"one", b"1"]
        assert waiter.command("DEL", src, dst, z) == 3
        # Nothing there: each waits until another client writes.
        for command, write, expected in [
            (("BRPOP", src, "20"), ("RPUSH", src, "x", "y"), [src.encode(), b"y"]),
            (("BLMOVE", src, dst, "RIGHT", "LEFT", "20"), ("RPUSH", src, "m"), b"m"),
            (("BZPOPMIN", z, "20"), ("ZADD", z, "7", "seven"), [z.encode(), b"seven", b"7"]),
        ]:
            writer.command("DEL", src)
            waiter.send(encode_command(*command))
            assert nothing_arrives(waiter, 0.3), f"{command[0]} answered before the write"
            writer.command(*write)
            assert waiter.read_reply() == expected, command[0]
        owner = cluster.node(cluster.owner_of_key(dst))
        assert owner.lrange(dst, 0, -1) == [b"m"]
        assert owner.zcard(z) == 0


@pytest.mark.parametrize("command", [
    ("BLPOP", "{a}", "{b}", "1"),
    ("BRPOP", "{a}", "{b}", "1"),
    ("BLMOVE", "{a}", "{b}", "LEFT", "LEFT", "1"),
    ("BZPOPMIN", "{a}", "{b}", "1"),
    ("XREAD", "BLOCK", "1000", "STREAMS", "{a}", "{b}", "$", "$"),
], ids=lambda c: c[0])
def test_blocking_crossslot(proxy, cluster, run_id, command):
    a = tagged(slot_on(cluster, 0), run_id, "bx:a")
    b = tagged(slot_on(cluster, 0, offset=300), run_id, "bx:b")
    args = [a if x == "{a}" else b if x == "{b}" else x for x in command]
    same_as_node(cluster, proxy.port, [a, b], [args])
    with RawConnection(proxy.port) as conn:
        started = time.monotonic()
        conn.send(encode_command(*args))
        assert read_raw(conn) == b"-" + CROSSSLOT.encode() + b"\r\n"
        assert time.monotonic() - started < 0.9, "a CROSSSLOT blocking command waited"
        assert conn.command("PING") == b"PONG"


def test_50_blocked_clients(proxy, cluster, run_id):
    waiters = []
    keys = [tagged(slot_on(cluster, i % 3, offset=i * 11), run_id, f"fifty:{i}") for i in range(50)]
    assert {cluster.owner_of_key(k) for k in keys} == set(cluster.primaries())
    failures: list[str] = []
    try:
        for i, k in enumerate(keys):
            w = RawConnection(proxy.port)
            waiters.append(w)
            if i % 2:
                w.command("HELLO", "3")
            w.send(encode_command("BLPOP", k, "60"))

        def busy(t: int):
            try:
                r = client(proxy.port, 2 + t % 2)
                for n in range(100):
                    key = tagged(slot_on(cluster, (t + n) % 3, offset=n), run_id, f"fifty:busy:{t}:{n}")
                    if r.set(key, f"{t}-{n}") is not True or r.get(key) != f"{t}-{n}".encode():
                        failures.append(f"client {t} op {n}: wrong reply")
                r.close()
            except Exception as exc:  # noqa: BLE001 - reported below
                failures.append(f"client {t}: {exc!r}")

        time.sleep(0.3)
        threads = [threading.Thread(target=busy, args=(t,), daemon=True) for t in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not any(t.is_alive() for t in threads), "SET/GET clients hung while 50 clients were blocked"
        assert not failures, failures[:5]
        for i, w in enumerate(waiters):
            assert nothing_arrives(w, 0), f"blocked client {i} was answered before its push"
        with RawConnection(proxy.port) as pusher:
            pusher.send(b"".join(encode_command("RPUSH", k, f"value-{i}") for i, k in enumerate(keys)))
            assert [pusher.read_reply() for _ in keys] == [1] * 50
        for i, (w, k) in enumerate(zip(waiters, keys)):
            reply = w.read_reply()
            assert list(reply) == [k.encode(), f"value-{i}".encode()], f"blocked client {i}: {reply!r}"
        assert sum(cluster.node(cluster.owner_of_key(k)).exists(k) for k in keys) == 0
    finally:
        for w in waiters:
            w.close()


def test_info_blocked_clients(proxy, cluster, run_id):
    keys = [tagged(slot_on(cluster, i % 3), run_id, f"infoblk:{i}") for i in range(5)]
    waiters = [RawConnection(proxy.port) for _ in keys]
    try:
        with RawConnection(proxy.port) as conn:
            before = info_field(conn.command("INFO", "clients"), "blocked_clients")
            if before is None:
                pytest.skip("the proxy's INFO clients has no blocked_clients field")
            for w, k in zip(waiters, keys):
                w.send(encode_command("BLPOP", k, "30"))
            deadline = time.monotonic() + 5
            while True:
                now = int(info_field(conn.command("INFO", "clients"), "blocked_clients"))
                if now == int(before) + 5 or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            assert now == int(before) + 5, f"blocked_clients {now} with 5 more blocked (was {before})"
            for k in keys:
                conn.command("RPUSH", k, "x")
            for w in waiters:
                assert w.read_reply() is not None
            deadline = time.monotonic() + 5
            while int(info_field(conn.command("INFO", "clients"), "blocked_clients")) != int(before):
                assert time.monotonic() < deadline, "blocked_clients did not come back down"
                time.sleep(0.05)
    finally:
        for w in waiters:
            w.close()


def test_blocked_disconnect_releases(start_proxy, cluster, run_id):
    p = start_proxy(extra_args=["--max-blocking-clients", "3"])
    keys = [tagged(slot_on(cluster, i % 3, offset=40 + i), run_id, f"limit:{i}") for i in range(6)]
    blocked = [RawConnection(p.port) for _ in range(3)]
    extra: list[RawConnection] = []
    try:
        for w, k in zip(blocked, keys):
            w.send(encode_command("BLPOP", k, "60"))
        assert all(nothing_arrives(w, 0.3) for w in blocked), "a BLPOP within the limit did not block"
        # A 4th concurrent one is refused at once, naming the directive.
        fourth = RawConnection(p.port)
        extra.append(fourth)
        reply = fourth.command("BLPOP", keys[3], "60")
        assert isinstance(reply, ErrorReply) and "max-blocking-clients" in reply.text, reply
        assert fourth.command("PING") == b"PONG"
        # One blocked client goes away: its place is free again.
        blocked[0].close()
        deadline = time.monotonic() + 5
        while True:
            fourth.send(encode_command("BLPOP", keys[4], "60"))
            if nothing_arrives(fourth, 0.3):
                break
            reply = fourth.read_reply()
            assert isinstance(reply, ErrorReply) and "max-blocking-clients" in reply.text, reply
            assert time.monotonic() < deadline, "a disconnected blocked client never freed its place"
        # And the limit holds again with the new one blocked.
        fifth = RawConnection(p.port)
        extra.append(fifth)
        reply = fifth.command("BLPOP", keys[5], "60")
        assert isinstance(reply, ErrorReply) and "max-blocking-clients" in reply.text, reply
        # The gone client's node connection was closed: a value pushed to its key is not popped
        # by a BLPOP nobody is waiting for.
        owner = cluster.node(cluster.owner_of_key(keys[0]))
        assert owner.rpush(keys[0], "kept") == 1
        time.sleep(0.3)
        assert owner.lrange(keys[0], 0, -1) == [b"kept"], "the disconnected client's BLPOP still ran on the node"
        # The ones still blocked are served.
        with RawConnection(p.port) as pusher:
            for k in keys[1:3] + keys[4:5]:
                assert pusher.command("RPUSH", k, "v") == 1
        for w, k in zip(blocked[1:] + [fourth], keys[1:3] + keys[4:5]):
            assert w.read_reply() == [k.encode(), b"v"]
        # Every place is free once they are answered.
        again = [RawConnection(p.port) for _ in range(3)]
        extra.extend(again)
        for w, k in zip(again, keys[1:4]):
            w.send(encode_command("BLPOP", k, "0.2"))
        for w in again:
            assert w.read_reply() is None
    finally:
        for w in blocked + extra:
            w.close()


def test_xread_block(proxy, cluster, run_id):
    s = tagged(slot_on(cluster, 1), run_id, "xread")
    with RawConnection(proxy.port) as reader, RawConnection(proxy.port) as writer:
        started = time.monotonic()
        assert reader.command("XREAD", "BLOCK", "500", "STREAMS", s, "$") is None
        assert time.monotonic() - started >= 0.4
        reader.send(encode_command("XREAD", "COUNT", "10", "BLOCK", "20000", "STREAMS", s, "$"))
        assert nothing_arrives(reader, 0.4), "XREAD BLOCK answered before XADD"
        entry_id = writer.command("XADD", s, "*", "field", "value")
        assert reader.read_reply() == [[s.encode(), [[entry_id, [b"field", b"value"]]]]]
        # Without BLOCK it is a plain read.
        assert reader.command("XREAD", "STREAMS", s, "0") == [[s.encode(), [[entry_id, [b"field", b"value"]]]]]
    r, other = client(proxy.port, 3), client(proxy.port)
    try:
        timer = threading.Timer(0.3, lambda: other.xadd(s, {"k": "v"}))
        timer.start()
        got = r.xread({s: "$"}, block=20000)
        timer.join(5)
        assert list(got.keys()) == [s.encode()] and got[s.encode()][0][0][1] == {b"k": b"v"}
    finally:
        r.close()
        other.close()


def test_xreadgroup_block(proxy, cluster, run_id):
    s = tagged(slot_on(cluster, 2), run_id, "xgroup")
    with RawConnection(proxy.port) as reader, RawConnection(proxy.port) as writer:
        assert writer.command("XGROUP", "CREATE", s, "g", "$", "MKSTREAM") == b"OK"
        reader.send(encode_command("XREADGROUP", "GROUP", "g", "alice", "BLOCK", "20000", "STREAMS", s, ">"))
        assert nothing_arrives(reader, 0.4), "XREADGROUP BLOCK answered before XADD"
        entry_id = writer.command("XADD", s, "*", "job", "1")
        assert reader.read_reply() == [[s.encode(), [[entry_id, [b"job", b"1"]]]]]
        pending = writer.command("XPENDING", s, "g")
        assert pending[0] == 1 and pending[3] == [[b"alice", b"1"]], pending
        started = time.monotonic()
        assert reader.command("XREADGROUP", "GROUP", "g", "alice", "BLOCK", "300", "STREAMS", s, ">") is None
        assert time.monotonic() - started >= 0.2


# MARK: - Pub/Sub


def _next_message(pubsub, deadline: float):
    while time.monotonic() < deadline:
        message = pubsub.get_message(ignore_subscribe_messages=True, timeout=0.2)
        if message is not None:
            return message
    return None


@pytest.mark.parametrize("protocol", [2, 3], ids=["resp2", "resp3"])
def test_subscribe_messages(proxy, cluster, run_id, protocol):
    channel = f"news:{run_id}:{protocol}"
    pattern = f"pat:{run_id}:{protocol}:*"
    r, publisher = client(proxy.port, protocol), client(proxy.port)
    pubsub = r.pubsub()
    try:
        pubsub.subscribe(channel)
        pubsub.psubscribe(pattern)
        confirmations = []
        deadline = time.monotonic() + 5
        while len(confirmations) < 2 and time.monotonic() < deadline:
            message = pubsub.get_message(timeout=0.2)
            if message is not None:
                confirmations.append((message["type"], message["channel"], message["data"]))
        assert confirmations == [("subscribe", channel.encode(), 1), ("psubscribe", pattern.encode(), 2)]

        sources = [("proxy", publisher)] + [(f"node {port}", cluster.node(port)) for port in cluster.ports]
        for n, (source, conn) in enumerate(sources):
            conn.publish(channel, f"m{n}")  # counts only that node's subscribers: not checked
            message = _next_message(pubsub, time.monotonic() + 5)
            assert message is not None and message["type"] == "message", f"published via {source}: {message}"
            assert (message["channel"], message["data"]) == (channel.encode(), f"m{n}".encode())
            conn.publish(pattern[:-1] + f"x{n}", f"p{n}")
            message = _next_message(pubsub, time.monotonic() + 5)
            assert message is not None and message["type"] == "pmessage", f"published via {source}: {message}"
            assert (message["pattern"], message["channel"], message["data"]) == \
                (pattern.encode(), (pattern[:-1] + f"x{n}").encode(), f"p{n}".encode())
        assert _next_message(pubsub, time.monotonic() + 0.3) is None, "a message arrived twice"
        pubsub.unsubscribe()
        pubsub.punsubscribe()
    finally:
        pubsub.close()
        r.close()
        publisher.close()


def test_subscribed_mode_resp2(proxy, cluster, run_id):
    k = tagged(slot_on(cluster, 0), run_id, "submode")
    channel = f"mode:{run_id}"
    replies = same_as_node(cluster, proxy.port, [k], [
        ("SUBSCRIBE", channel), ("GET", k), ("SET", k, "1"), ("PING",), ("PING", "hello"),
        ("SUBSCRIBE", channel + ":2"), ("UNSUBSCRIBE", channel), ("GET", k), ("UNSUBSCRIBE",),
        ("SET", k, "2"), ("GET", k), ("PING",),
    ])
    c = len(channel)
    assert replies[0] == b"*3\r\n$9\r\nsubscribe\r\n$%d\r\n%s\r\n:1\r\n" % (c, channel.encode())
    assert replies[1] == (b"-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET "
                          b"are allowed in this context\r\n")
    assert replies[2].startswith(b"-ERR Can't execute 'set'")
    assert replies[3] == b"*2\r\n$4\r\npong\r\n$0\r\n\r\n"
    assert replies[4] == b"*2\r\n$4\r\npong\r\n$5\r\nhello\r\n"
    assert replies[6] == b"*3\r\n$11\r\nunsubscribe\r\n$%d\r\n%s\r\n:1\r\n" % (c, channel.encode())
    assert replies[7].startswith(b"-ERR Can't execute 'get'"), "left subscribed mode with a subscription left"
    assert replies[8] == b"*3\r\n$11\r\nunsubscribe\r\n$%d\r\n%s:2\r\n:0\r\n" % (c + 2, channel.encode())
    assert replies[9:] == [b"+OK\r\n", b"$1\r\n2\r\n", b"+PONG\r\n"]


def test_resp3_push(proxy, cluster, run_id):
    k = tagged(slot_on(cluster, 1), run_id, "push")
    channel = f"push:{run_id}"
    c = len(channel)
    for port in (cluster.owner_of_key(k), proxy.port):
        with RawConnection(port) as conn, RawConnection(proxy.port) as publisher:
            conn.command("HELLO", "3")
            conn.send(encode_command("SUBSCRIBE", channel))
            assert read_raw(conn) == b">3\r\n$9\r\nsubscribe\r\n$%d\r\n%s\r\n:1\r\n" % (c, channel.encode()), port
            # RESP3 allows any command while subscribed.
            assert conn.command("SET", k, "v") == b"OK"
            assert conn.command("GET", k) == b"v"
            assert conn.command("PING") == b"PONG"
            publisher.command("PUBLISH", channel, "hi")
            assert read_raw(conn) == b">3\r\n$7\r\nmessage\r\n$%d\r\n%s\r\n$2\r\nhi\r\n" % (c, channel.encode()), port
            conn.send(encode_command("UNSUBSCRIBE"))
            assert read_raw(conn) == b">3\r\n$11\r\nunsubscribe\r\n$%d\r\n%s\r\n:0\r\n" % (c, channel.encode()), port
            assert conn.command("GET", k) == b"v"
            cluster.node(cluster.owner_of_key(k)).delete(k)
    # A channel of its own: a message published above may still be on its way between nodes.
    channel += ":redis-py"
    r = client(proxy.port, 3)
    pubsub = r.pubsub()
    try:
        pubsub.subscribe(channel)
        assert pubsub.get_message(timeout=5)["type"] == "subscribe"
        publisher = client(proxy.port)
        publisher.publish(channel, "via redis-py")
        publisher.close()
        message = _next_message(pubsub, time.monotonic() + 5)
        assert message is not None and message["data"] == b"via redis-py"
    finally:
        pubsub.close()
        r.close()


@pytest.mark.parametrize("case", ["resp2-mode", "resp2-two-replies", "resp3-order", "resp3-mode"])
def test_pubsub_pipelined(proxy, cluster, run_id, case):
    """Pub/sub commands pipelined with others, in one write: the same bytes as a node. The
    requests after a (un)subscribe see the subscription state it left, and every confirmation
    comes in order (UNSUBSCRIBE a b answers twice even when only a was subscribed)."""
    k = tagged(slot_on(cluster, 1), run_id, f"pipesub:{case}")
    a, b = f"pipe-a:{run_id}:{case}", f"pipe-b:{run_id}:{case}"
    commands, replies, hello3 = {
        "resp2-mode": ([("SET", k, "v"), ("SUBSCRIBE", a), ("GET", k), ("PING",), ("PSUBSCRIBE", b + "*"),
                        ("UNSUBSCRIBE", a), ("GET", k), ("PUNSUBSCRIBE",), ("GET", k), ("PING",)], 10, False),
        "resp2-two-replies": ([("SUBSCRIBE", a), ("UNSUBSCRIBE", a, b), ("PING",), ("SUBSCRIBE", a, b),
                               ("UNSUBSCRIBE", b), ("UNSUBSCRIBE", a), ("GET", k)], 9, False),
        "resp3-order": ([("SET", k, "v"), ("GET", k), ("SUBSCRIBE", a), ("GET", k), ("PING",),
                         ("UNSUBSCRIBE", a), ("GET", k)], 7, True),
        "resp3-mode": ([("SUBSCRIBE", a, b), ("INCR", k), ("UNSUBSCRIBE", a, b), ("INCR", k)], 6, True),
    }[case]
    same_as_node(cluster, proxy.port, [k], commands, hello3, pipelined_replies=replies)


def test_ssubscribe_pipelined(proxy, cluster, run_id):
    """SSUBSCRIBE to channels of three primaries and SUNSUBSCRIBE, in one write: confirmations in
    request order with the client's counts, then normal commands."""
    channels = [tagged(slot_on(cluster, i, offset=13), run_id, "pipeshard") for i in range(3)]
    k = tagged(slot_on(cluster, 2), run_id, "pipeshard:k")
    with RawConnection(proxy.port) as conn:
        conn.send(b"".join(encode_command("SSUBSCRIBE", ch) for ch in channels)
                  + encode_command("GET", k)
                  + b"".join(encode_command("SUNSUBSCRIBE", ch) for ch in reversed(channels))
                  + encode_command("GET", k))
        got = [conn.read_reply() for _ in range(8)]
        assert got[:3] == [[b"ssubscribe", ch.encode(), n] for n, ch in enumerate(channels, start=1)]
        assert got[3].text.startswith("ERR Can't execute 'get'")
        assert got[4:7] == [[b"sunsubscribe", ch.encode(), n] for n, ch in zip((2, 1, 0), reversed(channels))]
        assert got[7] is None
        assert nothing_arrives(conn, 0.3)


@pytest.mark.parametrize("hello3", [False, True], ids=["resp2", "resp3"])
def test_unsubscribe_when_not_subscribed(proxy, cluster, run_id, hello3):
    k = tagged(slot_on(cluster, 0), run_id, "notsub")
    replies = same_as_node(cluster, proxy.port, [k], [
        ("UNSUBSCRIBE",), ("PUNSUBSCRIBE", "p*"), ("SUNSUBSCRIBE",), ("SUNSUBSCRIBE", k), ("UNSUBSCRIBE", "x"), ("PING",),
    ], hello3)
    header = b">3\r\n" if hello3 else b"*3\r\n"
    nil = b"_\r\n" if hello3 else b"$-1\r\n"
    assert replies[0] == header + b"$11\r\nunsubscribe\r\n" + nil + b":0\r\n"
    assert replies[1] == header + b"$12\r\npunsubscribe\r\n$2\r\np*\r\n:0\r\n"
    assert replies[2] == header + b"$12\r\nsunsubscribe\r\n" + nil + b":0\r\n"
    assert replies[5] == b"+PONG\r\n"


def test_ssubscribe(proxy, cluster, run_id):
    channels = {port: tagged(slot_on(cluster, i, offset=9), run_id, "shard")
                for i, port in enumerate(cluster.primaries())}
    with RawConnection(proxy.port) as sub, RawConnection(proxy.port) as publisher:
        # The count is the client's number of shard channels, as one server counts them, though
        # each channel lives on another primary.
        for n, channel in enumerate(channels.values(), start=1):
            sub.send(encode_command("SSUBSCRIBE", channel))
            assert sub.read_reply() == [b"ssubscribe", channel.encode(), n], channel
        for port, channel in channels.items():
            assert publisher.command("SPUBLISH", channel, f"to {port}") == 1, port
            assert sub.read_reply() == [b"smessage", channel.encode(), f"to {port}".encode()]
            # Published directly on the owner, too.
            assert cluster.node(port).spublish(channel, "direct") == 1
            assert sub.read_reply() == [b"smessage", channel.encode(), b"direct"]
        # A RESP2 client in subscribed mode.
        sub.send(encode_command("GET", "x"))
        assert sub.read_reply().text.startswith("ERR Can't execute 'get'")
        other_slot = tagged(slot_on(cluster, 0, offset=200), run_id, "shard:x")
        ordered = list(channels.values())
        sub.send(encode_command("SSUBSCRIBE", ordered[0] + ":same-slot", other_slot))
        assert read_raw(sub) == b"-" + CROSSSLOT.encode() + b"\r\n"
        # Leaving one channel leaves the others, and subscribed mode, in place.
        sub.send(encode_command("SUNSUBSCRIBE", ordered[0]))
        assert sub.read_reply() == [b"sunsubscribe", ordered[0].encode(), 2]
        sub.send(encode_command("GET", "x"))
        assert sub.read_reply().text.startswith("ERR Can't execute 'get'"), "left subscribed mode with 2 channels left"
        assert publisher.command("SPUBLISH", ordered[1], "still") == 1
        assert sub.read_reply() == [b"smessage", ordered[1].encode(), b"still"]
        assert publisher.command("SPUBLISH", ordered[0], "gone") == 0
        # SUNSUBSCRIBE with no channel: one confirmation per channel left, counting down to 0.
        sub.send(encode_command("SUNSUBSCRIBE"))
        confirmations = [sub.read_reply() for _ in range(2)]
        assert sorted(c[1] for c in confirmations) == sorted(c.encode() for c in ordered[1:]), confirmations
        assert [c[0] for c in confirmations] == [b"sunsubscribe"] * 2 and [c[2] for c in confirmations] == [1, 0]
        assert nothing_arrives(sub, 0.3), "an extra confirmation after SUNSUBSCRIBE"
        assert sub.command("PING") == b"PONG", "still in subscribed mode after SUNSUBSCRIBE of every channel"
        # Nothing subscribed: Redis's answer.
        assert sub.command("SUNSUBSCRIBE") == [b"sunsubscribe", None, 0]
    # Cross-slot SSUBSCRIBE, as a node answers it.
    a = tagged(slot_on(cluster, 0), run_id, "shardx:a")
    b = tagged(slot_on(cluster, 0, offset=300), run_id, "shardx:b")
    same_as_node(cluster, proxy.port, [a, b], [("SSUBSCRIBE", a, b)])


def test_ssubscribe_counts_as_redis(proxy, cluster, run_id):
    """Three shard channels in three slots of one primary: the same bytes as that primary."""
    channels = [tagged(slot_on(cluster, 1, offset=o), run_id, "shardcount") for o in (1, 2, 3)]
    same_as_node(cluster, proxy.port, channels, [
        ("SSUBSCRIBE", channels[0]), ("SSUBSCRIBE", channels[1]), ("SSUBSCRIBE", channels[2]),
        ("SUNSUBSCRIBE", channels[1]), ("PING",), ("SUNSUBSCRIBE", channels[0]), ("SUNSUBSCRIBE", channels[2]),
        ("PING",),
    ])


# MARK: - Sharded subscriptions across a slot migration


@pytest.fixture
def own_cluster(run_dir):
    """A fresh 3+3 cluster for one test."""
    cluster = Cluster.start_retrying(run_dir, node_timeout=15000)
    try:
        cluster.slot_owners()
        yield cluster
    finally:
        cluster.stop()


def test_ssubscribe_survives_slot_migration(own_cluster, start_proxy, run_id):
    c = own_cluster
    p = start_proxy(seeds=c.seeds, extra_args=["--topology-refresh-ms", "500"])
    source, target = c.primaries()[0], c.primaries()[1]
    slot = slot_on(c, 0, offset=3)
    channel = tagged(slot, run_id, "moving")
    with RawConnection(p.port, timeout=5) as sub, RawConnection(p.port) as publisher:
        assert sub.command("SSUBSCRIBE", channel) == [b"ssubscribe", channel.encode(), 1]
        assert publisher.command("SPUBLISH", channel, "before") == 1
        assert sub.read_reply() == [b"smessage", channel.encode(), b"before"]

        migrate_slot(c, slot, source, target)
        assert c.slot_owners(refresh=True)[slot] == target

        # Until the deadline, SPUBLISH through the proxy; the subscriber must get one of them.
        received, unsolicited = None, []
        deadline = time.monotonic() + 15
        n = 0
        while received is None and time.monotonic() < deadline:
            n += 1
            publisher.command("SPUBLISH", channel, f"after-{n}")
            wait_until = time.monotonic() + 0.5
            while time.monotonic() < wait_until:
                if nothing_arrives(sub, max(0.0, wait_until - time.monotonic())):
                    break
                reply = sub.read_reply()
                if isinstance(reply, list) and reply[:1] == [b"smessage"]:
                    received = reply
                    break
                unsolicited.append(reply)
        assert received is not None and received[1] == channel.encode(), \
            f"no message after the slot moved ({n} SPUBLISH through the proxy); the client saw {unsolicited!r}"
        assert unsolicited == [], f"the client saw frames it never asked for: {unsolicited!r}"


# MARK: - Scripts and functions


@pytest.mark.parametrize("protocol", [2, 3], ids=["resp2", "resp3"])
def test_eval_evalsha_fcall(proxy, cluster, run_id, protocol):
    r = client(proxy.port, protocol)
    library, function = f"statelib_{run_id}_{protocol}", f"state_{run_id}_{protocol}"
    try:
        per_primary = keys_on_each_primary(cluster, run_id, f"eval:{protocol}")
        body = "redis.call('SET', KEYS[1], ARGV[1]) return redis.call('GET', KEYS[1])"
        sha = r.script_load(body)
        for port, key in per_primary.items():
            assert r.eval(body, 1, key, f"e{port}") == f"e{port}".encode()
            assert cluster.get_direct(key) == f"e{port}".encode()
            assert r.evalsha(sha, 1, key, f"s{port}") == f"s{port}".encode()
            assert cluster.get_direct(key) == f"s{port}".encode()
        # Two keys of one tag are fine; two slots are not.
        first = per_primary[cluster.primaries()[0]]
        second_in_tag = first + ":2"
        assert r.eval("return redis.call('MSET', KEYS[1], 'a', KEYS[2], 'b')", 2, first, second_in_tag) == b"OK"
        other = per_primary[cluster.primaries()[1]]
        with pytest.raises(redis.exceptions.ClusterCrossSlotError):
            r.eval("return 1", 2, first, other)
        with pytest.raises(redis.exceptions.ClusterCrossSlotError):
            r.evalsha(sha, 2, first, other, "x")
        assert r.eval("return {1, 'two', ARGV[1]}", 0, "three") == [1, b"two", b"three"]
        assert r.eval("return redis.call('PING')", 0) in (b"PONG", "PONG", True)

        code = (f"#!lua name={library}\n"
                f"redis.register_function('{function}', function(keys, args) "
                f"redis.call('SET', keys[1], args[1]) return redis.call('GET', keys[1]) end)")
        assert r.function_load(code) == library.encode()
        for port, key in per_primary.items():
            assert r.fcall(function, 1, key, f"f{port}") == f"f{port}".encode()
            assert cluster.get_direct(key) == f"f{port}".encode()
        with pytest.raises(redis.exceptions.ClusterCrossSlotError):
            r.fcall(function, 2, first, other, "x")
        assert r.function_delete(library) is True
    finally:
        r.close()


def test_noscript_healing(proxy, cluster, run_id):
    per_primary = keys_on_each_primary(cluster, run_id, "heal")
    body = f"return {{'{run_id}', KEYS[1], ARGV[1]}}"
    with RawConnection(proxy.port) as conn, RawConnection(proxy.port) as conn2:
        sha = conn.command("SCRIPT", "LOAD", body).decode()
        for port in cluster.primaries():
            assert cluster.node(port).script_flush() is True
            assert cluster.node(port).script_exists(sha) == [False]
        # On every primary, through connections of both of the proxy's workers (likely).
        for c in (conn, conn2):
            for port, key in per_primary.items():
                reply = c.command("EVALSHA", sha, "1", key, "x")
                assert reply == [run_id.encode(), key.encode(), b"x"], f"EVALSHA on primary {port}: {reply!r}"
        for port in cluster.primaries():
            assert cluster.node(port).script_exists(sha) == [True], f"not loaded again on {port}"
        # Flushed again, EVALSHA pipelined over every primary heals each.
        for port in cluster.primaries():
            cluster.node(port).script_flush()
        conn.send(b"".join(encode_command("EVALSHA", sha, "1", key, str(port)) for port, key in per_primary.items()))
        assert [conn.read_reply() for _ in per_primary] == \
            [[run_id.encode(), key.encode(), str(port).encode()] for port, key in per_primary.items()]
    # Never loaded through the proxy: Redis's own error.
    unknown = "%040x" % (int(run_id, 16) + 12345)
    key = per_primary[cluster.primaries()[0]]
    replies = same_as_node(cluster, proxy.port, [key], [("EVALSHA", unknown, "1", key), ("EVALSHA", unknown, "0")])
    assert replies == [b"-NOSCRIPT No matching script. Please use EVAL.\r\n"] * 2


RATE_LIMITER = """local key = KEYS[1]
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', key, 0, now - window)
local count = redis.call('ZCARD', key)
if count >= limit then return 0 end
redis.call('ZADD', key, now, now)
redis.call('EXPIRE', key, window)
return 1
"""


@pytest.mark.parametrize("protocol", [2, 3], ids=["resp2", "resp3"])
def test_rate_limiter(proxy, cluster, run_id, protocol):
    r = client(proxy.port, protocol)
    try:
        limiter = r.register_script(RATE_LIMITER)
        user = f"user-{run_id}-{protocol}"
        key = f"{{ratelimit:{user}}}:sliding"
        start = 1_700_000_000
        # 105 calls within one 60-second window: `now` grows by half a second per call.
        results = [limiter(keys=[key], args=[100, 60, start + i / 2]) for i in range(105)]
        assert results == [1] * 100 + [0] * 5
        owner = cluster.node(cluster.owner_of_key(key))
        assert owner.zcard(key) == 100
        assert 0 < owner.ttl(key) <= 60
        # Once the window has slid past the first calls, calls are allowed again.
        assert limiter(keys=[key], args=[100, 60, start + 60.25]) == 1
        assert limiter(keys=[key], args=[100, 60, start + 60.25]) == 0
        # Another user's key (another slot) is limited on its own.
        other = f"{{ratelimit:{user}-b}}:sliding"
        assert limiter(keys=[other], args=[100, 60, start]) == 1
    finally:
        r.close()
