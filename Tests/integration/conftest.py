"""Fixtures for slotproxy's integration tests: a real local Redis Cluster, the real proxy, clients.

Session-wide:
  cluster       a 3-primary + 3-replica cluster from `scripts/cluster start` on a random free
                port range (20000-29000, node and bus ports probed by binding), stopped at the end;
  proxy         the proxy binary ($SLOTPROXY_BIN, default .build/release/slotproxy) started on a
                free port with the cluster's seeds, ready (PING, then a SET past CLUSTERDOWN) and
                checked to be the process answering (INFO server process_id). A test that kills
                it fails at teardown and the next test gets a fresh one.
Per test:
  start_proxy   starts extra proxies with their own seeds/directives, stops them by PID after;
  own_cluster   a cluster of this test alone (fault-injection tests kill its nodes), node timeout
                2000 ms, on a random free range with BASE+6 free too (for an added node), stopped
                through its recorded PIDs after the test, whatever was killed or restarted;
                new_cluster(base=None) starts more, or one on given ports (seeds-down tests);
  own_proxy     own_proxy(seeds, extra_args, serving=True) starts a proxy for such a cluster,
                stopped by PID after; serving=False waits only for PING (cluster not up yet);
  target        parametrised "proxy" / "redis": the same test run through the proxy (over every
                slot) and against one real primary (over the slots it owns), so each expected
                reply is also checked against Redis itself;
  resp2, resp3, default_client   redis-py clients of the target (protocol=2, 3, library default);
  raw           opens RawConnections (exact bytes in, RESP replies out) to the target;
  run_id        a random token that keeps each run's keys apart.
Tests that need the proxy carry the marker `proxy` (added here at collection), so
`pytest -m "not proxy"` runs only the harness checks and the [redis] reference runs.
Sanitizers: with an ASan/TSan build of the proxy (scripts/test --asan / --tsan), a sanitizer report
written during a test (a file in $SLOTPROXY_SANITIZER_DIR, or a report in a proxy's log) fails
that test; one the shared proxy writes at exit fails the session (see sanitizers.py).
Everything started is recorded under $SLOTPROXY_RUN_DIR (scripts/test sets it and cleans it up even
if pytest dies); the default is run/pytest-<pid>/.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

import sanitizers
from support import (
    REPO,
    Cluster,
    ProxyProcess,
    RawConnection,
    key_in_slot,
    key_slot,
    free_cluster_base,
)


def pytest_configure(config):
    config.addinivalue_line("markers", "proxy: the test runs the slotproxy binary")
    config.addinivalue_line("markers", "failover: the test kills, restarts or adds nodes of a "
                                       "cluster of its own (slow: -m 'not failover' skips them)")


def pytest_collection_modifyitems(items):
    for item in items:
        callspec = getattr(item, "callspec", None)
        on_proxy = callspec is not None and callspec.params.get("target") == "proxy"
        if on_proxy or {"proxy", "start_proxy", "_shared_proxy", "own_proxy"} & set(item.fixturenames):
            item.add_marker(pytest.mark.proxy)


@pytest.fixture(scope="session")
def run_dir():
    given = os.environ.get("SLOTPROXY_RUN_DIR")
    path = Path(given) if given else REPO / "run" / f"pytest-{os.getpid()}"
    path.mkdir(parents=True, exist_ok=True)
    yield path
    if not given:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def cluster(run_dir):
    c = Cluster.start_retrying(run_dir)
    try:
        c.slot_owners()
        yield c
    finally:
        c.stop()


@pytest.fixture(scope="session")
def run_id():
    return secrets.token_hex(4)


class _SharedProxy:
    """The session's proxy, restarted when a test left it dead."""

    def __init__(self, cluster: Cluster, run_dir: Path):
        self.cluster = cluster
        self.run_dir = run_dir
        self.current: ProxyProcess | None = None

    def get(self) -> ProxyProcess:
        if self.current is None or self.current.process.poll() is not None:
            self.current = ProxyProcess(self.cluster.seeds, run_dir=self.run_dir).start()
        return self.current

    def stop(self):
        if self.current is not None:
            self.current.stop()


@pytest.fixture(scope="session")
def _shared_proxy(cluster, run_dir):
    before = sanitizers.report_files()
    shared = _SharedProxy(cluster, run_dir)
    yield shared
    shared.stop()
    # A report the shared proxy writes at exit (LeakSanitizer) belongs to no test.
    found = sanitizers.report_files() - before
    logged = sanitizers.in_log(shared.current.log_path) if shared.current is not None else None
    if found or logged:
        pytest.fail("sanitizer report from the shared proxy at exit:\n"
                    + (sanitizers.describe(found) if found else logged))


@pytest.fixture(autouse=True)
def _no_sanitizer_reports():
    """Fails the test during which a sanitizer report file appeared (set up first, so torn down
    last: after the proxies a test started have been stopped and wrote any exit report)."""
    before = sanitizers.report_files()
    yield
    found = sanitizers.report_files() - before
    if found:
        pytest.fail("sanitizer report(s) during this test:\n" + sanitizers.describe(found), pytrace=False)


def _fail_on_logged_reports(proxies) -> None:
    reports = [r for r in (sanitizers.in_log(p.log_path) for p in proxies) if r]
    if reports:
        pytest.fail("sanitizer report in a proxy's log:\n" + "\n".join(reports), pytrace=False)


