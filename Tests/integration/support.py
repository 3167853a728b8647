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
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis

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
    """A plain TCP connection: write exact bytes, read exact bytes or whole RESP replies."""

    def __init__(self, port: int, host: str = "127.0.0.1", timeout: float = IO_TIMEOUT):
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
        """Port of the primary owning each slot, from CLUSTER SLOTS asked of the first node."""
        if self._owner is None or refresh:
            with RawConnection(self.ports[0]) as conn:
                reply = conn.command("CLUSTER", "SLOTS")
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


# MARK: - Proxy


def proxy_binary() -> Path:
    return Path(os.environ.get("SLOTPROXY_BIN", REPO / ".build" / "release" / "slotproxy"))


class ProxyStartError(Exception):
    pass


class ProxyProcess:
    """One slotproxy process on its own port, stopped by its PID."""

    def __init__(self, seeds: str, port: int | None = None, extra_args: list[str] | None = None,
                 run_dir: Path | None = None, threads: int = 2):
        self.port = port or free_port()
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

    def start(self, ready_timeout: float = 30.0) -> "ProxyProcess":
        binary = proxy_binary()
        if not binary.exists():
            raise ProxyStartError(f"proxy binary {binary} not found: build it with "
                                  "`swift build -c release` or set SLOTPROXY_BIN")
        if not port_is_free(self.port):
            raise ProxyStartError(f"port {self.port} is already in use")
        log = open(self.log_path, "wb")
        self.process = subprocess.Popen(self.args, stdin=subprocess.DEVNULL, stdout=log,
                                        stderr=subprocess.STDOUT)
        log.close()
        self.pid_path.write_text(str(self.process.pid))
        try:
            self._wait_ready(ready_timeout)
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

    def _wait_ready(self, timeout: float) -> None:
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
                            stage = "SET"
                    if stage == "SET":
                        reply = conn.command("SET", "slotproxy-test:ready", "1")
                        last = repr(reply)
                        if reply == b"OK":
                            info = conn.command("INFO", "server")
                            pid = _info_field(info, "process_id")
                            if pid != str(self.process.pid):
                                self._fail(f"INFO server process_id is {pid!r}, but the proxy "
                                           f"started has PID {self.process.pid}")
                            return
            except (OSError, ConnectionClosed, ValueError):
                pass
            time.sleep(0.05)
        self._fail(f"proxy not ready after {timeout}s (waiting for {stage}; last reply {last})")

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
