"""The proxy's observability: the admin HTTP endpoint, INFO and SLOWLOG.

  test_metrics_endpoint          /healthz 200 "ok", /readyz 200 once every primary is connected, 404
                                 elsewhere; /metrics parses as Prometheus text (a strict parser
                                 below) and its counters move by exactly what known commands did.
  test_readyz_before_slot_map    a proxy whose seeds are all down: /readyz 503 "slot map incomplete".
  test_readyz_primary_down       (failover) kill -9 a primary of a cluster of its own: /readyz says
                                 503 naming a primary, then 200 again after the replica's promotion.
  test_info_sections             INFO default / all / several sections, Redis's names; commandstats
                                 and errorstats count exactly the commands sent; the cluster section
                                 shows every shard.
  test_redis_cli_stat            `redis-cli --stat -i 0.2` prints data lines against the proxy.
  test_slowlog                   slowlog-log-slower-than 0: GET/LEN/RESET, Redis's entry shape and
                                 argument truncation (32 arguments, 128 bytes).
  test_slowlog_off               slowlog-log-slower-than -1 records nothing.
"""

from __future__ import annotations

import re
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from support import ErrorReply, RawConnection, closed_port, free_port, key_in_slot, wait_for

# MARK: - A strict reader of the Prometheus text format 0.0.4

