"""Helpers for slotproxy's integration tests, free of pytest so they can be reused by benchmarks.

How the pieces fit:
  key_slot / keys_by_slot   Redis Cluster's CRC16 slot function and one plain key per slot (from
                            Tests/fixtures/slot-keys.txt when it exists, else computed here);
  RawConnection             a socket with a tiny RESP2/RESP3 reader, to send exact bytes and read
                            exact replies (protocol tests, big raw pipelines);
  Cluster                   a running `scripts/cluster` cluster: seeds, which primary owns a slot
                            (from CLUSTER SLOTS), per-node redis-py clients to verify values there;
  ProxyProcess              the slotproxy binary started on a free port, checked to be the process
                            that answers, stopped by PID;
  fault injection           Cluster.kill_node / restart_node / new_node (through scripts/cluster, so
                            every PID stays recorded), node roles and replicas, wait_for deadlines;
  ClientLoad                client threads through one endpoint (SET-then-GET or INCR), each with
                            its own connection, stopped by an event and a hard deadline, recording
                            every operation's latency, every error and the values last written;
  free ports                probing by binding, so parallel runs and other people's servers on
                            this machine are never disturbed.
Every blocking call has a timeout: a broken proxy makes a test fail, never hang.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

REPO = Path(__file__).resolve().parents[2]
SLOT_COUNT = 16384
IO_TIMEOUT = 20.0  # seconds any single socket read may wait


# MARK: - Slots


def _crc16_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
        table.append(crc & 0xFFFF)
    return table


_CRC16 = _crc16_table()


def crc16(data: bytes) -> int:
    """CRC16-CCITT (XModem), the checksum Redis Cluster hashes keys with."""
    crc = 0
    for b in data:
        crc = ((crc << 8) & 0xFFFF) ^ _CRC16[((crc >> 8) ^ b) & 0xFF]
    return crc


def key_slot(key: bytes | str) -> int:
    """The hash slot of a key, with Redis's hash-tag rule: a non-empty {tag} is hashed alone."""
    if isinstance(key, str):
        key = key.encode()
    start = key.find(b"{")
    if start != -1:
        end = key.find(b"}", start + 1)
        if end > start + 1:  # "{}" is no tag: hash the whole key
            key = key[start + 1 : end]
    return crc16(key) % SLOT_COUNT


_keys_by_slot: list[str] | None = None


def keys_by_slot() -> list[str]:
    """One plain key (no braces) for each slot: element i hashes to slot i."""
    global _keys_by_slot
    if _keys_by_slot is not None:
        return _keys_by_slot
    fixture = REPO / "Tests" / "fixtures" / "slot-keys.txt"
    keys: list[str | None] = [None] * SLOT_COUNT
    if fixture.exists():
        for line in fixture.read_text().splitlines():
            if not line.strip():
                continue
            slot_text, key = line.split(" ", 1)
            slot = int(slot_text)
            if "{" not in key and "}" not in key and key_slot(key) == slot:
                keys[slot] = key
    missing = {i for i, k in enumerate(keys) if k is None}
    n = 0
    while missing:
        candidate = f"slot-key:{n}"
        slot = key_slot(candidate)
        if slot in missing:
            keys[slot] = candidate
            missing.discard(slot)
        n += 1
    _keys_by_slot = keys  # type: ignore[assignment]
    return _keys_by_slot  # type: ignore[return-value]


def key_in_slot(slot: int, suffix: str = "") -> str:
    """A key of the given slot, made distinct by suffix: "{<key of slot>}<suffix>"."""
    return "{" + keys_by_slot()[slot] + "}" + suffix


# MARK: - RESP


class SimpleString(bytes):
    """A RESP `+` reply."""


class ErrorReply(bytes):
    """A RESP `-` or `!` reply; `text` is the message without the leading '-'."""

    @property
    def text(self) -> str:
        return self.decode(errors="replace")


class RespMap(list):
    """A RESP3 `%` reply kept as an ordered list of (key, value) pairs."""

    def get(self, key, default=None):
        for k, v in self:
            if k == key:
                return v
        return default


class RespSet(list):
    """A RESP3 `~` reply."""


class Push(list):
    """A RESP3 `>` reply."""


class Null:
    """RESP3 `_`; distinct from RESP2's null bulk/array, which read as None."""

    def __repr__(self) -> str:
        return "Null"


NULL3 = Null()


