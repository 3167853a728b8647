"""Malformed requests: what the offending client receives, checked against a real Redis node where
Redis has an answer, while a well-behaved client (SET / GET / MGET with checked values) runs through
the proxy the whole time and must see nothing but correct replies.

  protocol errors   every kind of malformed multibulk and inline request ([proxy] and [redis]):
                    the exact error text, then the connection closed, as Redis does;
  limits            the proxy's configurable protocol limits (proto-max-multibulk-len,
                    proto-max-bulk-len, proto-inline-max-size) at and just past the limit;
  random input      seeded random bytes and a few thousand randomly mutated valid frames: the proxy
                    stays up, answers only well-formed replies, and a fresh client is served.
"""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor

import pytest

from support import ConnectionClosed, ErrorReply, RawConnection, SimpleString, encode_command
from wellbehaved import WellBehavedClient

INVALID_MULTIBULK = "ERR Protocol error: invalid multibulk length"
INVALID_BULK = "ERR Protocol error: invalid bulk length"
TOO_BIG_INLINE = "ERR Protocol error: too big inline request"


def err(text: str | bytes):
    return ("-", text.encode() if isinstance(text, str) else text)


PONG = ("+", b"PONG")

# name: (bytes sent, replies expected in order, closed afterwards). Each is what Redis 7.0 answers.
CASES = {
    "multibulk-count-not-a-number": (b"*abc\r\n", [err(INVALID_MULTIBULK)], True),
    "multibulk-count-with-plus": (b"*+1\r\n$4\r\nPING\r\n", [err(INVALID_MULTIBULK)], True),
    "multibulk-count-empty": (b"*\r\n", [err(INVALID_MULTIBULK)], True),
    "multibulk-count-past-int32": (b"*2147483648\r\n", [err(INVALID_MULTIBULK)], True),
    "multibulk-count-overflows-int64": (b"*99999999999999999999999\r\n", [err(INVALID_MULTIBULK)], True),
    # A count of zero or less is no command at all: skipped, and the connection goes on.
    "multibulk-count-negative": (b"*-5\r\nPING\r\n", [PONG], False),
    "multibulk-count-zero": (b"*0\r\nPING\r\n", [PONG], False),
    "bulk-length-past-proto-max-bulk-len": (b"*1\r\n$536870913\r\n", [err(INVALID_BULK)], True),
    "bulk-length-minus-one": (b"*1\r\n$-1\r\n", [err(INVALID_BULK)], True),
    "bulk-length-negative": (b"*2\r\n$4\r\nECHO\r\n$-5\r\n", [err(INVALID_BULK)], True),
    "bulk-length-not-a-number": (b"*1\r\n$abc\r\n", [err(INVALID_BULK)], True),
    "bulk-length-with-plus": (b"*1\r\n$+4\r\nPING\r\n", [err(INVALID_BULK)], True),
    "bulk-length-with-space": (b"*1\r\n$ 4\r\nPING\r\n", [err(INVALID_BULK)], True),
    "bulk-length-empty": (b"*1\r\n$\r\n", [err(INVALID_BULK)], True),
    "plus-where-dollar-expected": (b"*1\r\n+PING\r\n", [err("ERR Protocol error: expected '$', got '+'")], True),
    "colon-where-dollar-expected": (b"*2\r\n$4\r\nECHO\r\n:1\r\n", [err("ERR Protocol error: expected '$', got ':'")], True),
    "empty-line-where-dollar-expected": (b"*1\r\n\r\n", [err("ERR Protocol error: expected '$', got ' '")], True),
    "high-byte-where-dollar-expected": (b"*1\r\n\xff\r\n", [err(b"ERR Protocol error: expected '$', got '\xff'")], True),
    "unbalanced-double-quote": (b'SET "a b\r\n', [err("ERR Protocol error: unbalanced quotes in request")], True),
    "unbalanced-single-quote": (b"SET 'a b\r\n", [err("ERR Protocol error: unbalanced quotes in request")], True),
    "closing-quote-not-followed-by-space": (b'PING "a"b\r\n', [err("ERR Protocol error: unbalanced quotes in request")], True),
    "inline-past-64kb-without-newline": (b"a" * 70000, [err(TOO_BIG_INLINE)], True),
    "multibulk-count-line-past-64kb": (b"*" + b"1" * 70000, [err("ERR Protocol error: too big mbulk count string")], True),
    "bulk-length-line-past-64kb": (b"*1\r\n$" + b"1" * 70000, [err("ERR Protocol error: too big bulk count string")], True),
    "valid-request-then-bad-count": (b"*1\r\n$4\r\nPING\r\n*abc\r\n", [PONG, err(INVALID_MULTIBULK)], True),
    "inline-request-then-bad-header": (b"PING\r\n*1\r\n+x\r\n", [PONG, err("ERR Protocol error: expected '$', got '+'")], True),
}


