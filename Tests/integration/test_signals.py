"""Signals: a graceful shutdown on SIGTERM/SIGINT, and SIGHUP for logrotate and loglevel.

Each test starts proxies of its own (`lone_proxy`, on the session's cluster) because it signals
them itself; they are stopped by PID afterwards whatever happened. Nothing here asserts timing:
every wait is bounded, and a proxy that does not stop fails the test, never hangs it.

  test_sigterm_answers_requests_already_received   a client blocked in BLPOP with 200 GETs
        pipelined behind it, and a client that wrote 20,000 pipelined SETs/GETs and reads nothing
        yet; SIGTERM; new connections are refused; the proxy still waits for the BLPOP, which a
        push made directly on the node wakes; then every reply of both clients arrives, in order
        and correct, each connection is closed by the proxy, and the proxy exits 0.
  test_sigint_with_idle_clients_exits_at_once      idle connections (one of them subscribed)
        are closed at once on SIGINT and the proxy exits 0, however long shutdown-timeout is.
  test_shutdown_timeout_closes_clients_still_owed  a BLPOP nothing wakes: with
        --shutdown-timeout 1 the proxy closes that client and exits 0 anyway.
  test_second_sigterm_stops_at_once                the same BLPOP with shutdown-timeout 60: a
        second SIGTERM ends the wait and the proxy exits 0.
  test_sighup_reopens_log_file                     the log file moved away (as logrotate does),
        SIGHUP: a new file appears at the path with the SIGHUP line, the old file keeps what was
        written before, and the proxy still serves.
  test_sighup_reloads_loglevel                     a proxy started with a config file at
        loglevel warning: SIGHUP writes nothing (notice lines are below the level); the file
        changed to loglevel notice (and timeout changed), SIGHUP again: the line says loglevel
        notice and names timeout as a change that needs a restart.
"""

from __future__ import annotations

import signal
import socket
import time
from pathlib import Path

import pytest

from support import (
    ConnectionClosed,
    ProxyProcess,
    RawConnection,
    encode_command,
    info_field,
    key_in_slot,
    wait_for,
)

STOP_TIMEOUT = 30.0  # seconds a signalled proxy may take to exit before the test fails


@pytest.fixture
def lone_proxy(cluster, run_dir):
    """lone_proxy(extra_args=None, config_file=None) -> a ready ProxyProcess the test may signal
    and stop itself; stopped by PID after the test if it still runs."""
    started: list[ProxyProcess] = []

    def start(extra_args: list[str] | None = None, config_file: Path | None = None) -> ProxyProcess:
        p = ProxyProcess(cluster.seeds, extra_args=extra_args, run_dir=run_dir)
        if config_file is not None:
            # The file goes first (redis-server's order); its loglevel must not be overridden.
            i = p.args.index("--loglevel")
            del p.args[i:i + 2]
            p.args.insert(1, str(config_file))
        started.append(p)
        return p.start()

    yield start
    for p in started:
        p.stop()


def wait_exit(proxy: ProxyProcess) -> int:
    """The proxy's exit status, once it has exited (bounded)."""
    try:
        return proxy.process.wait(STOP_TIMEOUT)
    except Exception:
        pytest.fail(f"the proxy did not exit within {STOP_TIMEOUT}s of the signal\n{proxy.log_tail()}")


