"""Connection floods: thousands of clients at once, and a proxy that runs out of descriptors.

  test_3000_simultaneous_clients    FLOOD_CLIENTS connections open at the same time (this test
                                    raises its own RLIMIT_NOFILE first): every one sends SET, then
                                    GET of its own key (RESP2 and RESP3 connections mixed) and gets
                                    its own value while all are connected; connected_clients counts
                                    them all; a well-behaved load sees no error; once they close,
                                    descriptors and clients return to the baseline.
  test_memory_returned_when_clients_leave  1000 clients connect and PING, then close: within a
                                    bounded wait the proxy's RSS falls back to within a quarter of
                                    what they added (all of it was kept before ProcessMemory:
                                    libevent's per-descriptor records pinned the freed pages, and
                                    nothing returned them).
  test_open_file_limit_raised       a proxy started with a soft limit below its hard limit raises
                                    the soft limit to the hard one (/proc/PID/limits) and says so.
  test_low_hard_limit_lowers_maxclients  a proxy whose hard limit is 300 cannot cover maxclients:
                                    it logs a warning, INFO maxclients is 300 minus the reserve
                                    (FileDescriptorBudget: 32 + 64 per worker), the clients up to
                                    it are served and the next gets "-ERR max number of clients
                                    reached".
  test_accept_out_of_descriptors_does_not_spin  the proxy's soft limit lowered under it
                                    (prlimit) so accept() fails with EMFILE: it logs the pause,
                                    stays alive, does not spin (its CPU time over 3 s stays far
                                    below the 3 s a busy loop burns: a bound on work, not on
                                    latency), keeps serving the connected client, and once the
                                    limit is raised again accepts and answers every waiting client.
"""

from __future__ import annotations

import resource
import socket
import time

import pytest

import sanitizers
from procstats import Footprint, cpu_seconds, fd_count, info_clients, rss_bytes, wait_back_to
from support import (
    ClientLoad,
    ProxyProcess,
    RawConnection,
    encode_command,
    key_in_slot,
    wait_for,
)

FLOOD_CLIENTS = 3200


