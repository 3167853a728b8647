# The private cluster bench/run measures against: free-port selection, scripts/cluster start/stop,
# the slot -> primary map from CLUSTER SLOTS, and key preloading with redis-cli --pipe (slots
# computed here with Redis Cluster's CRC16).
import os
import random
import socket
import subprocess

from .common import CLUSTER_SCRIPT, VALUE, BenchError, log
from .processes import server_pid
from .resp import call


def _crc16_table():
    table = []
    for i in range(256):
        crc = i << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
        table.append(crc & 0xFFFF)
    return table


CRC16_TABLE = _crc16_table()


def key_slot(key: bytes) -> int:
    """Redis Cluster's slot of a key: CRC16/XMODEM of the hash tag (or the key) mod 16384."""
    s = key.find(b"{")
    if s >= 0:
        e = key.find(b"}", s + 1)
        if e > s + 1:
            key = key[s + 1:e]
    crc = 0
    for b in key:
        crc = ((crc << 8) & 0xFFFF) ^ CRC16_TABLE[((crc >> 8) ^ b) & 0xFF]
    return crc % 16384


def port_free(port):
    for fam, addr in ((socket.AF_INET, "127.0.0.1"),):
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((addr, port))
        except OSError:
            return False
        finally:
            s.close()
    return True


def pick_base(fixed=None):
    """A cluster base port in 31000-33000 with BASE..BASE+7 and their +10000 bus ports free
    (BASE+7 is the proxy's port)."""
    def ok(b):
        return all(port_free(b + i) and port_free(b + i + 10000) for i in range(8))
    if fixed is not None:
        if not ok(fixed):
            raise BenchError(f"--base {fixed}: some of ports {fixed}..{fixed + 7} (or +10000) are in use")
        return fixed
    # Node and proxy ports stay below the kernel's ephemeral range (32768+ here), where an
    # outgoing connection could take them; the bus ports (+10000) cannot, hence the retries.
    candidates = list(range(31000, 32760 - 8, 10))
    random.shuffle(candidates)
    for b in candidates:
        if ok(b):
            return b
    raise BenchError("no free port range in 31000-33000")


class Cluster:
    def __init__(self, base, workdir):
        self.base = base
        self.dir = os.path.join(workdir, "cluster")
        self.started = False
        self.primaries = []      # ports
        self.slot_owner = []     # slot -> port
        self.node_pids = []      # every node's process, for the CPU they spend per request

    def start(self):
        log(f"starting a 3+3 cluster on ports {self.base}..{self.base + 5}")
        self.started = True   # from here on, stop() must run (the script cleans up a failed start itself)
        # Own session: a Ctrl-C in the terminal must not reach the nodes; stop() ends them by PID.
        r = subprocess.run([CLUSTER_SCRIPT, "start", "--port", str(self.base), "--dir", self.dir],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=180,
                           start_new_session=True)
        if r.returncode != 0:
            raise BenchError(f"scripts/cluster start failed:\n{r.stderr[-2000:]}")
        self.load_slots()
        self.node_pids = self.read_node_pids()

    def read_node_pids(self):
        pids = (server_pid(port) for port in range(self.base, self.base + 6))
        return [pid for pid in pids if pid is not None]

    def load_slots(self):
        owner = [0] * 16384
        primaries = set()
        for entry in call(self.base, "CLUSTER", "SLOTS"):
            start, end, primary = entry[0], entry[1], entry[2]
            port = primary[1]
            primaries.add(port)
            for s in range(start, end + 1):
                owner[s] = port
        self.slot_owner = owner
        self.primaries = sorted(primaries)

    def stop(self):
        if not self.started:
            return
        self.started = False
        r = subprocess.run([CLUSTER_SCRIPT, "stop", "--port", str(self.base), "--dir", self.dir],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=120)
        if r.returncode != 0:
            log(f"scripts/cluster stop failed: {r.stderr[-500:]}")

    def flushall(self):
        for p in self.primaries:
            call(p, "FLUSHALL", "SYNC", timeout=60)

    def pipe_sets(self, keys):
        """SET every key (value VALUE) on its owning primary via redis-cli --pipe."""
        per_node = {p: [] for p in self.primaries}
        v = VALUE.encode()
        for k in keys:
            per_node[self.slot_owner[key_slot(k)]].append(
                b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(k), k, len(v), v))
        for port, cmds in per_node.items():
            if not cmds:
                continue
            r = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(port), "--pipe"],
                               input=b"".join(cmds), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               timeout=120)
            if r.returncode != 0 or b"errors: 0" not in r.stdout:
                raise BenchError(f"preload on {port} failed: {r.stdout[-300:]!r} {r.stderr[-300:]!r}")
