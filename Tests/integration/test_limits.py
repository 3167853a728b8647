"""The proxy's limits, each hit on purpose by one client while a well-behaved client (SET / GET / MGET
with checked values) runs through the same proxy and must see nothing but correct replies.

Where Redis has the same limit, the test also runs against a standalone redis-server started with
the same directive ([redis]), so what the offending client gets (an error text, or a closed
connection) is compared with Redis itself:
  maxclients                 "-ERR max number of clients reached", then closed;
  client-query-buffer-limit  a request still arriving past the limit: closed, no reply;
  client-output-buffer-limit pubsub (hard and soft) and normal (hard): a client that does not read
                             its replies is closed;
  timeout                    an idle client is closed; blocked and subscribed clients are not.
The proxy alone (Redis has no equivalent):
  backpressure               a client that pipelines without reading is no longer read from, so
                             the proxy's memory stays bounded;
  backend-max-inflight       clients feeding a full backend connection wait, nothing fails.
Limits hit are logged once per event; the tests count those lines.
"""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest

from support import ConnectionClosed, RawConnection, encode_command, wait_for
from wellbehaved import StandaloneRedis, WellBehavedClient


class Endpoint:
    """The proxy (with a well-behaved client beside the test) or a standalone Redis, both started
    with the directives under test."""

    def __init__(self, kind: str, port: int, proxy=None):
        self.kind, self.port, self.proxy = kind, port, proxy

    def log_lines(self, text: str) -> list[str]:
        if self.proxy is None:
            return []
        return [l for l in Path(self.proxy.log_path).read_text(errors="replace").splitlines() if text in l]


@pytest.fixture(params=["proxy", "redis"])
def endpoint(request, start_proxy, run_dir):
    """endpoint(*directives) -> an Endpoint started with them."""
    started: list[StandaloneRedis] = []

    def start(*directives: str) -> Endpoint:
        if request.param == "proxy":
            p = start_proxy(list(directives))
            return Endpoint("proxy", p.port, p)
        r = StandaloneRedis(run_dir, *directives).start()
        started.append(r)
        return Endpoint("redis", r.port)

    yield start
    for r in started:
        r.stop()


def good_client(ep: Endpoint, label: str):
    """A WellBehavedClient on the proxy; on [redis], a stand-in that checks nothing."""
    if ep.kind == "proxy":
        return WellBehavedClient(ep.port, label)
    return _NoClient()


class _NoClient:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass

    def check(self, at_least: int = 10):
        pass


