# The proxy process bench/run starts (and the readiness checks every proxy must pass), plus the
# /proc readers for its CPU time and RSS.
import os
import re
import signal
import subprocess
import time

from .common import BenchError, log
from .resp import call


def proc_cpu_times(pid):
    """(utime, stime) of a process in seconds, or None when it cannot be read."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except OSError:
        return None
    fields = data[data.rindex(")") + 2:].split()
    # fields[0] is field 3 (state); utime is field 14, stime field 15, in clock ticks.
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def proc_cpu_seconds(pid):
    """utime+stime of a process in seconds, or None when it cannot be read."""
    t = proc_cpu_times(pid)
    return None if t is None else t[0] + t[1]


def server_pid(port, unix_path=None):
    """The process_id a Redis-speaking server on 127.0.0.1:PORT (or on the Unix socket
    unix_path) reports in INFO server, or None."""
    info = call(port, "INFO", "server", unix_path=unix_path)
    m = re.search(rb"process_id:(\d+)", info if isinstance(info, bytes) else b"")
    return int(m.group(1)) if m else None


def proc_rss_bytes(pid):
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return None


class ProxyProcess:
    def __init__(self, binary, port, seeds, threads, workdir):
        self.binary, self.port, self.seeds, self.threads = binary, port, seeds, threads
        # Its unixsocket, for the `unix` target (the workdir is short: sun_path holds 107 bytes).
        self.unix_path = os.path.join(workdir, "proxy.sock")
        self.log_path = os.path.join(workdir, "proxy.log")
        self.proc = None

    def start(self):
        argv = [self.binary, "--port", str(self.port), "--seeds", self.seeds, "--loglevel", "warning",
                "--unixsocket", self.unix_path]
        if self.threads is not None:
            argv += ["--threads", str(self.threads)]
        log("starting proxy: " + " ".join(argv))
        self.logf = open(self.log_path, "wb")
        # Own session: a Ctrl-C reaches us, and we stop the proxy ourselves (by PID) in order.
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.logf,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        self.wait_ready()

    @property
    def pid(self):
        return self.proc.pid

    def log_tail(self, n=20):
        try:
            with open(self.log_path, "rb") as f:
                return b"\n".join(f.read().splitlines()[-n:]).decode(errors="replace")
        except OSError:
            return ""

    def wait_ready(self):
        deadline = time.monotonic() + 20
        while True:
            if self.proc.poll() is not None:
                raise BenchError(f"proxy exited with status {self.proc.returncode}:\n{self.log_tail()}")
            try:
                if call(self.port, "PING", timeout=1) == "PONG":
                    break
            except (OSError, BenchError):
                pass
            if time.monotonic() > deadline:
                raise BenchError(f"proxy does not answer PING on {self.port}:\n{self.log_tail()}")
            time.sleep(0.1)
        pid = server_pid(self.port)
        if pid != self.proc.pid:
            raise BenchError(f"the process answering on {self.port} is not our proxy "
                             f"(INFO server process_id {pid if pid else '?'}, ours {self.proc.pid})")
        wait_cluster_ready(self.port, "proxy", self.proc)
        pid = server_pid(None, self.unix_path)
        if pid != self.proc.pid:
            raise BenchError(f"the process answering on {self.unix_path} is not our proxy "
                             f"(INFO server process_id {pid if pid else '?'}, ours {self.proc.pid})")

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            log(f"proxy PID {self.proc.pid} did not exit after TERM: KILL")
            self.proc.kill()
            self.proc.wait(10)
        self.logf.close()


def wait_cluster_ready(port, name, proc=None, timeout=30):
    """Wait until a SET through the endpoint succeeds (proxies answer -CLUSTERDOWN until their
    slot map is complete)."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise BenchError(f"{name} exited with status {proc.returncode}")
        try:
            last = call(port, "SET", "bench:ready", "1", timeout=2)
            if last == "OK":
                return
        except (OSError, BenchError) as e:
            last = str(e)
        time.sleep(0.2)
    raise BenchError(f"{name} on {port}: SET never succeeded within {timeout}s (last reply: {last})")
