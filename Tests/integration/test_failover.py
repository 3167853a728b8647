"""Fault-injection tests: failover, resharding and outages that clients of the proxy don't see.

Every test runs on a cluster of its own (`own_cluster`: 3 primaries + 3 replicas, node timeout
2000 ms; never the session's shared cluster, since these tests kill nodes) and a proxy of its own,
both stopped by PID afterwards. Load comes from support.ClientLoad: four client threads, each with
its own redis-py connection through the proxy (two on redis-py's default protocol, RESP3, two on
protocol=2), SET-then-GET on keys spread over every slot, no client-side retries. Each test is
bounded by pytest-timeout and by explicit deadlines on every wait; every load stops by itself.
Latencies are printed (`-s` shows them), never asserted.

  test_kill_primary               kill -9 a primary under load for ~20 s: zero error replies, every
                                  GET returns the value that client last wrote, every client makes
                                  progress after the replica's promotion; then the killed node is
                                  restarted (same port, dir, nodes.conf), rejoins as a replica of the
                                  promoted node, and traffic continues without errors; values checked
                                  on the owning primaries at the end.
  test_manual_failover            CLUSTER FAILOVER on a replica under load: zero errors, values right.
  test_reshard_under_load         redis-cli --cluster reshard of 2000 slots between two primaries
                                  under load (MIGRATE: ASK, then MOVED): zero errors, the slots moved,
                                  every value intact on its new owner.
  test_add_node_rebalance         a new empty primary joined with redis-cli --cluster add-node, then
                                  --cluster rebalance --cluster-use-empty-masters under load: zero
                                  errors, the new node owns slots and holds keys, values intact.
  test_seeds_down_at_start        a proxy started while none of its seeds run (--failover-hold-ms
                                  3000) answers PING and gives a clear error (CLUSTERDOWN or
                                  "ERR slotproxy: ...") to SET/GET; once the cluster is started on
                                  those ports it serves, on the same client connection, unrestarted.
  test_whole_cluster_restart      all six nodes kill -9'd under a proxy with --failover-hold-ms 3000:
                                  requests get a clear error (after the hold), the connection stays
                                  usable; the nodes restarted (same ports, dirs, nodes.conf) and the
                                  same proxy serves again without errors.
  test_incr_outcome_unknown       INCR load during kill -9 of a primary (raw connections, so error
                                  texts are exact): every error (if any) starts with "ERR slotproxy:"
                                  and says the outcome is unknown; each counter on its owner equals
                                  the successful INCRs plus at most the INCRs that got such errors.
  test_ssubscribe_survives_primary_failover   a raw RESP2 client SSUBSCRIBEd through the proxy;
                                  the primary owning the channel's slot is kill -9'd and its replica
                                  promoted: SPUBLISH through the proxy reaches the subscriber again
                                  (the proxy subscribes it again on the new owner), which never sees
                                  an unsolicited sunsubscribe or an error; SUNSUBSCRIBE then answers
                                  count 0 and leaves subscribed mode (PING answers +PONG).
  test_subscribe_connection_lost_closes_client   a raw RESP2 client SUBSCRIBEd through the proxy;
                                  the node holding the proxy's pub/sub connection (CLIENT LIST
                                  flags=P on each primary) is kill -9'd: the proxy closes the client's
                                  connection. Then a redis-py PubSub (which subscribes again when it
                                  reconnects) keeps receiving messages published through the proxy
                                  after its pub/sub node is kill -9'd too.
"""

from __future__ import annotations

import re
import select
import socket
import subprocess
import time

import pytest
import redis

from support import (
    ClientLoad,
    ConnectionClosed,
    ErrorReply,
    RawConnection,
    encode_command,
    free_cluster_base,
    key_in_slot,
    node_command,
    node_role,
    replica_linked,
    wait_for,
)

pytestmark = pytest.mark.failover