def kind_of(reply) -> tuple[str, object]:
    if isinstance(reply, ErrorReply):
        return ("-", bytes(reply))
    if isinstance(reply, SimpleString):
        return ("+", bytes(reply))
    return ("?", reply)


def send_and_read(conn: RawConnection, data: bytes, count: int) -> list:
    try:
        conn.send(data)
    except OSError:
        pass  # closed while sending (a too-long line): what was answered is still readable
    return [kind_of(conn.read_reply()) for _ in range(count)]


@pytest.fixture
def good(request, target):
    """The well-behaved client beside a [proxy] case (None for [redis]); the test checks it."""
    if target.name != "proxy":
        yield None
        return
    client = WellBehavedClient(target.port, f"bad-input-{request.node.name}")
    with client:
        yield client


@pytest.mark.parametrize("case", list(CASES))
def test_malformed_request_gets_redis_error_and_close(case, target, raw, good):
    data, expected, closed = CASES[case]
    conn = raw()
    assert send_and_read(conn, data, len(expected)) == expected
    if closed:
        assert conn.is_closed_by_peer(wait=10), "the connection stayed open after a protocol error"
    else:
        assert kind_of(conn.command("PING")) == PONG
    if good is not None:
        good.check()


# MARK: - The proxy's own limits


def test_multibulk_count_past_the_default_limit(proxy, raw_proxy):
    """proto-max-multibulk-len defaults to 1048576, Redis 6's built-in limit (Redis 7 accepts up to
    2^31-1, so there is no Redis reference here)."""
    with WellBehavedClient(proxy.port, "mbulk-default") as good:
        conn = raw_proxy(proxy.port)
        assert send_and_read(conn, b"*1048577\r\n", 1) == [err(INVALID_MULTIBULK)]
        assert conn.is_closed_by_peer(wait=10)
        conn = raw_proxy(proxy.port)
        assert send_and_read(conn, b"*1048576\r\n$4\r\nPING\r\n", 0) == []
        assert conn.read_all_available(0.3) == b"", "a count at the limit was refused"
        good.check()


def test_inline_line_past_the_limit_is_refused_even_when_complete(proxy, raw_proxy):
    """A whole inline line longer than proto-inline-max-size (its newline included) is refused, not
    only one still waiting for its newline (Redis's answer there depends on how the line was split
    into reads)."""
    with WellBehavedClient(proxy.port, "inline-complete") as good:
        conn = raw_proxy(proxy.port)
        assert send_and_read(conn, b"ECHO " + b"a" * 70000 + b"\r\n", 1) == [err(TOO_BIG_INLINE)]
        assert conn.is_closed_by_peer(wait=10)
        conn = raw_proxy(proxy.port)
        assert conn.command("ECHO", "x") == b"x"
        good.check()


@pytest.fixture
def small_limits_proxy(start_proxy):
    return start_proxy(["--proto-max-multibulk-len", "8", "--proto-max-bulk-len", "1mb",
                        "--proto-inline-max-size", "1kb"])


@pytest.fixture
def raw_proxy():
    opened: list[RawConnection] = []

    def open_connection(port: int) -> RawConnection:
        conn = RawConnection(port)
        opened.append(conn)
        return conn

    yield open_connection
    for conn in opened:
        conn.close()


