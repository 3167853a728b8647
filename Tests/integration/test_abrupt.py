"""Clients that leave abruptly: nothing they leave behind may stay in the proxy.

Each test starts a proxy of its own (2 workers), warms it up (shared node connections for RESP2
and RESP3, a blocking command, a subscription, a burst of short connections), starts a
well-behaved ClientLoad (SET-then-GET, RESP2 and RESP3), takes a baseline of the proxy's open
descriptors, connected clients and RSS, misbehaves, and then waits (bounded) until descriptors and
clients are back at or below the baseline and RSS within RSS_SLACK of it. The load must see no
error and no wrong value throughout. Nothing asserts timing: deadlines only bound the waits.

  test_disconnect_mid_frame         connections that close (FIN or RST) in the middle of a frame:
                                    half a multibulk header, half a bulk, 1 MB of a 10 MB value,
                                    an inline line without its newline, a pipeline cut inside an
                                    MGET; none of the partial requests reaches a node.
  test_half_closed_socket           shutdown(SHUT_WR) after pipelining: every complete request is
                                    answered (SET/GET/MGET across slots, PING), then the proxy
                                    closes; a trailing partial frame is dropped unexecuted; a
                                    half-close before any byte is closed; a half-closed client in
                                    BLPOP or subscribed is closed at once and its node connection
                                    with it (an LPUSH afterwards is not taken by a ghost BLPOP).
  test_reset_with_requests_in_flight  SO_LINGER 0 closes with work outstanding: a 1000-key MGET
                                    across slots with 4 KB values, BLPOP 0, SUBSCRIBE + PSUBSCRIBE
                                    while messages flow, a RESP3 pipeline of 1000 GETs, MULTI
                                    without EXEC, WATCH; blocked_clients returns to 0.
  test_thousands_of_short_connections  3000 connect/PING/close, 3000 connect/close without a
                                    byte, 1000 connect/RST: every PING answered PONG.
"""

from __future__ import annotations

import socket
import struct
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

import sanitizers
from procstats import Footprint, describe_fds, info_clients, wait_back_to
from support import (
    NULL3,
    ClientLoad,
    RawConnection,
    encode_command,
    key_in_slot,
    node_command,
    wait_for,
)

# RSS may stay above the baseline by this much once everything is closed: freed memory goes back
# to malloc's arenas, which keep some of it. Unbounded growth is what this catches.
# Under a sanitizer build RSS measures the sanitizer (ASan's quarantine keeps freed memory): only
# descriptors and clients are checked there.
RSS_SLACK = 48 * 1024 * 1024 if not sanitizers.active() else 1 << 40


