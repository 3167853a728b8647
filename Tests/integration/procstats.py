"""What a running proxy holds, read from /proc and INFO: for the hardening tests and bench/soak.

  fd_count(pid)              open file descriptors (/proc/PID/fd)
  rss_bytes(pid)             resident memory (VmRSS of /proc/PID/status)
  cpu_seconds(pid)           user + system CPU time so far (/proc/PID/stat)
  info_clients(port)         INFO clients as name -> int, asked on a fresh connection (which
                             counts itself: connected_clients includes the asker)
  Footprint.of(pid, port)    the three numbers above at one moment (connected_clients without
                             the asker); Footprint.baseline: the least of a few samples
  wait_back_to(proxy, base)  polls (bounded) until descriptors and clients are back at or below
                             a baseline and RSS is within a generous slack of it; AssertionError
                             with every sample's numbers otherwise. No timing is asserted: the
                             deadline only bounds the wait.
Standard library only, so bench/soak can import it without redis-py.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for {pid}")


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        # Fields after the command name (which may hold spaces): utime is the 14th field.
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def info_clients(port: int, timeout: float = 10.0) -> dict[str, int]:
    """INFO clients of the endpoint on 127.0.0.1:port, numeric fields only."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(b"*2\r\n$4\r\nINFO\r\n$7\r\nclients\r\n")
        data = b""
        while True:
            header_end = data.find(b"\r\n")
            if header_end > 0:
                if data[:1] != b"$":
                    raise AssertionError(f"INFO clients replied {data[:200]!r}")
                length = int(data[1:header_end])
                if len(data) >= header_end + 2 + length + 2:
                    text = data[header_end + 2: header_end + 2 + length].decode(errors="replace")
                    break
            chunk = s.recv(65536)
            if not chunk:
                raise AssertionError("connection closed before INFO clients was answered")
            data += chunk
    out = {}
    for line in text.splitlines():
        if ":" in line and not line.startswith("#"):
            name, value = line.split(":", 1)
            try:
                out[name] = int(value)
            except ValueError:
                pass
    return out


def socket_count(pid: int) -> int:
    """Open sockets only: a sanitizer runtime opens pipes of its own (to its symbolizer)."""
    n = 0
    for name in os.listdir(f"/proc/{pid}/fd"):
        try:
            n += os.readlink(f"/proc/{pid}/fd/{name}").startswith("socket:")
        except OSError:
            pass
    return n


@dataclass
class Footprint:
    fds: int
    clients: int
    rss: int
    sockets: int = 0

    @classmethod
    def of(cls, pid: int, port: int) -> "Footprint":
        # Descriptors first: the asking connection is not open yet (an earlier one may linger a
        # moment, which polling absorbs).
        fds, sockets, rss = fd_count(pid), socket_count(pid), rss_bytes(pid)
        clients = info_clients(port)["connected_clients"] - 1  # without the asking connection
        return cls(fds, clients, rss, sockets)

    @classmethod
    def baseline(cls, pid: int, port: int, timeout: float = 20.0) -> "Footprint":
        """The footprint once descriptors and clients read the same 4 times in a row, 0.25 s apart
        (connections still opening or closing settle first); RSS is the last sample's."""
        deadline = time.monotonic() + timeout
        taken = [cls.of(pid, port)]
        while time.monotonic() < deadline:
            time.sleep(0.25)
            taken.append(cls.of(pid, port))
            last = taken[-4:]
            if len(last) == 4 and len({(t.fds, t.sockets, t.clients) for t in last}) == 1:
                return last[-1]
        raise AssertionError("the proxy's descriptors never settled: " + "; ".join(map(str, taken[-8:])))

    def __str__(self) -> str:
        return f"fds {self.fds}, clients {self.clients}, RSS {self.rss / 1048576:.1f} MB"


def wait_back_to(pid: int, port: int, base: Footprint, rss_slack: int, timeout: float = 60.0,
                 sockets_only: bool = False) -> Footprint:
    """Polls until fds <= base.fds (sockets only: sockets <= base.sockets, for a sanitizer build
    whose runtime opens pipes of its own), clients <= base.clients and rss <= base.rss + rss_slack."""
    deadline = time.monotonic() + timeout
    samples: list[Footprint] = []
    while True:
        now = Footprint.of(pid, port)
        samples.append(now)
        descriptors_back = now.sockets <= base.sockets if sockets_only else now.fds <= base.fds
        if descriptors_back and now.clients <= base.clients and now.rss <= base.rss + rss_slack:
            return now
        if time.monotonic() >= deadline:
            raise AssertionError(
                f"the proxy did not return to its baseline ({base}; RSS slack {rss_slack / 1048576:.0f} MB) "
                f"within {timeout}s; last samples: " + "; ".join(str(s) for s in samples[-5:])
                + f"; open descriptors now: {describe_fds(pid)}")
        time.sleep(0.25)


_TCP_STATES = {"01": "ESTABLISHED", "02": "SYN_SENT", "06": "TIME_WAIT", "07": "CLOSE", "08": "CLOSE_WAIT",
               "0A": "LISTEN", "04": "FIN_WAIT1", "05": "FIN_WAIT2", "09": "LAST_ACK", "0B": "CLOSING"}


def _tcp_sockets(pid: int) -> dict[str, str]:
    """socket inode -> "local->remote STATE" for the process's TCP sockets (IPv4 and IPv6)."""
    out = {}
    for table in ("tcp", "tcp6"):
        try:
            with open(f"/proc/{pid}/net/{table}") as f:
                next(f)
                for line in f:
                    fields = line.split()
                    local, remote, state, inode = fields[1], fields[2], fields[3], fields[9]
                    port = lambda a: int(a.rsplit(":", 1)[1], 16)  # noqa: E731
                    out[inode] = f":{port(local)}->:{port(remote)} {_TCP_STATES.get(state, state)}"
        except OSError:
            pass
    return out


def describe_fds(pid: int) -> str:
    """What the descriptors point at, counted; TCP sockets by local/remote port and state."""
    kinds: dict[str, int] = {}
    tcp = None
    for name in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{name}")
        except OSError:
            continue
        if target.startswith("socket:["):
            tcp = tcp if tcp is not None else _tcp_sockets(pid)
            target = "socket " + tcp.get(target[8:-1], "(not TCP)")
        kinds[target] = kinds.get(target, 0) + 1
    return ", ".join(f"{n} x {k}" for k, n in sorted(kinds.items(), key=lambda x: -x[1]))