def test_configured_multibulk_limit(small_limits_proxy, raw_proxy, run_id):
    port = small_limits_proxy.port
    with WellBehavedClient(port, "mbulk-limit") as good:
        conn = raw_proxy(port)
        keys = [f"mbulk:{run_id}:{i}" for i in range(7)]
        assert conn.command("EXISTS", *keys) == 0  # 8 arguments: at the limit
        assert send_and_read(conn, encode_command("EXISTS", *keys, "one-more"), 1) == [err(INVALID_MULTIBULK)]
        assert conn.is_closed_by_peer(wait=10)
        good.check()


def test_configured_bulk_limit(small_limits_proxy, raw_proxy, run_id):
    port = small_limits_proxy.port
    with WellBehavedClient(port, "bulk-limit") as good:
        conn = raw_proxy(port)
        key = f"bulk:{run_id}"
        value = b"x" * (1 << 20)
        assert conn.command("SET", key, value) == b"OK"  # exactly proto-max-bulk-len
        assert conn.command("STRLEN", key) == 1 << 20
        assert send_and_read(conn, encode_command("SET", key, value + b"x"), 1) == [err(INVALID_BULK)]
        assert conn.is_closed_by_peer(wait=10)
        good.check()


def test_configured_inline_limit(small_limits_proxy, raw_proxy):
    port = small_limits_proxy.port
    with WellBehavedClient(port, "inline-limit") as good:
        conn = raw_proxy(port)
        conn.send(b"ECHO " + b"a" * 1000 + b"\r\n")
        assert conn.read_reply() == b"a" * 1000
        assert send_and_read(conn, b"ECHO " + b"a" * 1100 + b"\r\n", 1) == [err(TOO_BIG_INLINE)]
        assert conn.is_closed_by_peer(wait=10)
        conn = raw_proxy(port)
        assert send_and_read(conn, b"*1\r\n$" + b"1" * 1100, 1) == [err("ERR Protocol error: too big bulk count string")]
        assert conn.is_closed_by_peer(wait=10)
        good.check()


# MARK: - Random input


def parse_replies(data: bytes) -> int:
    """How many complete RESP replies `data` holds; AssertionError on a malformed one (a truncated
    last reply is allowed: the connection may be cut mid-way by the test)."""
    pos = 0
    count = 0

    def line(p: int) -> tuple[bytes, int]:
        end = data.find(b"\r\n", p)
        if end < 0:
            raise EOFError
        return data[p:end], end + 2

    def value(p: int) -> int:
        head, p = line(p)
        kind, rest = head[:1], head[1:]
        if kind in (b"+", b"-"):
            return p
        if kind == b":":
            int(rest)
            return p
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return p
            if len(data) < p + n + 2:
                raise EOFError
            assert data[p + n : p + n + 2] == b"\r\n", f"bulk of {n} bytes not followed by CRLF"
            return p + n + 2
        if kind == b"*":
            n = int(rest)
            for _ in range(max(n, 0)):
                p = value(p)
            return p
        raise AssertionError(f"not a RESP2 reply at byte {p}: {head[:60]!r}")

    while pos < len(data):
        try:
            pos = value(pos)
        except EOFError:
            break
        count += 1
    return count


def throw_at(port: int, payload: bytes, wait: float = 0.25) -> bytes:
    """Sends `payload` on a fresh connection and returns what came back within `wait` seconds
    after it (the connection may be closed by the proxy, or left waiting for more bytes)."""
    try:
        with RawConnection(port, timeout=10) as conn:
            try:
                conn.send(payload)
            except OSError:
                pass
            try:
                return conn.read_all_available(wait)
            except OSError:
                return b""
    except (OSError, ConnectionClosed):
        return b""


def mutate(rng: random.Random, frame: bytes) -> bytes:
    b = bytearray(frame)
    for _ in range(rng.randint(1, 3)):
        op = rng.randrange(8)
        i = rng.randrange(len(b)) if b else 0
        if op == 0 and b:                       # a random byte
            b[i] = rng.randrange(256)
        elif op == 1:                           # a length digit changed (or made non-numeric)
            digits = [j for j, c in enumerate(b) if 0x30 <= c <= 0x39]
            if digits:
                b[rng.choice(digits)] = rng.choice(b"0123456789-+x ")
        elif op == 2 and b:                     # a span deleted
            del b[i : i + rng.randint(1, 8)]
        elif op == 3:                           # random bytes inserted
            b[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 6)))
        elif op == 4 and b:                     # a span repeated
            span = b[i : i + rng.randint(1, 16)]
            b[i:i] = span
        elif op == 5 and b:                     # cut short
            del b[i:]
        elif op == 6:                           # one type byte replaced by another
            marks = [j for j, c in enumerate(b) if c in b"*$"]
            if marks:
                b[rng.choice(marks)] = rng.choice(b"*$+-:_#%~>")
        else:                                   # CRLF reduced to LF
            j = b.find(b"\r\n", i)
            if j >= 0:
                del b[j]
    return bytes(b)