_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_SAMPLE = re.compile(rf"^({_NAME})(?:\{{(.*)\}})? (\S+)$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)')


def parse_prometheus(text: str) -> dict:
    """{family: {"type", "help", "samples": [(name, labels, value)]}}; AssertionError on anything
    the format does not allow (a sample before its TYPE, a bad line, non-cumulative buckets)."""
    assert text.endswith("\n"), "the exposition ends with a newline"
    families: dict = {}
    current = None
    for line in text.split("\n")[:-1]:
        if line.startswith("# HELP "):
            name, _, help_text = line[7:].partition(" ")
            assert re.fullmatch(_NAME, name), line
            families.setdefault(name, {"samples": []})["help"] = help_text
        elif line.startswith("# TYPE "):
            name, _, kind = line[7:].partition(" ")
            assert kind in ("counter", "gauge", "histogram", "summary", "untyped"), line
            assert "type" not in families.get(name, {}), f"second TYPE for {name}"
            families.setdefault(name, {"samples": []})["type"] = kind
            current = name
        else:
            m = _SAMPLE.match(line)
            assert m, f"not a sample line: {line!r}"
            name, raw_labels, raw_value = m.groups()
            labels = {}
            if raw_labels:
                pos = 0
                while pos < len(raw_labels):
                    lm = _LABEL.match(raw_labels, pos)
                    assert lm, f"bad labels in {line!r}"
                    labels[lm.group(1)] = lm.group(2)
                    pos = lm.end()
            value = float(raw_value)  # accepts +Inf, NaN
            assert current and (name == current or name.startswith(current + "_")), \
                f"{name} outside its family ({current})"
            families[current]["samples"].append((name, labels, value))
    for name, family in families.items():
        assert "type" in family and "help" in family, name
        if family["type"] == "histogram":
            series: dict = {}
            for sample_name, labels, value in family["samples"]:
                if sample_name.endswith("_bucket"):
                    key = tuple(sorted((k, v) for k, v in labels.items() if k != "le"))
                    series.setdefault(key, []).append((labels["le"], value))
            for key, buckets in series.items():
                counts = [v for _, v in buckets]
                assert counts == sorted(counts), f"{name}{key}: buckets not cumulative"
                assert buckets[-1][0] == "+Inf", f"{name}{key}: no +Inf bucket"
    return families


def value(families: dict, name: str, **labels) -> float:
    """The sample `name` with exactly these labels (0 when absent)."""
    family = name
    for suffix in ("_bucket", "_sum", "_count"):
        if name.endswith(suffix) and name[: -len(suffix)] in families:
            family = name[: -len(suffix)]
    for sample_name, sample_labels, v in families.get(family, {}).get("samples", []):
        if sample_name == name and sample_labels == labels:
            return v
    return 0.0


def http_get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def scrape(port: int) -> dict:
    status, body = http_get(port, "/metrics")
    assert status == 200, body
    return parse_prometheus(body)


def info_fields(text: bytes) -> dict[str, str]:
    out = {}
    for line in text.decode().split("\r\n"):
        if ":" in line and not line.startswith("#"):
            k, v = line.split(":", 1)
            out[k] = v
    return out


def info_sections(text: bytes) -> list[str]:
    return [line[2:] for line in text.decode().split("\r\n") if line.startswith("# ")]


def metrics_proxy(start_proxy, *extra):
    port = free_port()
    p = start_proxy(["--metrics-port", str(port), *extra])
    return p, port


# MARK: - Tests


def test_metrics_endpoint(start_proxy, run_id):
    p, port = metrics_proxy(start_proxy)
    assert http_get(port, "/healthz") == (200, "ok\n")
    wait_for(lambda: http_get(port, "/readyz") == (200, "ok\n"), 10, "/readyz 200")
    assert http_get(port, "/nope")[0] == 404
    assert http_get(port, "/metrics?x=1")[0] == 200

    before = scrape(port)
    for name in ("slotproxy_command_calls_total", "slotproxy_errors_total", "slotproxy_backend_latency_seconds",
                 "slotproxy_backend_connections", "slotproxy_connected_clients"):
        assert name in before, name
    assert before["slotproxy_backend_latency_seconds"]["type"] == "histogram"
    key = f"metrics:{run_id}"
    a, b = key_in_slot(1, run_id), key_in_slot(9000, run_id)
    with RawConnection(p.port) as conn:
        assert conn.command("SET", key, "v") == b"OK"
        for _ in range(3):
            assert conn.command("GET", key) == b"v"
        assert isinstance(conn.command("LPUSH", key, "x"), ErrorReply)      # WRONGTYPE, failed call
        assert isinstance(conn.command("SUNION", a, b), ErrorReply)        # CROSSSLOT, rejected
        assert isinstance(conn.command("NOSUCHCOMMAND"), ErrorReply)        # ERR, no command
        after = scrape(port)
    calls = lambda f, c: value(f, "slotproxy_command_calls_total", command=c)
    assert calls(after, "get") - calls(before, "get") == 3
    assert calls(after, "set") - calls(before, "set") == 1
    assert value(after, "slotproxy_command_failed_calls_total", command="lpush") \
        - value(before, "slotproxy_command_failed_calls_total", command="lpush") == 1
    assert value(after, "slotproxy_command_rejected_calls_total", command="sunion") \
        - value(before, "slotproxy_command_rejected_calls_total", command="sunion") == 1
    for kind in ("WRONGTYPE", "CROSSSLOT", "ERR"):
        assert value(after, "slotproxy_errors_total", kind=kind) - value(before, "slotproxy_errors_total", kind=kind) == 1
    assert value(after, "slotproxy_command_duration_seconds_total", command="get") >= 0
    assert value(after, "slotproxy_client_received_bytes_total") > value(before, "slotproxy_client_received_bytes_total")
    assert value(after, "slotproxy_backend_sent_bytes_total") > value(before, "slotproxy_backend_sent_bytes_total")
    latency = after["slotproxy_backend_latency_seconds"]["samples"]
    assert sum(v for n, _, v in latency if n.endswith("_count")) >= 5
    ready_nodes = {l["node"] for n, l, v in after["slotproxy_backend_connections"]["samples"] if l["state"] == "ready"}
    assert len(ready_nodes) >= 3
    assert value(after, "slotproxy_slots_assigned") == 16384
    assert value(after, "slotproxy_slot_map_complete") == 1
    assert value(after, "slotproxy_connected_clients") >= 1


def test_readyz_before_slot_map(own_proxy):
    port = free_port()
    p = own_proxy(f"127.0.0.1:{closed_port()}", ["--metrics-port", str(port)], serving=False)
    assert http_get(port, "/healthz") == (200, "ok\n")
    status, body = http_get(port, "/readyz")
    assert status == 503 and body.startswith("slot map incomplete: 0 of 16384"), body
    assert value(scrape(port), "slotproxy_slot_map_complete") == 0
    assert p.process.poll() is None


@pytest.mark.failover
@pytest.mark.timeout(120)
def test_readyz_primary_down(own_cluster, own_proxy):
    port = free_port()
    own_proxy(own_cluster.seeds, ["--metrics-port", str(port)])
    wait_for(lambda: http_get(port, "/readyz")[0] == 200, 10, "/readyz 200")
    victim = own_cluster.primaries()[0]
    own_cluster.kill_node(victim)
    status, body = wait_for(lambda: (lambda r: r if r[0] == 503 else None)(http_get(port, "/readyz")), 10,
                            "/readyz 503 after a primary died", interval=0.05)
    assert f"no live connection to primary 127.0.0.1:{victim}" in body, body
    # Its replica is promoted (node timeout 2 s) and the proxy connects to it: ready again.
    wait_for(lambda: http_get(port, "/readyz")[0] == 200, 60, "/readyz 200 after the failover")


def test_info_sections(start_proxy, run_id):
    p = start_proxy()
    key = f"info:{run_id}"
    with RawConnection(p.port) as conn:
        default = conn.command("INFO")
        assert info_sections(default) == ["Server", "Clients", "Memory", "Stats", "Replication", "CPU",
                                          "Errorstats", "Cluster", "Keyspace"]
        assert info_sections(conn.command("INFO", "all")) == ["Server", "Clients", "Memory", "Stats", "Replication",
                                                             "CPU", "Commandstats", "Errorstats", "Cluster",
                                                             "Keyspace"]
        assert info_sections(conn.command("INFO", "everything")) == info_sections(conn.command("INFO", "all"))
        assert info_sections(conn.command("INFO", "CLIENTS", "server")) == ["Server", "Clients"]
        fields = info_fields(default)
        for name in ("redis_version", "process_id", "tcp_port", "uptime_in_seconds", "connected_clients",
                     "blocked_clients", "used_memory", "total_commands_processed", "total_connections_received",
                     "total_net_input_bytes", "total_net_output_bytes", "role", "used_cpu_user", "cluster_enabled",
                     "shard0", "shard2"):
            assert name in fields, name
        assert fields["process_id"] == str(p.pid)
        assert fields["slotproxy_slots_assigned"] == "16384"
        # Workers publish their connections' states every 100 ms: ready soon after start.
        shard = re.compile(r"primary=127\.0\.0\.1:\d+,replicas=127\.0\.0\.1:\d+,slots=\d+,connection=ready")
        wait_for(lambda: all(shard.fullmatch(v) for k, v in info_fields(conn.command("INFO", "cluster")).items()
                             if k.startswith("shard")), 10, "every shard connected")

        assert conn.command("SET", key, "1") == b"OK"
        for _ in range(4):
            conn.command("GET", key)
        assert isinstance(conn.command("HGET", key, "f"), ErrorReply)
        assert isinstance(conn.command("GET"), ErrorReply)  # wrong arity: errorstats only
        stats = info_fields(conn.command("INFO", "commandstats"))
        get = dict(kv.split("=") for kv in stats["cmdstat_get"].split(","))
        assert get["calls"] == "4" and get["failed_calls"] == "0" and get["rejected_calls"] == "0", get
        assert float(get["usec_per_call"]) >= 0 and int(get["usec"]) >= 0
        hget = dict(kv.split("=") for kv in stats["cmdstat_hget"].split(","))
        assert hget["calls"] == "1" and hget["failed_calls"] == "1", hget
        errors = info_fields(conn.command("INFO", "errorstats"))
        assert errors["errorstat_WRONGTYPE"] == "count=1"
        assert errors["errorstat_ERR"] == "count=1"
        # (The harness's readiness SETs may have met CLUSTERDOWN before the slot map was complete.)
        total = sum(int(v.split("=")[1]) for k, v in errors.items() if k.startswith("errorstat_"))
        assert int(info_fields(conn.command("INFO", "stats"))["total_error_replies"]) == total


def test_redis_cli_stat(proxy):
    try:
        # Unbuffered (stdbuf): redis-cli --stat runs until killed, and a pipe would hold its lines.
        out = subprocess.run(["stdbuf", "-o0", "redis-cli", "-p", str(proxy.port), "--stat", "-i", "0.2"],
                             capture_output=True,
                             text=True, timeout=1.5).stdout
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
    assert "------- data ------" in out, out
    rows = [line for line in out.splitlines() if re.match(r"^\d+\s+\S+\s+\d+\s+\d+\s+\d+", line)]
    assert len(rows) >= 2, out
    assert "-9223372036854775808" not in out and "error" not in out.lower(), out


def test_slowlog(start_proxy, run_id):
    p = start_proxy(["--slowlog-log-slower-than", "0", "--slowlog-max-len", "5"])
    tag = "{" + run_id + "}"
    with RawConnection(p.port) as conn:
        assert conn.command("CLIENT", "SETNAME", "slow-one") == b"OK"
        assert conn.command("SLOWLOG", "RESET") == b"OK"
        assert conn.command("SLOWLOG", "LEN") <= 1  # the RESET itself, logged after it ran
        assert conn.command("SET", f"a:{tag}", "x" * 200) == b"OK"
        assert conn.command("GET", f"a:{tag}") == b"x" * 200
        assert conn.command("DEL", *[f"k{i}:{tag}" for i in range(39)]) == 0
        assert conn.command("MGET", key_in_slot(1, run_id), key_in_slot(9000, run_id)) is not None
        entries = conn.command("SLOWLOG", "GET", "3")
        assert len(entries) == 3
        mget, delete, get = entries
        assert [e[0] for e in entries] == sorted((e[0] for e in entries), reverse=True)
        for e in entries:
            assert len(e) == 6 and isinstance(e[0], int) and abs(e[1] - time.time()) < 60 and e[2] >= 0
            assert e[4].startswith(b"127.0.0.1:") and e[5] == b"slow-one"
        assert mget[3][0] == b"MGET" and len(mget[3]) == 3
        assert len(delete[3]) == 32 and delete[3][0] == b"DEL" and delete[3][-1] == b"... (9 more arguments)"
        assert get[3] == [b"GET", f"a:{tag}".encode()]
        set_entry = conn.command("SLOWLOG", "GET", "-1")[-1]
        assert len(conn.command("SLOWLOG", "GET", "-1")) == 5  # slowlog-max-len
        assert conn.command("SLOWLOG", "LEN") == 5
        assert isinstance(conn.command("SLOWLOG", "GET", "x"), ErrorReply)
        assert conn.command("SLOWLOG", "RESET") == b"OK"
        remaining = conn.command("SLOWLOG", "GET")
        assert len(remaining) <= 1 and all(e[3][:2] == [b"SLOWLOG", b"RESET"] for e in remaining), remaining
        assert set_entry is not None
        conn.command("SET", f"b:{tag}", "y" * 200)
        logged = conn.command("SLOWLOG", "GET", "1")[0]
        assert logged[3] == [b"SET", f"b:{tag}".encode(), b"y" * 128 + b"... (72 more bytes)"]


def test_slowlog_off(start_proxy, run_id):
    p = start_proxy(["--slowlog-log-slower-than", "-1"])
    with RawConnection(p.port) as conn:
        conn.command("SET", f"off:{run_id}", "1")
        assert conn.command("SLOWLOG", "LEN") == 0
        assert conn.command("SLOWLOG", "GET") == []
