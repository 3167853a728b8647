"""Clients over the `unixsocket` listener, the way an application beside the proxy connects.

  serves          redis-cli -s, redis-py over a Unix socket (RESP2 and HELLO 3), raw RESP: single
                  keys, a multi-slot MSET/MGET, values found in the cluster afterwards; CLIENT LIST
                  shows addr=<path>:0 as Redis does; CLUSTER SLOTS names the proxy's TCP address;
                  the file has unixsocketperm's mode; the process answering is this test's proxy
                  (INFO server process_id).
  alongside TCP   TCP and Unix clients of one proxy (two workers) see each other's writes and
                  appear in one CLIENT LIST; 40 Unix clients at once over two workers are served.
  bad input       a protocol error on the Unix socket closes that client with -ERR Protocol error;
                  the next Unix client and a TCP client are unaffected.
  the file        a socket file left by a proxy that is gone is replaced; a path another process
                  listens on, a regular file, or a path over 107 bytes stop the start with an error
                  naming it (and the other process's socket and the regular file are left as they
                  were); SIGTERM removes the file and the proxy exits 0.
"""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
import tempfile
import threading
from pathlib import Path

import pytest
import redis

from support import ProxyProcess, RawConnection, free_port, key_in_slot, proxy_binary


@pytest.fixture
def socket_dir():
    # A short directory: sun_path holds 107 bytes, and a CI checkout's run directory can be deep.
    d = Path(tempfile.mkdtemp(prefix="sp-us-", dir="/tmp"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


def start_with_socket(start_proxy, path: Path, *extra: str, threads: int = 2):
    return start_proxy(["--unixsocket", str(path), *extra], threads=threads)


def test_clients_over_the_unix_socket(start_proxy, socket_dir, cluster, run_id):
    path = socket_dir / "proxy.sock"
    p = start_with_socket(start_proxy, path, "--unixsocketperm", "770")
    mode = os.stat(path).st_mode
    assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o770

    with RawConnection(unix_path=str(path)) as conn:
        info = conn.command("INFO", "server").decode()
        assert f"process_id:{p.pid}\r\n" in info
        assert conn.command("PING") == b"PONG"
        clients = conn.command("CLIENT", "LIST").decode()
        assert f"addr={path}:0 laddr={path}:0 " in clients
        # A cluster-aware client is pointed at the proxy's TCP address (a socket has no host).
        [slots] = conn.command("CLUSTER", "SLOTS")
        assert slots[:2] == [0, 16383] and slots[2][:2] == [b"127.0.0.1", p.port], slots

    key = f"{run_id}:us:cli"
    out = subprocess.run(["redis-cli", "-s", str(path), "SET", key, "from-cli"],
                         capture_output=True, text=True, timeout=10)
    assert out.stdout.strip() == "OK", out
    out = subprocess.run(["redis-cli", "-s", str(path), "GET", key], capture_output=True, text=True, timeout=10)
    assert out.stdout.strip() == "from-cli"

    keys = [key_in_slot(slot, f":{run_id}:us") for slot in (0, 5000, 9000, 16383)]
    for protocol in (2, 3):
        r = redis.Redis(unix_socket_path=str(path), protocol=protocol, socket_timeout=10)
        try:
            values = {k: f"v{protocol}-{i}" for i, k in enumerate(keys)}
            assert r.mset(values) is True
            assert r.mget(keys) == [v.encode() for v in values.values()]
            assert r.incr(f"{run_id}:us:n{protocol}") == 1
        finally:
            r.close()
    # The values are in the cluster itself, not only in something the proxy kept.
    for i, k in enumerate(keys):
        assert cluster.get_direct(k) == f"v3-{i}".encode()


def test_unix_and_tcp_clients_together(start_proxy, socket_dir, run_id):
    path = socket_dir / "proxy.sock"
    p = start_with_socket(start_proxy, path, threads=2)
    tcp = redis.Redis(port=p.port, socket_timeout=10)
    local = redis.Redis(unix_socket_path=str(path), socket_timeout=10)
    try:
        tcp.set(f"{run_id}:both", "tcp")
        assert local.get(f"{run_id}:both") == b"tcp"
        local.set(f"{run_id}:both", "unix")
        assert tcp.get(f"{run_id}:both") == b"unix"
        tcp.client_setname("over-tcp")
        local.client_setname("over-unix")
        names = {c["name"]: c["addr"] for c in tcp.client_list()}
        assert names["over-unix"] == f"{path}:0"
        assert names["over-tcp"].startswith("127.0.0.1:")
    finally:
        tcp.close()
        local.close()

    errors: list[str] = []

    def client(i: int) -> None:
        try:
            r = redis.Redis(unix_socket_path=str(path), socket_timeout=10)
            for j in range(50):
                k = f"{run_id}:us:many:{i}:{j}"
                r.set(k, j)
                if r.get(k) != str(j).encode():
                    errors.append(f"client {i}: {k} read back wrong")
            r.close()
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(f"client {i}: {e!r}")

    threads = [threading.Thread(target=client, args=(i,)) for i in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors[:5]


def test_protocol_error_on_the_unix_socket(start_proxy, socket_dir, run_id):
    path = socket_dir / "proxy.sock"
    p = start_with_socket(start_proxy, path)
    with RawConnection(unix_path=str(path)) as bad:
        bad.send(b"*1\r\n$-5\r\n")
        reply = bad.read_reply()
        assert reply.startswith(b"ERR Protocol error"), reply
    with RawConnection(unix_path=str(path)) as good, RawConnection(p.port) as tcp:
        assert good.command("SET", f"{run_id}:after-bad", "1") == b"OK"
        assert tcp.command("GET", f"{run_id}:after-bad") == b"1"


def test_stale_socket_file_is_replaced(start_proxy, socket_dir):
    path = socket_dir / "proxy.sock"
    gone = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    gone.bind(str(path))
    gone.close()   # the file stays; nobody listens on it
    assert stat.S_ISSOCK(os.stat(path).st_mode)
    start_with_socket(start_proxy, path)
    with RawConnection(unix_path=str(path)) as conn:
        assert conn.command("PING") == b"PONG"


def refused_start(cluster, socket_arg: str) -> str:
    """Runs the proxy expecting it to refuse to start; returns what it said."""
    argv = [str(proxy_binary()), "--port", str(free_port()), "--bind", "127.0.0.1", "--seeds", cluster.seeds,
            "--unixsocket", socket_arg]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    assert out.returncode != 0, out
    return out.stdout + out.stderr


def test_path_in_use_is_refused(cluster, socket_dir):
    path = socket_dir / "proxy.sock"
    other = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    other.bind(str(path))
    other.listen(1)
    try:
        said = refused_start(cluster, str(path))
        assert f"unixsocket {path} is in use" in said, said
        # The other process's socket still works.
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        c.connect(str(path))
        c.close()
    finally:
        other.close()


def test_other_files_and_long_paths_are_refused(cluster, socket_dir):
    path = socket_dir / "not-a-socket"
    path.write_text("keep me\n")
    said = refused_start(cluster, str(path))
    assert f"unixsocket {path} exists and is not a socket" in said, said
    assert path.read_text() == "keep me\n"

    long_path = str(socket_dir / ("x" * 120))
    said = refused_start(cluster, long_path)
    assert "unixsocket path is too long" in said and "at most 107" in said, said
    assert not os.path.exists(long_path)


def test_sigterm_removes_the_socket_file(cluster, run_dir, socket_dir):
    path = socket_dir / "proxy.sock"
    p = ProxyProcess(cluster.seeds, extra_args=["--unixsocket", str(path)], run_dir=run_dir)
    try:
        p.start()
        with RawConnection(unix_path=str(path)) as conn:
            assert conn.command("PING") == b"PONG"
    finally:
        status = p.stop()
    assert status == 0, p.log_tail()
    assert not path.exists()