def encode_command(*args) -> bytes:
    """A RESP2 multibulk request; str arguments are UTF-8, ints are decimal."""
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, str):
            a = a.encode()
        elif isinstance(a, int):
            a = str(a).encode()
        out.append(b"$%d\r\n" % len(a))
        out.append(a)
        out.append(b"\r\n")
    return b"".join(out)


class ConnectionClosed(Exception):
    pass


class RawConnection:
    """A plain TCP (or, given unix_path, Unix socket) connection: write exact bytes, read exact
    bytes or whole RESP replies."""

    def __init__(self, port: int = 0, host: str = "127.0.0.1", timeout: float = IO_TIMEOUT,
                 unix_path: str | None = None):
        if unix_path is not None:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(timeout)
            self.sock.connect(unix_path)
        else:
            self.sock = socket.create_connection((host, port), timeout=timeout)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.pos = 0

    def close(self) -> None:
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def command(self, *args):
        """Send one command and read its reply."""
        self.send(encode_command(*args))
        return self.read_reply()

    def _fill(self) -> None:
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise ConnectionClosed("connection closed by peer")
        if self.pos > (1 << 20):
            del self.buf[: self.pos]
            self.pos = 0
        self.buf += chunk

    def read_exact(self, n: int) -> bytes:
        while len(self.buf) - self.pos < n:
            self._fill()
        out = bytes(self.buf[self.pos : self.pos + n])
        self.pos += n
        return out

    def peek(self, n: int) -> bytes:
        """The next n bytes, left unread."""
        while len(self.buf) - self.pos < n:
            self._fill()
        return bytes(self.buf[self.pos : self.pos + n])

    def _line(self) -> bytes:
        while True:
            i = self.buf.find(b"\r\n", self.pos)
            if i != -1:
                out = bytes(self.buf[self.pos : i])
                self.pos = i + 2
                return out
            self._fill()

    def read_reply(self):
        """One complete RESP2/RESP3 reply, materialised (see the reply classes above)."""
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return SimpleString(rest)
        if kind == b"-":
            return ErrorReply(rest)
        if kind == b":":
            return int(rest)
        if kind in (b"$", b"=", b"!"):
            n = int(rest)
            if n < 0:
                return None
            data = self.read_exact(n + 2)[:-2]
            if kind == b"!":
                return ErrorReply(data)
            return data
        if kind in (b"*", b"~", b">"):
            n = int(rest)
            if n < 0:
                return None
            items = [self.read_reply() for _ in range(n)]
            return {b"*": list, b"~": RespSet, b">": Push}[kind](items)
        if kind == b"%":
            return RespMap((self.read_reply(), self.read_reply()) for _ in range(int(rest)))
        if kind == b"|":  # attribute: read and drop it, then the reply it decorates
            for _ in range(int(rest)):
                self.read_reply()
                self.read_reply()
            return self.read_reply()
        if kind == b"_":
            return NULL3
        if kind == b"#":
            return rest == b"t"
        if kind == b",":
            return float(rest)
        if kind == b"(":
            return int(rest)
        raise AssertionError(f"not a RESP reply: {line[:80]!r}")

    def read_all_available(self, wait: float = 0.3) -> bytes:
        """Whatever arrives within `wait` seconds (for checking that nothing more comes)."""
        out = bytes(self.buf[self.pos :])
        self.pos = len(self.buf)
        self.sock.settimeout(wait)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    break
                out += chunk
        except socket.timeout:
            pass
        finally:
            self.sock.settimeout(IO_TIMEOUT)
        return out

    def is_closed_by_peer(self, wait: float = 5.0) -> bool:
        """True when the peer closes the connection within `wait` seconds (after any data)."""
        self.sock.settimeout(wait)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
        except socket.timeout:
            return False
        except ConnectionResetError:
            return True
        finally:
            self.sock.settimeout(IO_TIMEOUT)


# MARK: - Ports


def port_is_free(port: int) -> bool:
    s = socket.socket()
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def free_cluster_base(nodes: int = 6, low: int = 20000, high: int = 29000) -> int:
    """A random BASE whose node ports BASE..BASE+nodes-1 and bus ports +10000 are all free."""
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(low, high - nodes)
        ports = [base + i for i in range(nodes)]
        if all(port_is_free(p) and port_is_free(p + 10000) for p in ports):
            return base
    raise RuntimeError("no free port range for a cluster")


def free_port(low: int = 12000, high: int = 19000) -> int:
    """A random free port below the clusters' ranges (20000-29000, bus ports 30000-39000) and
    below Linux's ephemeral range (32768+), so no outgoing connection can be holding it."""
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(low, high)
        if port_is_free(port):
            return port
    raise RuntimeError("no free port")