def slow_reader(port: int, rcvbuf: int = 4096) -> socket.socket:
    """A connection with a tiny receive buffer, so unread replies pile up on the server side."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(20)
    s.connect(("127.0.0.1", port))
    return s


def drain_until_closed(s: socket.socket, limit_seconds: float = 30) -> tuple[bool, int]:
    """Reads everything until the peer closes: (closed within the bound, bytes read)."""
    deadline = time.monotonic() + limit_seconds
    total = 0
    s.settimeout(2)
    while time.monotonic() < deadline:
        try:
            chunk = s.recv(1 << 20)
        except socket.timeout:
            continue
        except ConnectionResetError:
            return True, total
        if not chunk:
            return True, total
        total += len(chunk)
    return False, total


def refused_or_served(port: int) -> tuple[str, RawConnection]:
    """Opens a connection: ("refused", conn) when the server greets it with an error (maxclients),
    ("served", conn) when it answers PING."""
    conn = RawConnection(port, timeout=10)
    early = conn.read_all_available(0.3)
    if early:
        return "refused:" + early.decode(errors="replace"), conn
    assert conn.command("PING") == b"PONG"
    return "served", conn


# MARK: - maxclients


def test_maxclients(endpoint):
    ep = endpoint("--maxclients", "4")
    opened: list[RawConnection] = []
    try:
        with good_client(ep, "maxclients") as good:
            refusals = []
            served: list[RawConnection] = []
            for _ in range(12):
                outcome, conn = refused_or_served(ep.port)
                opened.append(conn)
                if outcome == "served":
                    served.append(conn)
                else:
                    refusals.append(outcome)
                    assert conn.is_closed_by_peer(wait=10), "a refused client was left open"
                if len(refusals) == 3:
                    break
            assert refusals == ["refused:-ERR max number of clients reached\r\n"] * 3
            assert len(served) <= 4
            # One client leaves: another one is served in its place.
            served[0].close()

            def admitted():
                outcome, conn = refused_or_served(ep.port)
                opened.append(conn)
                return outcome == "served"
            wait_for(admitted, 20, "a client admitted after another left")
            good.check()
        if ep.kind == "proxy":
            assert len(ep.log_lines("maxclients reached")) == 1, "maxclients refusals should be logged once, not per client"
    finally:
        for c in opened:
            c.close()


# MARK: - client-query-buffer-limit


def test_query_buffer_limit(endpoint, run_id):
    ep = endpoint("--client-query-buffer-limit", "1mb")
    with good_client(ep, "qbuf") as good:
        ok = RawConnection(ep.port)
        # Just under the limit: served.
        assert ok.command("SET", f"qbuf:{run_id}:ok", b"v" * 900_000) == b"OK"
        assert ok.command("STRLEN", f"qbuf:{run_id}:ok") == 900_000
        ok.close()

        offender = RawConnection(ep.port)
        offender.send(b"*3\r\n$3\r\nSET\r\n$" + str(len(f"qbuf:{run_id}:big")).encode() + b"\r\n"
                      + f"qbuf:{run_id}:big".encode() + b"\r\n$4000000\r\n")
        try:
            for _ in range(32):
                offender.send(b"x" * 65536)  # 2 MB of a 4 MB value: past the 1 MB limit
        except OSError:
            pass  # closed while sending
        assert offender.is_closed_by_peer(wait=10), "a client past client-query-buffer-limit was left open"
        assert offender.read_all_available(0.1) == b"", "Redis closes such a client without a reply"
        offender.close()
        good.check()
    if ep.kind == "proxy":
        assert len(ep.log_lines("client-query-buffer-limit reached")) == 1


# MARK: - client-output-buffer-limit


def subscribe_slow(port: int, channel: str) -> socket.socket:
    s = slow_reader(port)
    s.sendall(encode_command("SUBSCRIBE", channel))
    expected = b"*3\r\n$9\r\nsubscribe\r\n$%d\r\n%s\r\n:1\r\n" % (len(channel), channel.encode())
    got = b""
    while len(got) < len(expected):
        chunk = s.recv(len(expected) - len(got))
        assert chunk, "closed before the subscription was confirmed"
        got += chunk
    assert got == expected
    return s


def test_pubsub_output_hard_limit(endpoint, run_id):
    """A subscriber that stops reading while messages keep coming is closed at the hard limit, so
    the messages it does not read cannot pile up without bound."""
    ep = endpoint("--client-output-buffer-limit", "pubsub", "256kb", "0", "0")
    channel = f"obuf-hard:{run_id}"
    with good_client(ep, "obuf-pubsub-hard") as good:
        subscriber = subscribe_slow(ep.port, channel)
        publisher = RawConnection(ep.port)
        message = b"m" * 65536
        sent = 0
        for _ in range(320):  # 20 MB, far more than socket buffers hold
            reply = publisher.command("PUBLISH", channel, message)
            assert isinstance(reply, int), reply
            sent += len(message)
        closed, received = drain_until_closed(subscriber)
        subscriber.close()
        assert closed, "a subscriber past the pubsub hard limit was left open"
        assert received < sent
        assert publisher.command("PING") == b"PONG"
        publisher.close()
        good.check()
    if ep.kind == "proxy":
        assert len(ep.log_lines("client-output-buffer-limit reached")) == 1


def test_pubsub_output_soft_limit(endpoint, run_id):
    """Over the soft limit for longer than its seconds: closed."""
    ep = endpoint("--client-output-buffer-limit", "pubsub", "0", "128kb", "1")
    channel = f"obuf-soft:{run_id}"
    with good_client(ep, "obuf-pubsub-soft") as good:
        subscriber = subscribe_slow(ep.port, channel)
        publisher = RawConnection(ep.port)
        for _ in range(160):  # 10 MB: past socket buffers and the soft limit
            publisher.command("PUBLISH", channel, b"s" * 65536)
        # Small messages for a few seconds: each one makes the server look at the buffer again.
        for _ in range(40):
            publisher.command("PUBLISH", channel, b"tick")
            time.sleep(0.1)
        closed, _ = drain_until_closed(subscriber)
        subscriber.close()
        publisher.close()
        assert closed, "a subscriber over the soft limit for longer than its seconds was left open"
        good.check()


def test_normal_output_hard_limit(endpoint, run_id):
    """A client pipelining GETs of a large value without reading the replies is closed at the
    normal class's hard limit."""
    ep = endpoint("--client-output-buffer-limit", "normal", "4mb", "0", "0")
    key = f"obuf-normal:{run_id}"
    with good_client(ep, "obuf-normal") as good:
        with RawConnection(ep.port) as setup:
            assert setup.command("SET", key, b"n" * 10240) == b"OK"
        offender = slow_reader(ep.port)
        requests = encode_command("GET", key) * 2000  # 20 MB of replies
        try:
            offender.sendall(requests)
        except OSError:
            pass
        # Not reading at first: a client that keeps up with its replies (as this one could on a
        # slow build, e.g. under ThreadSanitizer) never passes the limit, backpressure sees to it.
        time.sleep(2)
        closed, received = drain_until_closed(offender)
        offender.close()
        assert closed, "a client past the normal hard limit was left open"
        assert received < 2000 * 10240
        good.check()