def refuses_connections(port: int) -> bool:
    """True when a connection to the port is refused (no listener left)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return False
    except ConnectionRefusedError:
        return True


def blocked_clients(proxy: ProxyProcess) -> int:
    with RawConnection(proxy.port, timeout=5) as conn:
        return int(info_field(conn.command("INFO", "clients"), "blocked_clients") or 0)


def read_replies(conn: RawConnection, n: int) -> list:
    return [conn.read_reply() for _ in range(n)]


def test_sigterm_answers_requests_already_received(cluster, lone_proxy, run_id):
    proxy = lone_proxy(["--shutdown-timeout", "60"])
    list_key = key_in_slot(4242, f":{run_id}:signals:list")
    keys = [key_in_slot((i * 97) % 16384, f":{run_id}:signals:{i}") for i in range(500)]

    # Client 1: BLPOP (a request the proxy has received and forwarded, not yet answered), with
    # GETs pipelined behind it (received too; they wait for the BLPOP, as on a node).
    own_key = key_in_slot(999, f":{run_id}:signals:own")
    blocked = RawConnection(proxy.port)
    blocked.send(encode_command("SET", own_key, "before") + encode_command("BLPOP", list_key, "0")
                 + b"".join(encode_command("GET", own_key) for _ in range(200)))
    assert blocked.read_reply() == b"OK"
    wait_for(lambda: blocked_clients(proxy) == 1, 10, "the proxy forwarded the BLPOP")

    # Client 2: 20,000 pipelined requests, written before the signal; their replies are read
    # only after it, so most sit in the proxy's output buffer or its socket when SIGTERM comes.
    pipelined = RawConnection(proxy.port)
    requests = []
    for i in range(10_000):
        key = keys[i % len(keys)]
        requests.append(encode_command("SET", key, f"v{i}"))
        requests.append(encode_command("GET", key))
    pipelined.send(b"".join(requests))

    proxy.process.send_signal(signal.SIGTERM)
    wait_for(lambda: refuses_connections(proxy.port), 10, "new connections refused after SIGTERM")
    time.sleep(0.5)
    assert proxy.process.poll() is None, "the proxy exited while a BLPOP was still owed its reply"

    cluster.node(cluster.owner_of_key(list_key)).rpush(list_key, "woken")
    assert blocked.read_reply() == [list_key.encode(), b"woken"]
    assert read_replies(blocked, 200) == [b"before"] * 200
    assert blocked.is_closed_by_peer(10), "the proxy kept the drained client's connection open"

    replies = read_replies(pipelined, 20_000)
    expected = []
    for i in range(10_000):
        expected += [b"OK", f"v{i}".encode()]
    assert replies == expected
    assert pipelined.is_closed_by_peer(10)

    assert wait_exit(proxy) == 0
    log = proxy.log_path.read_text()
    assert "SIGTERM received: shutting down" in log
    assert "slotproxy stopped" in log
    blocked.close()
    pipelined.close()


def test_sigint_with_idle_clients_exits_at_once(lone_proxy):
    proxy = lone_proxy(["--shutdown-timeout", "600"])
    idle = [RawConnection(proxy.port) for _ in range(5)]
    for conn in idle:
        assert conn.command("PING") == b"PONG"
    subscriber = RawConnection(proxy.port)
    assert subscriber.command("SUBSCRIBE", "ops-signals")[0] == b"subscribe"

    proxy.process.send_signal(signal.SIGINT)
    assert wait_exit(proxy) == 0
    for conn in [*idle, subscriber]:
        assert conn.is_closed_by_peer(5)
        conn.close()
    assert "SIGINT received: shutting down" in proxy.log_path.read_text()


def _blocked_forever(proxy: ProxyProcess, run_id: str) -> RawConnection:
    conn = RawConnection(proxy.port)
    conn.send(encode_command("BLPOP", key_in_slot(77, f":{run_id}:never"), "0"))
    wait_for(lambda: blocked_clients(proxy) == 1, 10, "the proxy forwarded the BLPOP")
    return conn


def test_shutdown_timeout_closes_clients_still_owed(lone_proxy, run_id):
    proxy = lone_proxy(["--shutdown-timeout", "1"])
    conn = _blocked_forever(proxy, run_id)
    proxy.process.send_signal(signal.SIGTERM)
    assert wait_exit(proxy) == 0
    with pytest.raises((ConnectionClosed, ConnectionResetError)):
        conn.read_reply()
    conn.close()
    assert "shutdown-timeout reached" in proxy.log_path.read_text()


def test_second_sigterm_stops_at_once(lone_proxy, run_id):
    proxy = lone_proxy(["--shutdown-timeout", "60"])
    conn = _blocked_forever(proxy, run_id)
    proxy.process.send_signal(signal.SIGTERM)
    wait_for(lambda: refuses_connections(proxy.port), 10, "new connections refused after SIGTERM")
    proxy.process.send_signal(signal.SIGTERM)
    assert wait_exit(proxy) == 0
    with pytest.raises((ConnectionClosed, ConnectionResetError)):
        conn.read_reply()
    conn.close()
    assert "SIGTERM received again: stopping now" in proxy.log_path.read_text()


def test_sighup_reopens_log_file(lone_proxy, run_dir, run_id):
    log = run_dir / f"signals-{run_id}-reopen.log"
    proxy = lone_proxy(["--logfile", str(log)])
    assert "ready" in log.read_text()
    rotated = log.with_suffix(".log.1")
    log.rename(rotated)

    proxy.process.send_signal(signal.SIGHUP)
    wait_for(lambda: log.exists() and "SIGHUP received" in log.read_text(), 10,
             "a new log file written after SIGHUP")
    assert "SIGHUP" not in rotated.read_text()
    assert "ready" in rotated.read_text()
    with RawConnection(proxy.port, timeout=5) as conn:
        assert conn.command("PING") == b"PONG"
    assert proxy.process.poll() is None

    proxy.process.send_signal(signal.SIGTERM)
    assert wait_exit(proxy) == 0
    assert "slotproxy stopped" in log.read_text()


def test_sighup_reloads_loglevel(cluster, lone_proxy, run_dir, run_id):
    log = run_dir / f"signals-{run_id}-level.log"
    conf = run_dir / f"signals-{run_id}.conf"
    conf.write_text(f"loglevel warning\nlogfile {log}\n")
    proxy = lone_proxy(config_file=conf)

    proxy.process.send_signal(signal.SIGHUP)
    time.sleep(1)  # nothing is expected: a SIGHUP line is a notice, below warning
    assert proxy.process.poll() is None
    assert "SIGHUP" not in log.read_text()

    conf.write_text(f"loglevel notice\nlogfile {log}\ntimeout 300\n")
    proxy.process.send_signal(signal.SIGHUP)
    line = wait_for(lambda: next((l for l in log.read_text().splitlines() if "SIGHUP" in l), None), 10,
                    "the SIGHUP line at the reloaded level")
    assert "loglevel=notice" in line
    assert "changed_but_need_restart=timeout" in line