def closed_port() -> int:
    """A port nothing listens on right now (for a seed that is down)."""
    return free_port(19000, 19999)


# MARK: - Cluster


@dataclass
class Cluster:
    """A cluster started by scripts/cluster, and the means to check values on their owner."""

    base: int
    dir: Path
    ports: list[int]
    _nodes: dict[int, redis.Redis] = field(default_factory=dict)
    _owner: list[int] | None = None

    @property
    def seeds(self) -> str:
        return ",".join(f"127.0.0.1:{p}" for p in self.ports)

    @classmethod
    def start_retrying(cls, run_dir: Path, node_timeout: int | None = None) -> "Cluster":
        """Starts a 3+3 cluster on a free base. Bus ports (BASE+10000) lie in Linux's ephemeral
        range, so another connection can take one between the probe and the start: then another
        range is tried (3 attempts)."""
        for attempt in range(3):
            base = free_cluster_base()
            try:
                if node_timeout is None:
                    return cls.start(base, run_dir / f"cluster-{base}")
                return cls.start(base, run_dir / f"cluster-{base}", node_timeout=node_timeout)
            except subprocess.CalledProcessError:
                cls(base=base, dir=run_dir / f"cluster-{base}", ports=[]).stop()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    @classmethod
    def start(cls, base: int, directory: Path, node_timeout: int = 2000) -> "Cluster":
        subprocess.run(
            [str(REPO / "scripts" / "cluster"), "start", "--port", str(base), "--dir", str(directory),
             "--node-timeout", str(node_timeout)],
            check=True, timeout=180, stdout=subprocess.DEVNULL,
        )
        return cls(base=base, dir=directory, ports=[base + i for i in range(6)])

    def stop(self) -> None:
        for client in self._nodes.values():
            client.close()
        self._nodes.clear()
        subprocess.run(
            [str(REPO / "scripts" / "cluster"), "stop", "--port", str(self.base), "--dir", str(self.dir)],
            check=True, timeout=60,
        )

    def node(self, port: int) -> redis.Redis:
        """A RESP2 redis-py client talking to one node directly (no redirections followed)."""
        if port not in self._nodes:
            self._nodes[port] = redis.Redis(host="127.0.0.1", port=port, protocol=2,
                                            socket_timeout=IO_TIMEOUT)
        return self._nodes[port]

    def slot_owners(self, refresh: bool = False) -> list[int]:
        """Port of the primary owning each slot, from CLUSTER SLOTS asked of the first node that
        answers (the first node may have been killed by a fault-injection test)."""
        if self._owner is None or refresh:
            reply = None
            for port in self.ports:
                reply = node_command(port, "CLUSTER", "SLOTS", timeout=IO_TIMEOUT)
                if isinstance(reply, list):
                    break
            assert isinstance(reply, list), f"no node answers CLUSTER SLOTS (last reply {reply!r})"
            owner = [0] * SLOT_COUNT
            for entry in reply:
                start, end, primary = entry[0], entry[1], entry[2]
                for slot in range(start, end + 1):
                    owner[slot] = int(primary[1])
            assert all(owner), "CLUSTER SLOTS does not cover every slot"
            self._owner = owner
        return self._owner

    def primaries(self) -> list[int]:
        return sorted(set(self.slot_owners()))

    def slots_of(self, port: int) -> list[int]:
        return [s for s, p in enumerate(self.slot_owners()) if p == port]

    def owner_of_key(self, key: bytes | str) -> int:
        return self.slot_owners()[key_slot(key)]

    def get_direct(self, key: bytes | str):
        """GET on the primary that owns the key's slot."""
        return self.node(self.owner_of_key(key)).get(key)

    def get_many_direct(self, keys: list) -> list:
        """GET of every key on its owning primary, pipelined per node; results in key order."""
        by_node: dict[int, list[int]] = {}
        for i, k in enumerate(keys):
            by_node.setdefault(self.owner_of_key(k), []).append(i)
        out: list = [None] * len(keys)
        for port, indices in by_node.items():
            pipe = self.node(port).pipeline(transaction=False)
            for i in indices:
                pipe.get(keys[i])
            for i, value in zip(indices, pipe.execute()):
                out[i] = value
        return out

    # Fault injection. Everything goes through scripts/cluster so PIDs stay recorded in DIR and
    # `stop` still stops exactly what runs, whatever a test killed, restarted or added.

    def _script(self, *args: str, timeout: float = 60) -> None:
        subprocess.run([str(REPO / "scripts" / "cluster"), *args, "--dir", str(self.dir)],
                       check=True, timeout=timeout, stdout=subprocess.DEVNULL)

    def kill_node(self, port: int, sig: str = "KILL") -> None:
        """Stops one node with SIGKILL (a crash) or SIGTERM; its directory and nodes.conf stay."""
        self._forget(port)
        self._script("kill-node", "--signal", sig, str(port))

    def restart_node(self, port: int) -> None:
        """Starts a stopped node again: same port, same directory, same nodes.conf."""
        self._forget(port)
        self._script("restart-node", str(port))

    def new_node(self, port: int) -> None:
        """Starts an empty cluster-enabled node on `port` (not joined: redis-cli --cluster add-node)."""
        self._script("new-node", str(port))
        if port not in self.ports:
            self.ports.append(port)

    def is_ready(self) -> bool:
        """`scripts/cluster status`: all six nodes up, state ok, slots agreed, replicas in sync."""
        result = subprocess.run([str(REPO / "scripts" / "cluster"), "status", "--dir", str(self.dir)],
                                capture_output=True, timeout=60)
        return result.returncode == 0

    def _forget(self, port: int) -> None:
        client = self._nodes.pop(port, None)
        if client is not None:
            client.close()

    def forget_clients(self) -> None:
        """Closes the cached per-node clients (after nodes died or moved) and the slot map."""
        for port in list(self._nodes):
            self._forget(port)
        self._owner = None

    def cluster_nodes(self, via: int) -> list[dict]:
        """CLUSTER NODES as `via` sees it: one dict per node (id, port, flags, primary_id, slots)."""
        text = node_command(via, "CLUSTER", "NODES")
        if not isinstance(text, bytes) or isinstance(text, ErrorReply):
            raise AssertionError(f"CLUSTER NODES on {via}: {text!r}")
        out = []
        for line in text.decode().splitlines():
            fields = line.split()
            if len(fields) < 8:
                continue
            address = fields[1].split("@")[0]
            out.append({"id": fields[0], "port": int(address.rsplit(":", 1)[1]),
                        "flags": set(fields[2].split(",")), "primary_id": fields[3],
                        "link": fields[7], "slots": [f for f in fields[8:] if not f.startswith("[")]})
        return out

    def node_id(self, port: int) -> str:
        reply = node_command(port, "CLUSTER", "MYID")
        assert isinstance(reply, bytes) and not isinstance(reply, ErrorReply), reply
        return reply.decode()

    def replica_of(self, primary: int, via: int | None = None) -> int:
        """The port of a replica of the given primary (asked of `via`, default: the primary)."""
        nodes = self.cluster_nodes(via or primary)
        primary_id = next(n["id"] for n in nodes if n["port"] == primary)
        replicas = [n["port"] for n in nodes if n["primary_id"] == primary_id and "fail" not in n["flags"]]
        assert replicas, f"no replica of {primary} in CLUSTER NODES"
        return replicas[0]