def test_backpressure_bounds_memory(start_proxy, run_id):
    """With no output limit (the default for normal clients), a client that sends GETs without
    reading the replies stops being read from: its requests back up in the sockets instead of
    the proxy's memory, and its replies are all correct once it reads again."""
    proxy = start_proxy([])
    key = f"backpressure:{run_id}"
    value = b"b" * 10240
    with WellBehavedClient(proxy.port, "backpressure") as good:
        with RawConnection(proxy.port) as setup:
            assert setup.command("SET", key, value) == b"OK"
        offender = slow_reader(proxy.port)
        offender.settimeout(5)
        chunk = encode_command("GET", key) * 4096
        total = 64 << 20  # 64 MB of GETs would be 27 GB of replies
        sent = 0
        try:
            while sent < total:
                offender.sendall(chunk)
                sent += len(chunk)
        except socket.timeout:
            pass
        assert sent < total, "the proxy kept reading from a client that does not read its replies"
        rss_kb = int(next(l.split()[1] for l in open(f"/proc/{proxy.pid}/status") if l.startswith("VmRSS:")))
        assert rss_kb < 512 * 1024, f"proxy RSS {rss_kb} kB while a client does not read"
        # Reading again: the replies are the right ones, in order.
        reader = RawConnection.__new__(RawConnection)
        reader.sock, reader.buf, reader.pos = offender, bytearray(), 0
        offender.settimeout(20)
        for _ in range(1000):
            assert reader.read_reply() == value
        offender.close()
        good.check()


# MARK: - timeout


def test_idle_timeout_spares_blocked_and_subscribed(endpoint, run_id):
    ep = endpoint("--timeout", "1")
    with good_client(ep, "timeout") as good:
        idle = RawConnection(ep.port)
        assert idle.command("PING") == b"PONG"
        blocked = RawConnection(ep.port)
        blocked.send(encode_command("BLPOP", f"timeout:{run_id}:list", "4"))
        subscriber = RawConnection(ep.port)
        assert subscriber.command("SUBSCRIBE", f"timeout:{run_id}:ch") == [b"subscribe", f"timeout:{run_id}:ch".encode(), 1]

        assert idle.is_closed_by_peer(wait=15), "an idle client was not closed by timeout"
        assert blocked.read_reply() is None  # BLPOP's own timeout, not the idle one
        assert blocked.command("PING") == b"PONG"
        with RawConnection(ep.port) as publisher:
            publisher.command("PUBLISH", f"timeout:{run_id}:ch", "still here")
        assert subscriber.read_reply() == [b"message", f"timeout:{run_id}:ch".encode(), b"still here"]
        for c in (idle, blocked, subscriber):
            c.close()
        good.check()


def test_idle_timeout_spares_a_client_active_within_it(endpoint):
    """A client sending a command every 300 ms is never idle for `timeout 1` (it was closed at the
    next whole second, as if the timeout counted from the start of the second it last spoke in)."""
    ep = endpoint("--timeout", "1")
    with RawConnection(ep.port) as conn:
        for _ in range(12):
            assert conn.command("PING") == b"PONG"
            time.sleep(0.3)


# MARK: - backend-max-inflight


def test_backend_max_inflight_pauses_instead_of_failing(start_proxy, run_id):
    """With a tiny in-flight limit, pipelining clients are paused while the backend connection is
    full and every request still gets its correct reply."""
    proxy = start_proxy(["--backend-max-inflight", "8"], threads=1)
    errors: list[str] = []

    def pipeline(c: int) -> None:
        try:
            with RawConnection(proxy.port, timeout=30) as conn:
                keys = [f"inflight:{run_id}:{c}:{i}" for i in range(500)]
                conn.send(b"".join(encode_command("SET", k, f"{k}=v") for k in keys)
                          + b"".join(encode_command("GET", k) for k in keys))
                for k in keys:
                    if conn.read_reply() != b"OK":
                        errors.append(f"SET {k}")
                for k in keys:
                    if conn.read_reply() != f"{k}=v".encode():
                        errors.append(f"GET {k}")
        except (OSError, ConnectionClosed) as e:
            errors.append(f"client {c}: {e}")

    with WellBehavedClient(proxy.port, "inflight") as good:
        threads = [threading.Thread(target=pipeline, args=(c,)) for c in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert not any(t.is_alive() for t in threads), "pipelining clients stuck behind backend-max-inflight"
        assert not errors, errors[:10]
        good.check()
    assert [l for l in Path(proxy.log_path).read_text().splitlines() if "backend-max-inflight" in l], \
        "the limit was never reached (no log line)"