LOAD_SECONDS = 20.0          # how long the kill -9 test keeps its load running (at least)
PROMOTION_TIMEOUT = 30.0     # node timeout 2 s: a replica is promoted in ~3-5 s
REJOIN_TIMEOUT = 60.0
HOLD_MS = 3000               # --failover-hold-ms for the outage tests
CLEAR_ERROR = re.compile(r"^(CLUSTERDOWN|ERR slotproxy:)")
UNKNOWN_OUTCOME = re.compile(r"^\[reply\] INCR: ERR slotproxy:.*\bunknown\b", re.IGNORECASE)
STATS = ("redirections", "retries", "held_requests", "topology_refreshes", "failovers_detected")


# MARK: - Helpers


def report(load: ClientLoad, proxy) -> str:
    """The load's summary, the proxy's failover counters and its log tail, printed and returned
    (assertion messages carry it)."""
    try:
        stats = proxy.stats()
        counters = ", ".join(f"{name}={stats.get(name, '(missing)')}" for name in STATS)
    except (OSError, ConnectionClosed) as e:
        counters = f"(INFO stats failed: {e})"
    text = f"{load.summary()}\n  proxy stats: {counters}"
    print("\n" + text)
    return f"{text}\nproxy log tail:\n{proxy.log_tail(15)}"


def assert_invisible(load: ClientLoad, proxy, cluster, progress_after: tuple[str, ...] = ()) -> None:
    """Zero errors, every GET right, every client served after each named event, and every value
    right on the primary owning its slot."""
    text = report(load, proxy)
    assert load.error_count == 0, f"clients saw {load.error_count} errors\n{text}"
    assert not load.mismatches, f"GETs returned other values than last written\n{text}"
    for event in progress_after:
        after = load.successes_after(load.event_time(event))
        stalled = [c for c, n in after.items() if n == 0]
        assert not stalled, f"clients {stalled} completed nothing after {event}\n{text}"
    wrong = load.final_check(cluster)
    assert not wrong, f"{len(wrong)} values wrong on their owners, e.g. {wrong[:5]}\n{text}"


def run_until(load: ClientLoad, total: float, after: float = 0.0, since: str | None = None) -> None:
    """Lets the load run until `total` seconds since its start and `after` seconds past event
    `since` (both bounded: the load has its own hard deadline too)."""
    end = load.started_at + total
    if since is not None:
        end = max(end, load.event_time(since) + after)
    time.sleep(max(0.0, end - time.monotonic()))