def node_command(port: int, *args, timeout: float = 3.0):
    """One command on a fresh connection to a node; None when the node cannot be reached."""
    try:
        with RawConnection(port, timeout=timeout) as conn:
            return conn.command(*args)
    except (OSError, ConnectionClosed):
        return None


def node_role(port: int) -> str | None:
    """"master" or "slave" from ROLE, None when the node does not answer."""
    reply = node_command(port, "ROLE")
    if isinstance(reply, list) and reply and isinstance(reply[0], bytes):
        return reply[0].decode()
    return None


def replica_linked(port: int) -> bool:
    """True when the node is a replica whose link to its primary is up and not syncing."""
    info = node_command(port, "INFO", "replication")
    return (_info_field(info, "role") == "slave" and _info_field(info, "master_link_status") == "up"
            and _info_field(info, "master_sync_in_progress") == "0")


def wait_for(predicate: Callable[[], object], timeout: float, what: str, interval: float = 0.1):
    """predicate()'s first truthy value, polled until `timeout` seconds; AssertionError after."""
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            last = predicate()
        except Exception as e:  # a node or the proxy still down: keep polling until the deadline
            last = e
        if last and not isinstance(last, Exception):
            return last
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what}: not within {timeout}s (last: {last!r})")
        time.sleep(interval)


# MARK: - Proxy