def reset_close(sock: socket.socket) -> None:
    """Close with SO_LINGER 0: the kernel sends RST at once, dropping anything unsent."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def connect(port: int, timeout: float = 20.0) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def short_connections(port: int, count: int, mode: str, threads: int = 8) -> int:
    """`count` connections of one kind: "ping" (PING, read +PONG, close), "silent" (close without
    a byte), "reset" (RST without a byte). Returns how many PINGs were answered PONG."""
    def one(_):
        s = connect(port)
        try:
            if mode == "ping":
                s.sendall(b"*1\r\n$4\r\nPING\r\n")
                data = b""
                while not data.endswith(b"\r\n"):
                    chunk = s.recv(64)
                    if not chunk:
                        break
                    data += chunk
                return 1 if data == b"+PONG\r\n" else 0
            return 0
        finally:
            if mode == "reset":
                reset_close(s)
            else:
                s.close()

    with ThreadPoolExecutor(threads) as pool:
        return sum(pool.map(one, range(count)))


class Abrupt:
    """A proxy of this test, warmed up, with a well-behaved load running and a baseline taken."""

    def __init__(self, proxy, cluster, run_id: str, label: str):
        self.proxy, self.cluster, self.run_id = proxy, cluster, run_id
        self.port = proxy.port
        self.warm_up()
        self.load = ClientLoad(self.port, f"{label}:{run_id}", protocols=(None, 2), pause=0.002,
                               max_seconds=170).start()
        wait_for(lambda: info_clients(self.port)["connected_clients"] >= 3, 20, "the load's clients connect")
        self.base = Footprint.baseline(proxy.pid, self.port)
        print(f"\n  baseline: {self.base}: {describe_fds(proxy.pid)}")

    def warm_up(self) -> None:
        # Node connections are per worker and opened on first use: enough connections of each
        # protocol that both workers (SO_REUSEPORT spreads them) open theirs to every primary.
        keys = [key_in_slot(s, f":warm:{self.run_id}") for s in range(0, 16384, 997)]
        primaries = {self.cluster.owner_of_key(k): k for k in keys}
        for protocol in (2, 3) * 12:
            with RawConnection(self.port) as c:
                if protocol == 3:
                    c.command("HELLO", "3")
                for k in keys:
                    assert c.command("SET", k, "v") == b"OK"
                assert c.command("MGET", *keys) == [b"v"] * len(keys)
                for k in primaries.values():  # a blocking connection to each primary, kept idle
                    assert c.command("BLPOP", k + ":list", "0.01") in (None, NULL3)
        for _ in range(2):
            s = connect(self.port)
            s.sendall(encode_command("SUBSCRIBE", f"warm:{self.run_id}"))
            s.recv(1024)
            reset_close(s)
        short_connections(self.port, 300, "ping")

    def finish(self) -> None:
        """The proxy is back to its baseline and the load saw only correct replies."""
        try:
            after = wait_back_to(self.proxy.pid, self.port, self.base, RSS_SLACK,
                                 sockets_only=bool(sanitizers.active()))
            print(f"  after: {after}")
        finally:
            self.load.stop()
        print(self.load.summary())
        assert self.load.error_count == 0 and not self.load.mismatches, self.load.summary()
        assert self.load.successes_after(self.load.started_at)[0] > 0, "the load made no progress"
        assert self.proxy.process.poll() is None, "the proxy exited"


@pytest.fixture
def abrupt(start_proxy, cluster, run_id, request):
    state = Abrupt(start_proxy(threads=2), cluster, run_id, request.node.name[5:25])
    yield state
    if not state.load._stop.is_set():
        state.load.stop()


def test_disconnect_mid_frame(abrupt, cluster, run_id):
    port = abrupt.port
    never = [key_in_slot(s, f":never:{run_id}") for s in (5, 6000, 12000)]
    pipeline_keys = [key_in_slot(s, f":cut:{run_id}") for s in range(0, 16384, 331)]
    pipeline = b"".join(encode_command("SET", k, "x") for k in pipeline_keys)
    cut_mget = encode_command("MGET", *pipeline_keys)
    partial_frames = [
        b"*3\r\n$3\r\nSET\r\n$1",                                             # inside a header
        b"*3\r\n$3\r\nSET\r\n$" + str(len(never[0])).encode() + b"\r\n" + never[0].encode()[:4],  # half a key
        b"*3\r\n$3\r\nSET\r\n$" + str(len(never[1])).encode() + b"\r\n" + never[1].encode()
        + b"\r\n$10000000\r\n" + b"x" * (1 << 20),                          # 1 MB of a 10 MB value
        b"SET " + never[2].encode() + b" value-without-newline",             # inline, unfinished
        pipeline + cut_mget[: len(cut_mget) // 2],                           # a pipeline cut in an MGET
    ]
    for round_ in range(40):
        for i, frame in enumerate(partial_frames):
            s = connect(port)
            try:
                s.sendall(frame)
            finally:
                reset_close(s) if (round_ + i) % 2 else s.close()
    abrupt.finish()
    assert cluster.get_many_direct(never) == [None, None, None], "a partial frame was executed"
    assert cluster.get_many_direct(pipeline_keys[:5]) == [b"x"] * 5, "the complete SETs before the cut ran"


def read_until_eof(sock: socket.socket) -> bytes:
    data = b""
    while True:
        chunk = sock.recv(1 << 16)
        if not chunk:
            return data
        data += chunk


def test_half_closed_socket(abrupt, cluster, run_id):
    """After EOF the proxy answers every complete request it received, then closes."""
    port = abrupt.port
    keys = [key_in_slot(s, f":half:{run_id}") for s in range(7, 16384, 509)]
    dropped = key_in_slot(4242, f":half-dropped:{run_id}")

    def one(i: int) -> None:
        requests = []
        for k in keys:
            requests.append(encode_command("SET", k, f"{i}"))
        requests.append(encode_command("MGET", *keys))
        requests += [encode_command("GET", k) for k in keys[:10]]
        requests.append(encode_command("PING"))
        tail = encode_command("SET", dropped, "x")[:-5] if i % 2 else b""
        s = connect(port)
        try:
            s.sendall(b"".join(requests) + tail)
            s.shutdown(socket.SHUT_WR)
            data = read_until_eof(s)
        finally:
            s.close()
        # Every key got this connection's value (other connections write other values, so only the
        # shape of MGET's reply and the order of replies are checked here, the values below).
        ok = b"+OK\r\n" * len(keys)
        assert data.startswith(ok), data[:200]
        assert data.endswith(b"+PONG\r\n"), data[-200:]
        assert data.count(b"\r\n") == len(keys) + (1 + 2 * len(keys)) + 2 * 10 + 1, data[:400]

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, range(40)))
    assert cluster.get_direct(dropped) is None, "the partial request behind EOF was executed"

    # One connection alone: its own values, read back in its replies.
    s = connect(port)
    s.sendall(b"".join(encode_command("SET", k, "solo") for k in keys) + encode_command("MGET", *keys))
    s.shutdown(socket.SHUT_WR)
    data = read_until_eof(s)
    s.close()
    assert data == b"+OK\r\n" * len(keys) + f"*{len(keys)}\r\n".encode() + b"$4\r\nsolo\r\n" * len(keys)

    # Half-closed before a byte: closed.
    for _ in range(50):
        s = connect(port)
        s.shutdown(socket.SHUT_WR)
        assert read_until_eof(s) == b""
        s.close()

    # Half-closed while blocked or subscribed: closed at once, the node connection with it.
    listed = key_in_slot(777, f":half-list:{run_id}")
    blocked = []
    for _ in range(5):
        s = connect(port)
        s.sendall(encode_command("BLPOP", listed, "0"))
        blocked.append(s)
    wait_for(lambda: info_clients(port)["blocked_clients"] >= 5, 20, "5 BLPOPs waiting")
    for s in blocked:
        s.shutdown(socket.SHUT_WR)
    for s in blocked:
        assert read_until_eof(s) == b""
        s.close()
    for command in (("SUBSCRIBE", f"half:{run_id}"), ("PSUBSCRIBE", f"half:{run_id}:*")):
        s = connect(port)
        s.sendall(encode_command(*command))
        s.shutdown(socket.SHUT_WR)
        read_until_eof(s)  # the confirmation may or may not come first; then EOF
        s.close()
    wait_for(lambda: info_clients(port)["blocked_clients"] == 0, 20, "blocked_clients back to 0")
    owner = cluster.owner_of_key(listed)
    wait_for(lambda: info_clients(owner)["blocked_clients"] == 0, 20, "the node's BLPOPs ended")
    assert node_command(owner, "LPUSH", listed, "x") == 1
    assert node_command(owner, "LLEN", listed) == 1, "a ghost BLPOP took the element"
    abrupt.finish()


def test_reset_with_requests_in_flight(abrupt, cluster, run_id):
    port = abrupt.port
    keys = [key_in_slot(s, f":big:{run_id}") for s in range(0, 16384, 16)][:1000]
    with RawConnection(port) as c:
        c.send(b"".join(encode_command("SET", k, "v" * 4096) for k in keys))
        for _ in keys:
            assert c.read_reply() == b"OK"
    mget = encode_command("MGET", *keys)
    listed = key_in_slot(999, f":reset-list:{run_id}")
    channel = f"reset:{run_id}"

    stop_publishing = threading.Event()

    def publish():
        with RawConnection(port) as c:
            while not stop_publishing.is_set():
                c.command("PUBLISH", channel, "m" * 200)

    publisher = threading.Thread(target=publish, daemon=True)
    publisher.start()
    try:
        for round_ in range(15):
            # Work outstanding on every kind of connection, then RST on all of them at once.
            socks = []
            for _ in range(3):
                s = connect(port)
                s.sendall(mget)
                socks.append(s)
            s = connect(port)
            s.sendall(encode_command("HELLO", "3") + b"".join(encode_command("GET", k) for k in keys))
            socks.append(s)
            for _ in range(3):
                s = connect(port)
                s.sendall(encode_command("BLPOP", listed, "0"))
                socks.append(s)
            for command in (("SUBSCRIBE", channel), ("PSUBSCRIBE", channel + "*"), ("SSUBSCRIBE", channel)):
                s = connect(port)
                s.sendall(encode_command(*command))
                s.recv(256)
                socks.append(s)
            s = connect(port)
            s.sendall(encode_command("MULTI") + encode_command("SET", keys[0], "in-multi"))
            socks.append(s)
            s = connect(port)
            s.sendall(encode_command("WATCH", keys[1]) + encode_command("GET", keys[1]))
            socks.append(s)
            wait_for(lambda: info_clients(port)["blocked_clients"] >= 3, 20, "the BLPOPs are waiting")
            if round_ % 3 == 0:
                socks[0].recv(1000)  # a reply partly read, the rest in flight
            for s in socks:
                reset_close(s)
    finally:
        stop_publishing.set()
        publisher.join(30)
    wait_for(lambda: info_clients(port)["blocked_clients"] == 0, 20, "blocked_clients back to 0")
    owner = cluster.owner_of_key(listed)
    wait_for(lambda: info_clients(owner)["blocked_clients"] == 0, 20, "the node's BLPOPs ended")
    assert node_command(owner, "LPUSH", listed, "x") == 1
    assert node_command(owner, "LLEN", listed) == 1, "a ghost BLPOP took the element"
    assert cluster.get_direct(keys[0]) == b"v" * 4096, "MULTI without EXEC ran"
    abrupt.finish()


def test_thousands_of_short_connections(abrupt):
    port = abrupt.port
    assert short_connections(port, 3000, "ping") == 3000
    assert short_connections(port, 3000, "silent") == 0
    assert short_connections(port, 1000, "reset") == 0
    abrupt.finish()
    with RawConnection(port) as c:
        reply = c.command("PING")
        assert reply == b"PONG", reply