@pytest.fixture
def proxy(_shared_proxy) -> ProxyProcess:
    p = _shared_proxy.get()
    yield p
    status = p.process.poll()
    if status is not None:
        pytest.fail(f"the proxy died during this test (exit status {status}); log tail:\n{p.log_tail()}")
    if not getattr(p, "sanitizer_reported", False) and sanitizers.in_log(p.log_path):
        p.sanitizer_reported = True  # fail the test that saw it, not every later one
        _fail_on_logged_reports([p])


@pytest.fixture
def start_proxy(cluster, run_dir):
    """start_proxy(extra_args=[...], seeds=None, threads=2, env=None) -> a ready ProxyProcess."""
    started: list[ProxyProcess] = []

    def start(extra_args: list[str] | None = None, seeds: str | None = None, threads: int = 2,
              ready_timeout: float = 30.0, env: dict[str, str] | None = None) -> ProxyProcess:
        p = ProxyProcess(seeds or cluster.seeds, extra_args=extra_args, run_dir=run_dir, threads=threads, env=env)
        started.append(p)
        return p.start(ready_timeout)

    yield start
    died = [p for p in started if p.process is not None and p.process.poll() is not None]
    for p in started:
        p.stop()
    if died:
        pytest.fail("a proxy died during this test:\n" + "\n".join(p.log_tail() for p in died))
    _fail_on_logged_reports(started)


@dataclass
class Target:
    """Where a test sends its commands: the proxy (every slot) or one real primary (its slots)."""

    name: str
    port: int
    slots: list[int]

    def keys(self, n: int, label: str) -> list[str]:
        """n distinct keys spread evenly over this target's slots (named after the target too, so
        the [proxy] and [redis] runs of a test never share a key)."""
        step = max(1, len(self.slots) // n) if n <= len(self.slots) else 1
        return [key_in_slot(self.slots[(i * step) % len(self.slots)], f":{self.name}:{label}:{i}")
                for i in range(n)]

    def serves(self, key: bytes | str) -> bool:
        return self.name == "proxy" or key_slot(key) in self._slot_set

    @property
    def _slot_set(self) -> set[int]:
        if not hasattr(self, "_cached_slot_set"):
            self._cached_slot_set = set(self.slots)
        return self._cached_slot_set

    def find_key(self, prefix: bytes) -> bytes:
        """<target name>:prefix + a counter, the first such key this target serves."""
        prefix = self.name.encode() + b":" + prefix
        n = 0
        while not self.serves(prefix + str(n).encode()):
            n += 1
        return prefix + str(n).encode()


@pytest.fixture(params=["proxy", "redis"])
def target(request, cluster) -> Target:
    if request.param == "proxy":
        p = request.getfixturevalue("proxy")
        return Target("proxy", p.port, list(range(16384)))
    port = cluster.primaries()[0]
    return Target("redis", port, cluster.slots_of(port))


def _client(target: Target, protocol: int | None) -> redis.Redis:
    kwargs = {"protocol": protocol} if protocol is not None else {}
    return redis.Redis(host="127.0.0.1", port=target.port, socket_timeout=20, **kwargs)


@pytest.fixture
def resp2(target):
    c = _client(target, 2)
    yield c
    c.close()


@pytest.fixture
def resp3(target):
    c = _client(target, 3)
    yield c
    c.close()


@pytest.fixture
def default_client(target):
    c = _client(target, None)
    yield c
    c.close()


@pytest.fixture
def raw(target):
    """raw() -> a new RawConnection to the target, closed after the test."""
    opened: list[RawConnection] = []

    def open_connection() -> RawConnection:
        conn = RawConnection(target.port)
        opened.append(conn)
        return conn

    yield open_connection
    for conn in opened:
        conn.close()


# MARK: - Clusters and proxies of one test (fault injection)


FAILOVER_NODE_TIMEOUT = 2000  # ms: the cluster-node-timeout the failover tests are written for


@pytest.fixture
def new_cluster(run_dir):
    """new_cluster(base=None) -> a started 3+3 Cluster of this test alone; stopped after the test."""
    started: list[Cluster] = []

    def start(base: int | None = None) -> Cluster:
        for attempt in range(1 if base else 3):
            b = base or free_cluster_base(nodes=7)
            placeholder = Cluster(base=b, dir=run_dir / f"cluster-{b}", ports=[])
            started.append(placeholder)  # so a start cut short by a timeout is stopped too
            try:
                c = Cluster.start(b, placeholder.dir, node_timeout=FAILOVER_NODE_TIMEOUT)
            except subprocess.CalledProcessError:
                if base or attempt == 2:
                    raise
                continue
            started[-1] = c
            return c
        raise AssertionError("unreachable")

    yield start
    for c in reversed(started):
        try:
            c.stop()
        except subprocess.SubprocessError as e:
            print(f"stopping cluster {c.dir}: {e}")


@pytest.fixture
def own_cluster(new_cluster) -> Cluster:
    return new_cluster()


@pytest.fixture
def own_proxy(run_dir):
    """own_proxy(seeds, extra_args=None, serving=True) -> a ready ProxyProcess, stopped after."""
    started: list[ProxyProcess] = []
    ready: list[ProxyProcess] = []

    def start(seeds: str, extra_args: list[str] | None = None, serving: bool = True,
              ready_timeout: float = 30.0) -> ProxyProcess:
        p = ProxyProcess(seeds, extra_args=extra_args, run_dir=run_dir)
        started.append(p)
        p.start(ready_timeout, serving=serving)
        ready.append(p)
        return p

    yield start
    died = [p for p in ready if p.process.poll() is not None]
    for p in started:
        p.stop()
    if died:
        pytest.fail("a proxy died during this test:\n" + "\n".join(p.log_tail() for p in died))
    _fail_on_logged_reports(started)
