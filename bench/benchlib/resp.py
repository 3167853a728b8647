# A minimal blocking RESP2 client for bench/run's cold paths: setup, readiness and preflight
# checks, INFO, and the memory test's 1000 connections. redis-benchmark does the measuring.
import socket

from .common import BenchError


class Resp:
    """A minimal blocking RESP2 client for setup, checks and the memory test."""

    def __init__(self, port, timeout=5.0, unix_path=None):
        if unix_path is not None:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(timeout)
            self.sock.connect(unix_path)
        else:
            self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def close(self):
        self.sock.close()

    def send(self, *args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            b = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(b), b))
        self.sock.sendall(b"".join(out))

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise BenchError("connection closed by peer")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise BenchError("connection closed by peer")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def reply(self):
        line = self._line()
        t, rest = line[:1], line[1:]
        if t == b"+":
            return rest.decode()
        if t == b"-":
            return RespError(rest.decode())
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n)
        if t == b"*":
            n = int(rest)
            return None if n < 0 else [self.reply() for _ in range(n)]
        raise BenchError(f"unexpected RESP reply {line[:40]!r}")

    def call(self, *args):
        self.send(*args)
        return self.reply()


class RespError(str):
    pass


def call(port, *args, timeout=5.0, unix_path=None):
    c = Resp(port, timeout, unix_path)
    try:
        return c.call(*args)
    finally:
        c.close()
