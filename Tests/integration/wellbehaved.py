"""A well-behaved client running beside a misbehaving one, and the standalone Redis the limit tests
compare against.

  WellBehavedClient   a thread on its own RawConnection doing SET / GET / MGET over keys in every
                      slot range (so every shard is used), checking each reply against the values it
                      wrote, for as long as a test runs; `stop()` returns its record and the test
                      asserts it saw no error, no closed connection and no wrong value;
  StandaloneRedis     a plain redis-server of one test (no cluster) with given directives, started
                      on a free port and stopped by PID: the reference for what Redis does at a
                      limit (maxclients, query / output buffer, timeout).
Every socket call is bounded by a timeout, so a broken proxy fails a test instead of hanging it.
"""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

from support import ConnectionClosed, ErrorReply, RawConnection, free_port, key_in_slot, wait_for


class WellBehavedClient:
    """SET k v, GET k == v, and every few rounds MGET over keys of several shards == their values."""

    def __init__(self, port: int, label: str, keys: int = 24, pause: float = 0.002,
                 max_seconds: float = 600.0, slots: list[int] | None = None):
        """slots: the slots to use (default: spread over all of them)."""
        self.port, self.pause, self.max_seconds = port, pause, max_seconds
        slots = slots or list(range(16384))
        self.keys = [key_in_slot(slots[(i * len(slots) // keys + 101) % len(slots)], f":good:{label}:{i}")
                     for i in range(keys)]
        self.values: dict[str, bytes] = {}
        self.ops = 0
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"good-{label}", daemon=True)

    def __enter__(self) -> "WellBehavedClient":
        self._thread.start()
        # Started means serving: the test's offence begins only once good traffic flows.
        wait_for(lambda: self.ops >= 5 or self.errors, 30, "the well-behaved client's first replies")
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(60)
        assert not self._thread.is_alive(), "the well-behaved client did not stop"

    def check(self, at_least: int = 10) -> None:
        """Asserts a clean record: no error, no wrong reply, and some work done."""
        self.stop()
        assert not self.errors, f"the well-behaved client saw {len(self.errors)} problems: {self.errors[:5]}"
        assert self.ops >= at_least, f"the well-behaved client did only {self.ops} operations"

    def _expect(self, what: str, reply, expected) -> None:
        if reply != expected:
            self.errors.append(f"{what}: got {reply!r}, expected {expected!r}")

    def _run(self) -> None:
        deadline = time.monotonic() + self.max_seconds
        conn = None
        n = 0
        try:
            conn = RawConnection(self.port, timeout=20)
            while not self._stop.is_set() and time.monotonic() < deadline and not self.errors:
                key = self.keys[n % len(self.keys)]
                value = f"v{n}-{key}".encode() * (1 + n % 5)
                self._expect(f"SET {key}", conn.command("SET", key, value), b"OK")
                self.values[key] = value
                self._expect(f"GET {key}", conn.command("GET", key), value)
                if n % 4 == 3:
                    # A cross-slot MGET: split over the shards and merged back in key order.
                    some = self.keys[n % 7 :: 5]
                    self._expect("MGET", conn.command("MGET", *some), [self.values.get(k) for k in some])
                self.ops += 1
                n += 1
                if self.pause:
                    time.sleep(self.pause)
        except (OSError, ConnectionClosed, AssertionError) as e:
            self.errors.append(f"{type(e).__name__}: {e}")
        finally:
            if conn is not None:
                conn.close()


class StandaloneRedis:
    """redis-server on a free port with the given directives, stopped by its PID."""

    def __init__(self, directory: Path, *directives: str):
        self.port = free_port()
        self.dir = directory / f"redis-{self.port}"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                     "--appendonly", "no", "--dir", str(self.dir), "--daemonize", "no", *directives]
        self.process: subprocess.Popen | None = None

    def start(self) -> "StandaloneRedis":
        log = open(self.dir / "redis.log", "wb")
        self.process = subprocess.Popen(self.args, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        log.close()

        def pong():
            with RawConnection(self.port, timeout=2) as c:
                return c.command("PING") == b"PONG"
        wait_for(pong, 20, f"redis-server on {self.port}")
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def is_error(reply, text: str) -> bool:
    return isinstance(reply, ErrorReply) and reply.text == text
