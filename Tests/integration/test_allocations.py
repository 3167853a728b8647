"""Allocation regression check for the request path (no timing involved).

The proxy runs with Tests/alloc-counter/count.c preloaded (LD_PRELOAD), which counts every
malloc-family call; INFO's `allocations` field then reports the count. A pipelined load of
single-slot GETs and SETs from a few connections must cost (almost) no allocation per request:
the budget per request below is the checked-in expectation. A regression that allocates per
request (a String, an Array, a boxed closure on the hot path) multiplies the count by the
number of requests and fails this test.

  test_single_slot_requests_do_not_allocate   GET/SET pipelined: < 0.1 allocations per request
  test_cross_slot_allocations                 MSET, MGET, DEL over 3 slots: < 0.1 per request too
  test_slow_log_allocations                   every request slow (slowlog-log-slower-than 0), a
                                              full ring: logging allocates nothing per request
                                              (single-slot SET/GET, 3-slot MSET, local PING)
"""
from __future__ import annotations

import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from support import REPO, encode_command, key_in_slot

# Checked-in expectations (allocations per request), measured on 2026-11-25: single-slot 0.056,
# cross-slot 0.0 (it was 30 per MSET before the worker's SplitPlanner and merge pool). The
# single-slot figure is buffer growth per pipelined batch (a client's output buffer grows to
# hold 200 replies and is freed once flushed), not per request: any allocation per request
# would make it >= 1.
SINGLE_SLOT_BUDGET = 0.1
CROSS_SLOT_BUDGET = 0.1

# No topology refresh during the measurement (the topology thread allocates when it reads the
# cluster), and no slow log: on a loaded machine some requests take over its 10 ms threshold,
# and each entry allocates until the ring is full, which would make the count depend on timing
# (test_slow_log_allocations fills the ring first).
QUIET_ARGS = ["--topology-refresh-ms", "600000", "--slowlog-log-slower-than", "-1"]


@pytest.fixture(scope="module")
def counter_library(tmp_path_factory) -> Path:
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if cc is None:
        pytest.skip("no C compiler to build the allocation counter")
    out = tmp_path_factory.mktemp("alloc") / "libslotproxy-alloc-count.so"
    subprocess.run([cc, "-shared", "-fPIC", "-O2", "-o", str(out), str(REPO / "Tests/alloc-counter/count.c"), "-ldl"],
                   check=True, timeout=60)
    return out


def allocations(port: int) -> int:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(encode_command("INFO", "stats"))
        data = b""
        while b"allocations:" not in data or not data.endswith(b"\r\n"):
            chunk = s.recv(65536)
            assert chunk, "INFO reply cut short"
            data += chunk
    for line in data.decode().splitlines():
        if line.startswith("allocations:"):
            return int(line.split(":", 1)[1])
    raise AssertionError("INFO stats has no allocations field: is the counter preloaded?")


def measured(port: int, requests: list[bytes], repeat: int) -> float:
    """Allocations per request for `requests` sent `repeat` times over the same connections,
    after a warm-up round, minus what the INFO calls that read the counter cost themselves.
    The counter is process-wide, and one-time work can land inside one measurement (seen: about
    2,300 allocations, once per proxy in some runs, never again in the next measurement). So it
    is measured three times and the least is kept: a regression on the request path allocates
    in every one of them."""
    socks = [socket.create_connection(("127.0.0.1", port), timeout=20) for _ in range(4)]
    try:
        pipelined_load(socks, requests)  # warm-up: buffers and queues reach their size
        results = []
        for _ in range(3):
            first = allocations(port)
            second = allocations(port)
            info_cost = second - first
            for _ in range(repeat):
                pipelined_load(socks, requests)
            total = allocations(port) - second - info_cost
            print(f"\n  {total} allocations for {len(requests) * repeat} requests (INFO itself: {info_cost})")
            results.append(total / (len(requests) * repeat))
        return min(results)
    finally:
        for s in socks:
            s.close()