def valid_frame(rng: random.Random, run_id: str) -> bytes:
    # Keys and values in hex only, so no mutation can spell a command that would touch anything
    # outside this test's own keys (no FLUSHALL, no CLIENT KILL).
    key = f"fuzz:{run_id}:{rng.randrange(1 << 16):x}"
    value = "%x" % rng.randrange(1 << rng.randint(4, 120))
    choice = rng.randrange(7)
    if choice == 0:
        return encode_command("SET", key, value)
    if choice == 1:
        return encode_command("GET", key)
    if choice == 2:
        return encode_command("MGET", key, f"fuzz:{run_id}:{rng.randrange(1 << 16):x}", f"fuzz:{run_id}:b")
    if choice == 3:
        return encode_command("ECHO", value)
    if choice == 4:
        return encode_command("EXISTS", key, key + "0")
    if choice == 5:
        return b"PING " + value.encode() + b"\r\n"
    return encode_command("PING")


def fresh_client_served(port: int) -> None:
    with RawConnection(port, timeout=10) as conn:
        assert conn.command("PING") == b"PONG"


def test_random_bytes(proxy):
    rng = random.Random(20240607)
    payloads = [bytes(rng.randrange(256) for _ in range(rng.randint(1, 3000))) for _ in range(200)]
    # Some random input shaped like the start of a request, so the multibulk path is hit too.
    payloads += [b"*" + bytes(rng.randrange(256) for _ in range(rng.randint(1, 300))) for _ in range(100)]
    payloads += [b"*2\r\n$" + bytes(rng.randrange(256) for _ in range(rng.randint(1, 300))) for _ in range(100)]
    with WellBehavedClient(proxy.port, "random-bytes") as good:
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda p: throw_at(proxy.port, p), payloads))
        for answer in answers:
            parse_replies(answer)
        assert proxy.process.poll() is None, "the proxy died"
        fresh_client_served(proxy.port)
        good.check()


def test_mutated_frames(proxy, run_id):
    """A few thousand valid frames, each mutated 1-3 times (seeded), ten per connection."""
    rng = random.Random(7)
    frames = [mutate(rng, valid_frame(rng, run_id)) for _ in range(3000)]
    batches = [b"".join(frames[i : i + 10]) for i in range(0, len(frames), 10)]
    with WellBehavedClient(proxy.port, "mutated") as good:
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda b: throw_at(proxy.port, b, wait=0.15), batches))
        replies = sum(parse_replies(a) for a in answers)
        assert replies > 0, "no mutated frame got any reply"
        assert proxy.process.poll() is None, "the proxy died"
        fresh_client_served(proxy.port)
        good.check()


def test_mutated_frames_pipelined_on_one_connection(proxy, run_id):
    """Mutated frames behind valid ones on long-lived connections: each connection is answered in
    order up to its first protocol error, then closed (or left waiting for a frame's missing bytes)."""
    rng = random.Random(11)
    with WellBehavedClient(proxy.port, "mutated-pipelined") as good:
        for _ in range(50):
            valid = [valid_frame(rng, run_id) for _ in range(rng.randint(1, 20))]
            payload = b"".join(valid) + mutate(rng, valid_frame(rng, run_id)) + b"".join(valid)
            answer = throw_at(proxy.port, payload, wait=0.15)
            assert parse_replies(answer) >= len(valid), f"valid frames before a mutated one were not all answered: {answer[:200]!r}"
        assert proxy.process.poll() is None, "the proxy died"
        fresh_client_served(proxy.port)
        good.check()