def redis_cli_cluster(*args: str, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(["redis-cli", "--cluster", *args], capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def command_within(conn: RawConnection, *args):
    """(reply, seconds) of one command; the connection's own timeout bounds it."""
    start = time.monotonic()
    try:
        reply = conn.command(*args)
    except socket.timeout:
        reply = f"no reply within {conn.sock.gettimeout()}s"
    return reply, time.monotonic() - start


def wait_promoted(cluster, load: ClientLoad, replica: int, old_primary: int | None = None) -> None:
    def promoted():
        if node_role(replica) != "master":
            return False
        return old_primary is None or node_role(old_primary) == "slave"
    wait_for(promoted, PROMOTION_TIMEOUT, f"replica {replica} promoted")
    load.mark("promoted")


# MARK: - Failover


@pytest.mark.timeout(300)
def test_kill_primary(own_cluster, own_proxy, run_id):
    cluster = own_cluster
    proxy = own_proxy(cluster.seeds)
    victim = cluster.primaries()[0]
    replica = cluster.replica_of(victim)
    with ClientLoad(proxy.port, f"kill:{run_id}") as load:
        time.sleep(3)
        load.mark("kill")
        cluster.kill_node(victim)
        wait_promoted(cluster, load, replica)
        time.sleep(2)
        cluster.restart_node(victim)
        load.mark("restarted")
        wait_for(lambda: replica_linked(victim), REJOIN_TIMEOUT, f"node {victim} rejoined as a replica")
        load.mark("rejoined")
        run_until(load, LOAD_SECONDS, after=3, since="rejoined")
        load.stop()
    assert node_role(victim) == "slave"
    info = node_command(victim, "INFO", "replication")
    assert f"master_port:{replica}".encode() in info, f"{victim} replicates another node:\n{info!r}"
    assert_invisible(load, proxy, cluster, progress_after=("promoted", "rejoined"))


@pytest.mark.timeout(240)
def test_manual_failover(own_cluster, own_proxy, run_id):
    cluster = own_cluster
    proxy = own_proxy(cluster.seeds)
    primary = cluster.primaries()[1]
    replica = cluster.replica_of(primary)
    with ClientLoad(proxy.port, f"manual:{run_id}") as load:
        time.sleep(3)
        load.mark("failover")
        reply = node_command(replica, "CLUSTER", "FAILOVER")
        assert reply == b"OK", f"CLUSTER FAILOVER on {replica}: {reply!r}"
        wait_promoted(cluster, load, replica, old_primary=primary)
        run_until(load, 12, after=4, since="promoted")
        load.stop()
    assert_invisible(load, proxy, cluster, progress_after=("promoted",))


# MARK: - Slots moving


@pytest.mark.timeout(360)
def test_reshard_under_load(own_cluster, own_proxy, run_id):
    cluster = own_cluster
    proxy = own_proxy(cluster.seeds)
    source, dest = cluster.primaries()[0], cluster.primaries()[1]
    source_id, dest_id = cluster.node_id(source), cluster.node_id(dest)
    dest_slots = len(cluster.slots_of(dest))
    with ClientLoad(proxy.port, f"reshard:{run_id}", keys_per_client=128) as load:
        owners_before = [cluster.owner_of_key(k) for k in load.all_keys()]
        time.sleep(2)
        load.mark("reshard")
        result = redis_cli_cluster("reshard", f"127.0.0.1:{source}", "--cluster-from", source_id,
                                   "--cluster-to", dest_id, "--cluster-slots", "2000", "--cluster-yes",
                                   timeout=240)
        load.mark("resharded")
        time.sleep(3)
        load.stop()
    assert result.returncode == 0, f"reshard failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
    cluster.slot_owners(refresh=True)
    assert len(cluster.slots_of(dest)) == dest_slots + 2000
    moved = sum(1 for k, before in zip(load.all_keys(), owners_before)
                if before == source and cluster.owner_of_key(k) == dest)
    print(f"\nreshard took {load.event_time('resharded') - load.event_time('reshard'):.1f}s; "
          f"{moved} of the load's keys moved from {source} to {dest}")
    assert moved > 0, "no key of the load was in the slots that moved"
    assert_invisible(load, proxy, cluster, progress_after=("resharded",))


@pytest.mark.timeout(420)
def test_add_node_rebalance(own_cluster, own_proxy, run_id):
    cluster = own_cluster
    proxy = own_proxy(cluster.seeds)
    new_port = cluster.base + 6  # own_cluster probed it free
    existing = cluster.ports[0]
    cluster.new_node(new_port)

    def all_know_new_node():
        # MIGRATE to the new node fails with CLUSTERDOWN until its own cluster_state is ok.
        for port in cluster.ports:
            nodes = cluster.cluster_nodes(port)
            if len(nodes) != 7 or any({"handshake", "noaddr", "fail", "fail?"} & n["flags"] for n in nodes):
                return False
            if b"cluster_state:ok" not in node_command(port, "CLUSTER", "INFO"):
                return False
        return True

    with ClientLoad(proxy.port, f"rebalance:{run_id}", keys_per_client=128) as load:
        time.sleep(2)
        load.mark("add-node")
        added = redis_cli_cluster("add-node", f"127.0.0.1:{new_port}", f"127.0.0.1:{existing}", timeout=60)
        if added.returncode == 0:
            wait_for(all_know_new_node, 30, "every node knows the new one, cluster_state ok")
            load.mark("rebalance")
            result = redis_cli_cluster("rebalance", f"127.0.0.1:{existing}", "--cluster-use-empty-masters",
                                       timeout=300)
            load.mark("rebalanced")
            time.sleep(3)
        load.stop()
    assert added.returncode == 0, f"add-node failed:\n{added.stdout[-2000:]}\n{added.stderr[-2000:]}"
    assert result.returncode == 0, f"rebalance failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
    cluster.slot_owners(refresh=True)
    new_slots = len(cluster.slots_of(new_port))
    keys_there = node_command(new_port, "DBSIZE")
    print(f"\nrebalance took {load.event_time('rebalanced') - load.event_time('rebalance'):.1f}s; "
          f"new node {new_port} owns {new_slots} slots and holds {keys_there} keys")
    assert new_slots > 0, "the new node owns no slot after the rebalance"
    assert isinstance(keys_there, int) and keys_there > 0, f"DBSIZE on the new node: {keys_there!r}"
    assert_invisible(load, proxy, cluster, progress_after=("rebalanced",))


# MARK: - Outages


@pytest.mark.timeout(240)
def test_seeds_down_at_start(new_cluster, own_proxy, run_id):
    base = free_cluster_base(nodes=7)
    seeds = ",".join(f"127.0.0.1:{base + i}" for i in range(6))
    proxy = own_proxy(seeds, ["--failover-hold-ms", str(HOLD_MS)], serving=False)
    key = key_in_slot(1000, f":seeds-down:{run_id}")
    with RawConnection(proxy.port, timeout=HOLD_MS / 1000 + 12) as conn:
        for args in (("SET", key, "1"), ("GET", key)):
            # One at a time: after a request that got no reply the connection is out of step.
            reply, seconds = command_within(conn, *args)
            print(f"\nwhile no seed runs: {args[0]} -> {reply!r} after {seconds:.2f}s", end="")
            assert isinstance(reply, ErrorReply) and CLEAR_ERROR.match(reply.text), \
                f"{args[0]} while no seed runs: {reply!r}, not CLUSTERDOWN / ERR slotproxy:\n{proxy.log_tail(15)}"
        print()
        cluster = new_cluster(base)
        started = time.monotonic()
        wait_for(lambda: command_within(conn, "SET", key, "2")[0] == b"OK", 40,
                 "the proxy serves (same connection) after the cluster started")
        print(f"served {time.monotonic() - started:.2f}s after the cluster was ready")
        assert conn.command("GET", key) == b"2"
    assert cluster.get_direct(key) == b"2"
    with ClientLoad(proxy.port, f"seeds-down:{run_id}") as load:
        time.sleep(4)
        load.stop()
    assert_invisible(load, proxy, cluster)


@pytest.mark.timeout(300)
def test_whole_cluster_restart(own_cluster, own_proxy, run_id):
    cluster = own_cluster
    proxy = own_proxy(cluster.seeds, ["--failover-hold-ms", str(HOLD_MS)])
    with ClientLoad(proxy.port, f"before-outage:{run_id}") as before:
        time.sleep(3)
        before.stop()
    assert_invisible(before, proxy, cluster)

    keys = [key_in_slot(slot, f":outage:{run_id}") for slot in (100, 6000, 12000)]  # one per shard
    with RawConnection(proxy.port, timeout=HOLD_MS / 1000 + 12) as conn:
        killed_at = time.monotonic()
        for port in cluster.ports:
            cluster.kill_node(port)
        for k in keys:
            # One at a time: after a request that got no reply the connection is out of step.
            reply, seconds = command_within(conn, "SET", k, "x")
            print(f"\nwhile all nodes are down: SET -> {reply!r} after {seconds:.2f}s", end="")
            assert isinstance(reply, ErrorReply) and CLEAR_ERROR.match(reply.text), \
                f"SET {k} while the cluster is down (hold {HOLD_MS} ms): {reply!r}\n{proxy.log_tail(15)}"
        print()
        assert conn.command("PING") == b"PONG"
        time.sleep(max(0.0, killed_at + HOLD_MS / 1000 + 1 - time.monotonic()))
        for port in cluster.ports:
            cluster.restart_node(port)
        wait_for(cluster.is_ready, 90, "the restarted cluster is ready", interval=0.5)
        ready_at = time.monotonic()
        wait_for(lambda: command_within(conn, "SET", keys[0], "back")[0] == b"OK", 40,
                 "the proxy serves again (same connection)")
        print(f"served {time.monotonic() - ready_at:.2f}s after the restarted cluster was ready")
    assert proxy.process.poll() is None
    with ClientLoad(proxy.port, f"after-outage:{run_id}") as after:
        time.sleep(4)
        after.stop()
    assert_invisible(after, proxy, cluster)


# MARK: - Non-idempotent commands


@pytest.mark.timeout(240)
def test_incr_outcome_unknown(own_cluster, own_proxy, run_id):
    cluster = own_cluster
    proxy = own_proxy(cluster.seeds)
    victim = cluster.primaries()[2]
    replica = cluster.replica_of(victim)
    with ClientLoad(proxy.port, f"incr:{run_id}", protocols=(3, 3, 2, 2), mode="incr", raw=True) as load:
        time.sleep(3)
        load.mark("kill")
        cluster.kill_node(victim)
        wait_promoted(cluster, load, replica)
        run_until(load, 15, after=4, since="promoted")
        load.stop()
    text = report(load, proxy)
    unknown = {t: n for t, n in load.error_texts.items() if UNKNOWN_OUTCOME.match(t)}
    other = {t: n for t, n in load.error_texts.items() if t not in unknown}
    print(f"  {sum(unknown.values())} unknown-outcome errors")
    assert not other, f"{sum(other.values())} errors are not unknown-outcome errors: {other}\n{text}"
    assert not load.mismatches, f"counters went back\n{text}"
    after = load.successes_after(load.event_time("promoted"))
    assert all(after.values()), f"clients stalled after the promotion: {after}\n{text}"
    wrong = load.final_check(cluster)
    assert not wrong, f"{len(wrong)} counters out of range, e.g. {wrong[:5]}\n{text}"


# MARK: - Subscriptions


def frames_within(conn: RawConnection, seconds: float) -> list:
    """Every complete reply that arrives on conn within `seconds` of quiet (each new frame
    restarts the wait)."""
    frames = []
    while True:
        if len(conn.buf) == conn.pos:
            readable, _, _ = select.select([conn.sock], [], [], seconds)
            if not readable:
                return frames
        frames.append(conn.read_reply())


def closed_within(conn: RawConnection, seconds: float) -> tuple[bool, bytes]:
    """(closed by the peer within `seconds`, the bytes that arrived before)."""
    data = bytes(conn.buf[conn.pos:])
    deadline = time.monotonic() + seconds
    try:
        while (left := deadline - time.monotonic()) > 0:
            conn.sock.settimeout(left)
            chunk = conn.sock.recv(65536)
            if not chunk:
                return True, data
            data += chunk
    except socket.timeout:
        pass
    except ConnectionResetError:
        return True, data
    return False, data


def pubsub_holders(ports) -> dict[int, int]:
    """Port -> how many of its clients are in pub/sub mode (CLIENT LIST flags with P), for the
    nodes that answer. Only the proxy connects to a test's own cluster, so they are its."""
    out = {}
    for port in ports:
        text = node_command(port, "CLIENT", "LIST")
        if not isinstance(text, bytes) or isinstance(text, ErrorReply):
            continue
        out[port] = 0
        for line in text.decode().splitlines():
            fields = dict(f.split("=", 1) for f in line.split() if "=" in f)
            if "P" in fields.get("flags", "") and int(fields.get("sub", "0")) > 0:
                out[port] += 1
    return out


def the_pubsub_node(cluster) -> int:
    """The one primary holding a pub/sub connection of the proxy (waited for: the proxy connects
    while it answers the SUBSCRIBE, CLIENT LIST may lag a moment)."""
    def single():
        holding = [port for port, n in pubsub_holders(cluster.primaries()).items() if n > 0]
        return holding[0] if len(holding) == 1 else None
    try:
        return wait_for(single, 10, "exactly one primary holds the proxy's pub/sub connection")
    except AssertionError as e:
        every = pubsub_holders(cluster.ports)
        raise AssertionError(f"{e}; primaries {cluster.primaries()}, pub/sub clients per node {every}") from None


@pytest.mark.timeout(180)
def test_ssubscribe_survives_primary_failover(own_cluster, own_proxy, run_id):
    cluster = own_cluster
    proxy = own_proxy(cluster.seeds)
    victim = cluster.primaries()[0]
    replica = cluster.replica_of(victim)
    slots = cluster.slots_of(victim)
    channel = key_in_slot(slots[len(slots) // 2], f":sfail:{run_id}")
    ch = channel.encode()
    with RawConnection(proxy.port, timeout=5) as sub, RawConnection(proxy.port, timeout=40) as pub:
        assert sub.command("SSUBSCRIBE", channel) == [b"ssubscribe", ch, 1]
        assert pub.command("SPUBLISH", channel, "before") == 1
        assert sub.read_reply() == [b"smessage", ch, b"before"]

        cluster.kill_node(victim)
        killed = time.monotonic()
        seen = []  # every frame the subscriber gets from now on
        deadline = killed + PROMOTION_TIMEOUT
        while node_role(replica) != "master":
            assert time.monotonic() < deadline, f"replica {replica} not promoted within {PROMOTION_TIMEOUT}s"
            seen += frames_within(sub, 0.2)
        promoted = time.monotonic()

        # The proxy subscribes again on its 100 ms tick once it knows the new owner: until then a
        # SPUBLISH reaches nobody (0), or is held / refused while the slot has no owner.
        received, published, n = None, [], 0
        deadline = promoted + 15
        while received is None and time.monotonic() < deadline:
            n += 1
            reply, seconds = command_within(pub, "SPUBLISH", channel, f"after-{n}")
            published.append((reply, round(seconds, 2)))
            for frame in frames_within(sub, 0.3):
                seen.append(frame)
                if frame == [b"smessage", ch, f"after-{n}".encode()]:
                    received = time.monotonic()
        seen += frames_within(sub, 1.0)  # late duplicates or anything else
        print(f"\nkill -> promoted {promoted - killed:.2f}s; "
              + (f"first message {received - promoted:.2f}s after the promotion" if received else "no message")
              + f"; SPUBLISH replies {published}")
        assert received is not None, \
            f"no message within 15 s of the promotion; SPUBLISH replies {published}; the subscriber saw {seen!r}\n" \
            f"{proxy.log_tail(20)}"
        unexpected = [f for f in seen if not (isinstance(f, list) and f[:2] == [b"smessage", ch])]
        assert not unexpected, f"the subscriber got frames it never asked for: {unexpected!r}"

        # The subscription is the client's own again: SUNSUBSCRIBE answers as one server would.
        sub.send(encode_command("SUNSUBSCRIBE", channel))
        reply = sub.read_reply()
        while isinstance(reply, list) and reply[:2] == [b"smessage", ch]:
            reply = sub.read_reply()
        assert reply == [b"sunsubscribe", ch, 0], f"SUNSUBSCRIBE after the failover: {reply!r}"
        assert frames_within(sub, 0.5) == []
        assert sub.command("PING") == b"PONG", "the client is still in subscribed mode"
    cluster.slot_owners(refresh=True)
    left = node_command(cluster.owner_of_key(channel), "PUBSUB", "SHARDNUMSUB", channel)
    assert left == [ch, 0], f"PUBSUB SHARDNUMSUB on the new owner after SUNSUBSCRIBE: {left!r}"


@pytest.mark.timeout(300)
def test_subscribe_connection_lost_closes_client(own_cluster, own_proxy, run_id):
    cluster = own_cluster
    proxy = own_proxy(cluster.seeds)
    channel = f"plain:{run_id}"

    # A raw client: the node holding its subscription dies, the proxy closes the client.
    with RawConnection(proxy.port, timeout=5) as sub:
        assert sub.command("SUBSCRIBE", channel) == [b"subscribe", channel.encode(), 1]
        holder = the_pubsub_node(cluster)
        replica = cluster.replica_of(holder)
        cluster.kill_node(holder)
        killed = time.monotonic()
        closed, data = closed_within(sub, 10)
        print(f"\nraw client: {'closed' if closed else 'NOT closed'} {time.monotonic() - killed:.2f}s "
              f"after kill -9 of {holder}; bytes before: {data!r}")
        assert closed, f"the proxy did not close the subscribed client within 10 s (got {data!r})\n" \
                       f"{proxy.log_tail(20)}"

    # Heal the cluster (the old primary back as a replica) so the next kill leaves a replica to promote.
    wait_for(lambda: node_role(replica) == "master", PROMOTION_TIMEOUT, f"replica {replica} promoted")
    cluster.restart_node(holder)
    wait_for(lambda: replica_linked(holder), REJOIN_TIMEOUT, f"node {holder} rejoined as a replica")
    wait_for(cluster.is_ready, REJOIN_TIMEOUT, "the cluster is ready again", interval=0.5)
    cluster.slot_owners(refresh=True)
    # Known limit: a topology read just after the killed node restarted may still name it a
    # primary (its own stale view); the next periodic refresh corrects it. Wait for one.
    refreshes = int(proxy.stats()["topology_refreshes"])
    wait_for(lambda: int(proxy.stats()["topology_refreshes"]) > refreshes, 25, "a topology refresh after the rejoin")

    # redis-py's PubSub: it reconnects and subscribes again by itself.
    client = redis.Redis(host="127.0.0.1", port=proxy.port, protocol=2, socket_timeout=10)
    publisher = redis.Redis(host="127.0.0.1", port=proxy.port, protocol=2, socket_timeout=10)
    pubsub = client.pubsub()
    try:
        pubsub.subscribe(channel)
        first = wait_for(lambda: pubsub.get_message(timeout=0.5), 10, "the subscribe confirmation")
        assert first["type"] == "subscribe", first
        publisher.publish(channel, "before")  # counts only the receivers on the node it went to
        message = wait_for(lambda: pubsub.get_message(timeout=0.5), 10, "the message before the kill")
        assert message["data"] == b"before", message

        holder = the_pubsub_node(cluster)
        cluster.kill_node(holder)
        killed = time.monotonic()
        events, received, n = [], None, 0
        deadline = killed + 45
        while received is None and time.monotonic() < deadline:
            n += 1
            try:
                publisher.publish(channel, f"after-{n}")
            except redis.RedisError as e:
                events.append(f"publish: {type(e).__name__}: {e}")
            until = time.monotonic() + 0.5
            while received is None and time.monotonic() < until:
                try:
                    message = pubsub.get_message(timeout=0.2)
                except redis.RedisError as e:
                    events.append(f"get_message: {type(e).__name__}: {e}")
                    continue
                if message is None:
                    continue
                if message["type"] == "message" and message["data"].startswith(b"after-"):
                    received = time.monotonic()
                else:
                    events.append(f"{message['type']} {message['data']!r}")
        print(f"redis-py PubSub after kill -9 of {holder}: "
              + (f"message after {received - killed:.2f}s" if received else "no message within 45 s")
              + f"; other events: {events}")
        assert received is not None, f"redis-py's PubSub got no message after the node loss: {events}\n" \
                                     f"{proxy.log_tail(20)}"
    finally:
        pubsub.close()
        client.close()
        publisher.close()