def pipelined_load(socks: list[socket.socket], requests: list[bytes], batch: int = 200) -> None:
    """Sends `requests` over the sockets in pipelined batches and reads every reply."""
    connections = len(socks)
    for start in range(0, len(requests), batch * connections):
        for i, s in enumerate(socks):
            chunk = requests[start + i * batch: start + (i + 1) * batch]
            if chunk:
                s.sendall(b"".join(chunk))
                expect = len(chunk)
                seen = 0
                buf = b""
                while seen < expect:
                    data = s.recv(1 << 16)
                    assert data, "proxy closed the connection"
                    buf += data
                    seen = count_replies(buf)


def count_replies(buf: bytes) -> int:
    """Counts complete simple replies (+, -, :, $) in `buf` (the load uses only those)."""
    n, i = 0, 0
    while i < len(buf):
        end = buf.find(b"\r\n", i)
        if end < 0:
            break
        if buf[i:i + 1] == b"$":
            length = int(buf[i + 1:end])
            if length >= 0:
                if len(buf) < end + 2 + length + 2:
                    break
                end = end + 2 + length
        n += 1
        i = end + 2
    return n


def test_single_slot_requests_do_not_allocate(start_proxy, counter_library, run_id):
    p = start_proxy(env={"LD_PRELOAD": str(counter_library)}, threads=1,
                    extra_args=QUIET_ARGS)
    keys = [key_in_slot(slot, f"alloc:{run_id}") for slot in range(0, 16384, 7)]
    requests = [encode_command("SET", k, "v" * 64) for k in keys] + [encode_command("GET", k) for k in keys]
    per_request = measured(p.port, requests, repeat=4)
    print(f"  allocations per single-slot request: {per_request:.4f}")
    assert per_request < SINGLE_SLOT_BUDGET


@pytest.mark.parametrize("command", ["MSET", "MGET", "DEL"])
def test_cross_slot_allocations(start_proxy, counter_library, run_id, command):
    p = start_proxy(env={"LD_PRELOAD": str(counter_library)}, threads=1,
                    extra_args=QUIET_ARGS)
    def args(i: int) -> list[str]:
        keys = [key_in_slot(j * 5000 + i, f"m:{run_id}") for j in range(3)]
        return [x for k in keys for x in (k, "v")] if command == "MSET" else keys
    requests = [encode_command(command, *args(i)) for i in range(2000)]
    per_request = measured(p.port, requests, repeat=2)
    print(f"  allocations per 3-slot {command}: {per_request:.3f}")
    assert per_request < CROSS_SLOT_BUDGET


@pytest.mark.parametrize("kind", ["single-slot", "MSET", "local"])
def test_slow_log_allocations(start_proxy, counter_library, run_id, kind):
    """Under overload every request can be slow. With a threshold of 0 every one is logged:
    once the ring is full, each entry reuses the arguments buffer of the one it drops, so the
    budget is the same as without the slow log (it was 8.6 per single-slot request, 11 per
    3-slot MSET and 2 per PING, each entry copying its arguments one by one)."""
    p = start_proxy(env={"LD_PRELOAD": str(counter_library)}, threads=1,
                    extra_args=["--topology-refresh-ms", "600000", "--slowlog-log-slower-than", "0",
                                "--slowlog-max-len", "64"])
    if kind == "single-slot":
        keys = [key_in_slot(slot, f"slow:{run_id}") for slot in range(0, 16384, 7)]
        requests = [encode_command("SET", k, "v" * 200) for k in keys] + [encode_command("GET", k) for k in keys]
    elif kind == "MSET":
        requests = [encode_command("MSET", *[x for j in range(3)
                                             for x in (key_in_slot(j * 5000 + i, f"slow:{run_id}"), "v")])
                    for i in range(2000)]
    else:
        requests = [encode_command("PING") for _ in range(4000)]
    per_request = measured(p.port, requests, repeat=2)
    print(f"  allocations per slow-logged {kind} request: {per_request:.4f}")
    assert per_request < SINGLE_SLOT_BUDGET
    with socket.create_connection(("127.0.0.1", p.port), timeout=10) as s:
        s.sendall(encode_command("SLOWLOG", "LEN"))
        assert s.recv(100) == b":64\r\n"