def proxy_binary() -> Path:
    return Path(os.environ.get("SLOTPROXY_BIN", REPO / ".build" / "release" / "slotproxy"))


class ProxyStartError(Exception):
    pass


class ProxyProcess:
    """One slotproxy process on its own port, stopped by its PID."""

    def __init__(self, seeds: str, port: int | None = None, extra_args: list[str] | None = None,
                 run_dir: Path | None = None, threads: int = 2, env: dict[str, str] | None = None):
        self.port = port or free_port()
        self.env = {**os.environ, **env} if env else None
        self.seeds = seeds
        self.run_dir = run_dir or (REPO / "run")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.run_dir / f"proxy-{self.port}.log"
        self.pid_path = self.run_dir / f"proxy-{self.port}.pid"
        self.args = [str(proxy_binary()), "--port", str(self.port), "--bind", "127.0.0.1",
                     "--seeds", seeds, "--threads", str(threads), "--loglevel", "notice",
                     *(extra_args or [])]
        # With --requirepass the readiness checks authenticate first.
        extra = list(extra_args or [])
        self.password = extra[extra.index("--requirepass") + 1] if "--requirepass" in extra[:-1] else None
        self.process: subprocess.Popen | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, ready_timeout: float = 30.0, serving: bool = True) -> "ProxyProcess":
        """Starts the proxy and waits until it serves (a SET succeeds); with serving=False only
        until it answers PING (for a proxy whose cluster is not reachable yet)."""
        binary = proxy_binary()
        if not binary.exists():
            raise ProxyStartError(f"proxy binary {binary} not found: build it with "
                                  "`swift build -c release` or set SLOTPROXY_BIN")
        if not port_is_free(self.port):
            raise ProxyStartError(f"port {self.port} is already in use")
        log = open(self.log_path, "wb")
        self.process = subprocess.Popen(self.args, stdin=subprocess.DEVNULL, stdout=log,
                                        stderr=subprocess.STDOUT, env=self.env)
        log.close()
        self.pid_path.write_text(str(self.process.pid))
        try:
            self._wait_ready(ready_timeout, serving)
        except BaseException:
            self.stop()
            raise
        return self

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def _fail(self, why: str):
        raise ProxyStartError(f"{why}\ncommand: {' '.join(self.args)}\nlog tail:\n{self.log_tail()}")

    def _wait_ready(self, timeout: float, serving: bool = True) -> None:
        """Until PING answers PONG, then until a SET succeeds (CLUSTERDOWN before the slot map is
        complete), then checks that the process answering is ours (SO_REUSEPORT could let a stale
        proxy share the port)."""
        deadline = time.monotonic() + timeout
        last = "no answer"
        stage = "PING"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self._fail(f"proxy exited with status {self.process.returncode} before it was ready")
            try:
                with RawConnection(self.port, timeout=2.0) as conn:
                    if self.password is not None:
                        conn.command("AUTH", self.password)
                    if stage == "PING":
                        reply = conn.command("PING")
                        last = repr(reply)
                        if reply == b"PONG":
                            if not serving:
                                self._check_pid(conn)
                                return
                            stage = "SET"
                    if stage == "SET":
                        reply = conn.command("SET", "slotproxy-test:ready", "1")
                        last = repr(reply)
                        if reply == b"OK":
                            self._check_pid(conn)
                            return
            except (OSError, ConnectionClosed, ValueError):
                pass
            time.sleep(0.05)
        self._fail(f"proxy not ready after {timeout}s (waiting for {stage}; last reply {last})")

    def _check_pid(self, conn: RawConnection) -> None:
        info = conn.command("INFO", "server")
        pid = _info_field(info, "process_id")
        if pid != str(self.process.pid):
            self._fail(f"INFO server process_id is {pid!r}, but the proxy started has PID {self.process.pid}")

    def stats(self) -> dict[str, str]:
        """The proxy's INFO stats section as name -> value."""
        with RawConnection(self.port, timeout=5.0) as conn:
            info = conn.command("INFO", "stats")
        out = {}
        if isinstance(info, bytes):
            for line in info.decode(errors="replace").splitlines():
                if ":" in line and not line.startswith("#"):
                    name, value = line.split(":", 1)
                    out[name] = value.strip()
        return out

    def stop(self, timeout: float = 10.0) -> int | None:
        """TERM, a bounded wait, then KILL. Returns the exit status."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.pid_path.unlink(missing_ok=True)
        return self.process.returncode


def _info_field(info, name: str) -> str | None:
    if isinstance(info, (bytes, bytearray)):
        for line in bytes(info).decode(errors="replace").splitlines():
            if line.startswith(name + ":"):
                return line.split(":", 1)[1].strip()
    return None


def info_field(info, name: str) -> str | None:
    """A field of an INFO reply read raw (a bulk string of `name:value` lines)."""
    return _info_field(info, name)


# MARK: - Load


@dataclass
class LoadError:
    """One failed operation of a ClientLoad."""

    at: float     # time.monotonic() when the request was sent
    client: int
    op: str
    key: str
    kind: str     # "reply" (an error reply), "timeout", "connection", "unexpected" (a wrong reply)
    text: str


class _RawLoadClient:
    """ClientLoad's client with raw=True: exact error texts (redis-py strips a leading "ERR ")."""

    def __init__(self, port: int, protocol: int, timeout: float):
        self.port, self.protocol, self.timeout = port, protocol, timeout
        self.conn: RawConnection | None = None

    def command(self, *args):
        if self.conn is None:
            self.conn = RawConnection(self.port, timeout=self.timeout)
            if self.protocol == 3:
                hello = self.conn.command("HELLO", "3")
                if isinstance(hello, ErrorReply):
                    self.close()
                    raise ConnectionClosed(f"HELLO 3 refused: {hello.text}")
        try:
            return self.conn.command(*args)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class ClientLoad:
    """Client threads hammering one endpoint until stopped, recording everything a test asserts on.

    Each client is a thread with its own connection (redis-py by default, RawConnection with
    raw=True; protocol None = redis-py's default, RESP3 in redis-py 8) working through its own keys,
    spread over every slot so every shard is hit, in one of two modes:
      "set-get"  SET key <new value>, then GET key, which must return the value this client last
                 wrote (after a failed SET, either the old or the new value: its outcome is unknown);
      "incr"     INCR key; successes and errors are counted per key, so the final counter can be
                 checked against them.
    Every operation's start time, latency and outcome is kept (`ops`), every error too (`errors`,
    the first 2000), and `mark(name)` timestamps events (kill, promotion...) so results can be read
    relative to them. Clients never retry: redis-py's own retries are switched off, so any error
    the endpoint gives or any connection it drops is seen. A thread stops on `stop()` or at its
    hard deadline (`max_seconds` after start), whichever comes first; each request is bounded by
    `request_timeout`, so stop() always returns.
    """

    MAX_ERRORS_KEPT = 2000

    def __init__(self, port: int, label: str, protocols=(None, None, 2, 2), keys_per_client: int = 64,
                 mode: str = "set-get", raw: bool = False, pause: float = 0.001,
                 request_timeout: float = 45.0, max_seconds: float = 300.0):
        assert mode in ("set-get", "incr"), mode
        self.port, self.label, self.mode, self.raw = port, label, mode, raw
        self.protocols = list(protocols)
        self.pause, self.request_timeout, self.max_seconds = pause, request_timeout, max_seconds
        self.keys = [[key_in_slot((i * SLOT_COUNT // keys_per_client + c * 37 + 11) % SLOT_COUNT,
                                  f":{label}:{c}:{i}") for i in range(keys_per_client)]
                     for c in range(len(self.protocols))]
        self.ops: list[tuple[int, str, float, float, bool]] = []   # client, op, start, latency, ok
        self.errors: list[LoadError] = []
        self.error_count = 0
        self.error_texts: dict[str, int] = {}   # every error, counted by "[kind] op: text"
        self.error_span: tuple[float, float] | None = None   # first and last error (monotonic)
        self.mismatches: list[str] = []
        self.events: list[tuple[str, float]] = []
        # set-get: key -> values the key may hold now; incr: key -> [successes, unknown outcomes, last]
        self.expected: dict[str, set] = {}
        self.counters: dict[str, list[int]] = {}
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self.started_at = 0.0
        self.stopped_at = 0.0

    # Control

    def start(self) -> "ClientLoad":
        self.started_at = time.monotonic()
        self.mark("start")
        for c in range(len(self.protocols)):
            t = threading.Thread(target=self._run, args=(c,), name=f"load-{self.label}-{c}", daemon=True)
            self._threads.append(t)
            t.start()
        return self

    def mark(self, name: str) -> float:
        now = time.monotonic()
        self.events.append((name, now))
        return now

    def elapsed(self) -> float:
        return time.monotonic() - self.started_at

    def stop(self) -> None:
        """Stops every client thread (bounded: each request has its own timeout)."""
        self._stop.set()
        for t in self._threads:
            t.join(self.request_timeout + 10)
        self.stopped_at = self.mark("stop")
        stuck = [t.name for t in self._threads if t.is_alive()]
        assert not stuck, f"load threads did not stop: {stuck}"

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        if not self._stop.is_set():
            self.stop()

    # Threads

    def _connect(self, c: int):
        protocol = self.protocols[c]
        if self.raw:
            return _RawLoadClient(self.port, protocol or 2, self.request_timeout)
        kwargs = {"protocol": protocol} if protocol is not None else {}
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=self.request_timeout,
                           socket_connect_timeout=5, retry=Retry(NoBackoff(), 0), **kwargs)

    def _run(self, c: int) -> None:
        client = self._connect(c)
        keys = self.keys[c]
        deadline = self.started_at + self.max_seconds
        i = 0
        try:
            while not self._stop.is_set() and time.monotonic() < deadline:
                key = keys[i % len(keys)]
                i += 1
                if self.mode == "set-get":
                    self._set_get(c, client, key, f"{self.label}:{c}:{i}".encode())
                else:
                    self._incr(c, client, key)
                if self.pause:
                    time.sleep(self.pause)
        finally:
            client.close()

    def _call(self, c: int, client, op: str, key: str, *args):
        """(True, reply) or (False, None) with the error recorded."""
        start = time.monotonic()
        kind, text = None, ""
        reply = None
        try:
            reply = client.command(op, key, *args) if self.raw else getattr(client, op.lower())(key, *args)
            if isinstance(reply, ErrorReply):
                kind, text = "reply", reply.text
            elif reply is NULL3:
                reply = None
        except redis.exceptions.TimeoutError as e:
            kind, text = "timeout", f"TimeoutError: {e}"
        except redis.exceptions.ConnectionError as e:
            kind, text = "connection", f"{type(e).__name__}: {e}"
        except redis.exceptions.ResponseError as e:
            # redis-py drops a leading "ERR " from the text; its class names other codes.
            kind, text = "reply", f"{type(e).__name__}: {e}"
        except (socket.timeout, TimeoutError) as e:
            kind, text = "timeout", f"timeout: {e}"
        except (OSError, ConnectionClosed) as e:
            kind, text = "connection", f"{type(e).__name__}: {e}"
        latency = time.monotonic() - start
        self.ops.append((c, op, start, latency, kind is None))
        if kind is not None:
            self._error(start, c, op, key, kind, text)
            if kind != "reply":
                time.sleep(0.05)  # a dropped connection: do not spin on reconnects
            return False, None
        return True, reply

    def _error(self, at: float, c: int, op: str, key: str, kind: str, text: str) -> None:
        summary = f"[{kind}] {op}: {text[:160]}"
        with self._lock:
            self.error_count += 1
            self.error_texts[summary] = self.error_texts.get(summary, 0) + 1
            self.error_span = (self.error_span[0] if self.error_span else at, at)
            if len(self.errors) < self.MAX_ERRORS_KEPT:
                self.errors.append(LoadError(at, c, op, key, kind, text))

    def _set_get(self, c: int, client, key: str, value: bytes) -> None:
        possible = self.expected.setdefault(key, {None})
        ok, reply = self._call(c, client, "SET", key, value)
        if ok and reply not in (True, b"OK"):
            self._error(time.monotonic(), c, "SET", key, "unexpected", f"SET replied {reply!r}")
            ok = False
        if ok:
            self.expected[key] = {value}
        else:
            possible.add(value)  # the SET may or may not have happened
        ok, reply = self._call(c, client, "GET", key)
        if not ok:
            return
        if reply not in self.expected[key]:
            with self._lock:
                self.mismatches.append(f"client {c} GET {key} = {reply!r}, expected one of "
                                       f"{sorted(map(repr, self.expected[key]))} "
                                       f"(at +{time.monotonic() - self.started_at:.2f}s)")
        self.expected[key] = {reply}

    def _incr(self, c: int, client, key: str) -> None:
        counter = self.counters.setdefault(key, [0, 0, 0])
        ok, reply = self._call(c, client, "INCR", key)
        if not ok:
            counter[1] += 1
            return
        if not isinstance(reply, int):
            self._error(time.monotonic(), c, "INCR", key, "unexpected", f"INCR replied {reply!r}")
            counter[1] += 1
            return
        counter[0] += 1
        if reply <= counter[2]:
            with self._lock:
                self.mismatches.append(f"client {c} INCR {key} = {reply} after {counter[2]} (went back)")
        counter[2] = reply

    # Results

    def all_keys(self) -> list[str]:
        return [k for keys in self.keys for k in keys]

    def event_time(self, name: str) -> float:
        return next(t for n, t in self.events if n == name)

    def successes_after(self, t: float) -> dict[int, int]:
        """Per client, the operations sent at or after `t` that succeeded."""
        out = {c: 0 for c in range(len(self.protocols))}
        for c, _, start, _, ok in self.ops:
            if ok and start >= t:
                out[c] += 1
        return out

    def max_latency(self) -> tuple[float, str, float]:
        """(seconds, op, start relative to the load's start) of the slowest operation."""
        if not self.ops:
            return (0.0, "-", 0.0)
        c, op, start, latency, _ = max(self.ops, key=lambda o: o[3])
        return (latency, op, start - self.started_at)

    def final_check(self, cluster: "Cluster") -> list[str]:
        """Each key's value read directly on the primary owning its slot (slot map asked afresh)
        against what the load wrote: the set-get values, or successes..successes+unknown for INCR."""
        cluster.forget_clients()
        keys = self.all_keys()
        values = cluster.get_many_direct(keys)
        wrong = []
        for k, v in zip(keys, values):
            if self.mode == "set-get":
                if v not in self.expected.get(k, {None}):
                    wrong.append(f"{k} = {v!r} on its owner, expected one of {sorted(map(repr, self.expected[k]))}")
            else:
                ok, unknown, _ = self.counters.get(k, [0, 0, 0])
                n = int(v or 0)
                if not ok <= n <= ok + unknown:
                    wrong.append(f"{k} = {n} on its owner, {ok} INCRs succeeded and {unknown} had errors")
        return wrong

    def summary(self) -> str:
        ok = sum(1 for o in self.ops if o[4])
        latencies = sorted(o[3] for o in self.ops)
        p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] if latencies else 0.0
        worst, op, at = self.max_latency()
        lines = [f"load {self.label}: {len(self.ops)} ops ({ok} ok) by {len(self.protocols)} clients "
                 f"in {((self.stopped_at or time.monotonic()) - self.started_at):.1f}s; "
                 f"{self.error_count} errors, {len(self.mismatches)} wrong values",
                 f"  latency p50 {p(0.5) * 1000:.1f} ms, p99 {p(0.99) * 1000:.1f} ms, "
                 f"max {worst * 1000:.0f} ms ({op} sent at +{at:.2f}s)",
                 "  events: " + ", ".join(f"{n} +{t - self.started_at:.2f}s" for n, t in self.events)]
        for name, t in self.events:
            if name not in ("start", "stop"):
                after = self.successes_after(t)
                lines.append(f"  ok ops sent after {name}: {sum(after.values())} (per client {list(after.values())})")
        for text, n in sorted(self.error_texts.items(), key=lambda x: -x[1])[:10]:
            lines.append(f"  {n} x {text}")
        if self.error_span:
            first, last = (t - self.started_at for t in self.error_span)
            lines.append(f"  errors sent from +{first:.2f}s to +{last:.2f}s")
        lines += [f"  {m}" for m in self.mismatches[:10]]
        return "\n".join(lines)


def migrate_slot(cluster: "Cluster", slot: int, source: int, target: int, pause: float = 0.0) -> None:
    """Moves one slot, keys and all, as redis-cli --cluster does (IMPORTING/MIGRATING, MIGRATE,
    SETSLOT NODE on every primary). `pause` seconds after each batch of keys lets a load meet
    the slot half-migrated (ASK)."""
    src, dst = cluster.node(source), cluster.node(target)
    src_id, dst_id = cluster.node_id(source), cluster.node_id(target)
    dst.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", src_id)
    src.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", dst_id)
    while True:
        keys = src.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 100)
        if not keys:
            break
        src.execute_command("MIGRATE", "127.0.0.1", target, "", 0, 5000, "KEYS", *keys)
        time.sleep(pause)
    dst.execute_command("CLUSTER", "SETSLOT", slot, "NODE", dst_id)
    src.execute_command("CLUSTER", "SETSLOT", slot, "NODE", dst_id)
    for port in cluster.primaries():
        if port not in (source, target):
            cluster.node(port).execute_command("CLUSTER", "SETSLOT", slot, "NODE", dst_id)