@pytest.fixture
def many_files():
    """Raises this process's soft RLIMIT_NOFILE to its hard limit for the test, then restores it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = FLOOD_CLIENTS + 500
    if hard != resource.RLIM_INFINITY and hard < wanted:
        pytest.skip(f"the hard open-file limit ({hard}) is below the {wanted} this test needs")
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard if hard != resource.RLIM_INFINITY else wanted, hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def read_line_reply(sock: socket.socket, buf: bytearray) -> bytes:
    """One `+`/`-`/`:`/`$` reply (the flood uses only those) from sock, with bytes left in buf."""
    while True:
        end = buf.find(b"\r\n")
        if end >= 0:
            if buf[:1] == b"$" and int(buf[1:end]) >= 0:
                total = end + 2 + int(buf[1:end]) + 2
                if len(buf) >= total:
                    reply = bytes(buf[:total])
                    del buf[:total]
                    return reply
            else:
                reply = bytes(buf[:end + 2])
                del buf[:end + 2]
                return reply
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError("the proxy closed a flood connection")
        buf += chunk


def test_3000_simultaneous_clients(many_files, start_proxy, run_id):
    p = start_proxy(threads=2)
    # Warm-up: node connections are per worker, per protocol, opened on first use; enough
    # connections that both workers (SO_REUSEPORT spreads them) open all of theirs.
    for protocol in ("2", "3") * 12:
        with RawConnection(p.port) as c:
            c.command("HELLO", protocol)
            for slot in range(0, 16384, 1000):
                c.command("GET", key_in_slot(slot, f":flood-warm:{run_id}"))
    load = ClientLoad(p.port, f"flood:{run_id}", protocols=(None, 2), pause=0.005, max_seconds=170).start()
    wait_for(lambda: info_clients(p.port)["connected_clients"] >= 3, 20, "the load's clients connect")
    base = Footprint.baseline(p.pid, p.port)
    print(f"\n  baseline: {base}")
    conns: list[RawConnection] = []
    try:
        for _ in range(FLOOD_CLIENTS):
            conns.append(RawConnection(p.port, timeout=60))
        keys = [key_in_slot((i * 7) % 16384, f":flood:{run_id}:{i}") for i in range(FLOOD_CLIENTS)]
        # Every third connection speaks RESP3 (HELLO 3 first).
        for i, c in enumerate(conns):
            c.send((encode_command("HELLO", "3") if i % 3 == 0 else b"") + encode_command("SET", keys[i], f"value-{i}"))
        for i, c in enumerate(conns):
            if i % 3 == 0:
                hello = c.read_reply()
                assert hello.get(b"proto") == 3, (i, hello)
            reply = c.read_reply()
            assert reply == b"OK", (i, reply)
        connected = info_clients(p.port)["connected_clients"]
        assert connected >= FLOOD_CLIENTS + 3, f"connected_clients {connected} with {FLOOD_CLIENTS} open"
        for i, c in enumerate(conns):
            c.send(encode_command("GET", keys[i]))
        for i, c in enumerate(conns):
            reply = c.read_reply()
            assert reply == f"value-{i}".encode(), (i, reply)
        print(f"  {len(conns)} clients connected at once, each answered; proxy: {Footprint.of(p.pid, p.port)}")
    finally:
        for c in conns:
            c.close()
    try:
        after = wait_back_to(p.pid, p.port, base, rss_slack=64 * 1024 * 1024 if not sanitizers.active() else 1 << 40,
                             sockets_only=bool(sanitizers.active()))
        print(f"  after: {after}")
    finally:
        load.stop()
    print(load.summary())
    assert load.error_count == 0 and not load.mismatches, load.summary()


MEMORY_CLIENTS = 1000


def connection_round(port: int) -> list[socket.socket]:
    """MEMORY_CLIENTS connections, each answered one PING; the caller closes them."""
    conns = []
    for i in range(MEMORY_CLIENTS):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        conns.append(s)
        s.sendall(b"PING\r\n")
        reply = b""
        while not reply.endswith(b"\r\n"):
            chunk = s.recv(64)
            assert chunk, f"connection {i} closed before PONG"
            reply += chunk
        assert reply == b"+PONG\r\n", (i, reply)
    return conns


def test_memory_returned_when_clients_leave(many_files, start_proxy):
    if sanitizers.active():
        pytest.skip("a sanitizer's allocator keeps freed memory on purpose (quarantine)")
    p = start_proxy(threads=2)
    before = rss_bytes(p.pid)
    conns = connection_round(p.port)
    time.sleep(0.5)
    loaded = rss_bytes(p.pid)
    for s in conns:
        s.close()
    added = loaded - before
    print(f"\n  RSS before {before / 1048576:.2f} MiB, with {MEMORY_CLIENTS} clients {loaded / 1048576:.2f} MiB "
          f"({added / MEMORY_CLIENTS:,.0f} bytes each)")
    # The clients must have cost something, or the check below would prove nothing.
    assert added >= 256 * 1024, f"{MEMORY_CLIENTS} clients added only {added} bytes of RSS"
    samples = []
    deadline = time.monotonic() + 20

    def returned() -> bool:
        samples.append(rss_bytes(p.pid))
        return samples[-1] <= before + added // 4

    while not returned() and time.monotonic() < deadline:
        time.sleep(0.5)
    print(f"  after they closed: {samples[-1] / 1048576:.2f} MiB")
    assert samples[-1] <= before + added // 4, (
        f"RSS stayed up after the clients left: before {before}, with them {loaded}, since {samples}")


def proxy_with_limit(cluster, run_dir, soft: int, hard: int, extra: list[str] | None = None) -> ProxyProcess:
    """A proxy started under `prlimit --nofile=soft:hard` (prlimit execs it: same PID)."""
    p = ProxyProcess(cluster.seeds, run_dir=run_dir, threads=2, extra_args=extra)
    p.args = ["prlimit", f"--nofile={soft}:{hard}", "--", *p.args]
    return p


@pytest.fixture
def limited_proxy(cluster, run_dir):
    started: list[ProxyProcess] = []

    def start(soft: int, hard: int, extra: list[str] | None = None) -> ProxyProcess:
        p = proxy_with_limit(cluster, run_dir, soft, hard, extra)
        started.append(p)
        return p.start()

    yield start
    for p in started:
        p.stop()


def open_file_limits(pid: int) -> tuple[int, int]:
    with open(f"/proc/{pid}/limits") as f:
        for line in f:
            if line.startswith("Max open files"):
                fields = line.split()
                return int(fields[3]), int(fields[4])
    raise AssertionError("no open-file limit in /proc/PID/limits")


def test_open_file_limit_raised(limited_proxy):
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard < 2048:
        pytest.skip(f"hard open-file limit {hard}: nothing to raise to")
    p = limited_proxy(1024, hard)
    assert open_file_limits(p.pid) == (hard, hard)
    log = p.log_path.read_text()
    assert "raised the open-file limit" in log and f"to={hard}" in log, p.log_tail()


def test_low_hard_limit_lowers_maxclients(limited_proxy):
    p = limited_proxy(300, 300)
    expected = 300 - (32 + 64 * 2)
    log = p.log_path.read_text()
    assert "maxclients lowered" in log and f"maxclients={expected}" in log, p.log_tail()
    assert info_clients(p.port)["maxclients"] == expected
    wait_for(lambda: info_clients(p.port)["connected_clients"] == 1, 20, "only the asking client connected")
    socks = []
    try:
        for _ in range(expected):
            s = socket.create_connection(("127.0.0.1", p.port), timeout=20)
            s.sendall(b"*1\r\n$4\r\nPING\r\n")
            socks.append(s)
        for s in socks:
            assert read_line_reply(s, bytearray()) == b"+PONG\r\n"
        with socket.create_connection(("127.0.0.1", p.port), timeout=20) as extra:
            data = b""
            while True:
                chunk = extra.recv(1024)
                if not chunk:
                    break
                data += chunk
            assert data == b"-ERR max number of clients reached\r\n"
    finally:
        for s in socks:
            s.close()
    wait_for(lambda: info_clients(p.port)["connected_clients"] == 1, 20, "the clients leave")


def test_accept_out_of_descriptors_does_not_spin(start_proxy, run_id):
    p = start_proxy(threads=2)
    soft, hard = open_file_limits(p.pid)
    keeper = RawConnection(p.port)
    waiting: list[socket.socket] = []
    try:
        key = key_in_slot(321, f":emfile:{run_id}")
        reply = keeper.command("SET", key, "1")
        assert reply == b"OK", reply
        # No descriptor left for a client: every accept() fails with EMFILE.
        resource.prlimit(p.pid, resource.RLIMIT_NOFILE, (fd_count(p.pid), hard))
        for _ in range(20):
            s = socket.create_connection(("127.0.0.1", p.port), timeout=30)  # completes in the backlog
            s.sendall(b"*1\r\n$4\r\nPING\r\n")
            waiting.append(s)
        before = cpu_seconds(p.pid)
        time.sleep(3)
        spent = cpu_seconds(p.pid) - before
        print(f"\n  CPU seconds over 3 s with accept() failing: {spent:.2f}")
        assert spent < 1.0, f"the proxy burned {spent:.2f} CPU seconds in 3 s while out of descriptors"
        wait_for(lambda: "cannot accept client connections" in p.log_path.read_text(), 20, "the pause is logged")
        assert p.process.poll() is None
        assert keeper.command("INCR", key) == 2, "the connected client is no longer served"
        resource.prlimit(p.pid, resource.RLIMIT_NOFILE, (soft, hard))
        for s in waiting:
            assert read_line_reply(s, bytearray()) == b"+PONG\r\n"
    finally:
        keeper.close()
        for s in waiting:
            s.close()
    log = p.log_path.read_text()
    assert log.count("cannot accept client connections") <= 2, "the warning is not rate-limited"
