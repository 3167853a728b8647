"""A primary that stops answering (SIGSTOP) without dropping its connections: issue 7.3.

The cluster of this test has a cluster-node-timeout of 60 s, so no replica is promoted while the
primary is frozen: the proxy alone must cope. With backend-timeout-ms 1000 and failover-hold-ms
3000:
  - requests already written to the frozen primary get
    "ERR slotproxy: no reply from primary 127.0.0.1:P within 1000 ms (backend-timeout-ms)"
    (non-idempotent ones add "; its outcome is unknown"), and an MGET with a part there names it;
  - requests for its slots that arrive afterwards are held (the proxy probes the node with a PING
    before sending it anything again) and, still unanswered at failover-hold-ms, get the
    CLUSTERDOWN error naming the slot and the node;
  - a well-behaved client on the other primaries' slots sees nothing but correct replies;
  - after SIGCONT the node serves again, with no proxy restart.
No timing is asserted: every wait is bounded by a generous socket timeout or wait_for deadline.
"""

from __future__ import annotations

import os
import signal
from contextlib import contextmanager
from pathlib import Path

import pytest

from support import Cluster, ErrorReply, RawConnection, encode_command, key_in_slot, key_slot, wait_for
from wellbehaved import WellBehavedClient

pytestmark = pytest.mark.failover


@pytest.fixture
def patient_cluster(run_dir):
    """A 3+3 cluster whose nodes wait 60 s before declaring a silent node failed."""
    c = Cluster.start_retrying(run_dir, node_timeout=60000)
    try:
        yield c
    finally:
        c.stop()


def node_pid(cluster: Cluster, port: int) -> int:
    pid = int((Path(cluster.dir) / f"{port}.pid").read_text().strip())
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    assert b"redis-server" in cmdline and str(port).encode() in cmdline, f"PID {pid} is not node {port}: {cmdline!r}"
    return pid


@contextmanager
def frozen(cluster: Cluster, port: int):
    """SIGSTOP the node for the block; SIGCONT it whatever happens."""
    pid = node_pid(cluster, port)
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def test_frozen_primary_fails_its_requests_clearly_and_recovers(patient_cluster, own_proxy, run_id):
    cluster = patient_cluster
    proxy = own_proxy(cluster.seeds, ["--backend-timeout-ms", "1000", "--failover-hold-ms", "3000",
                                      "--threads", "1"])
    owners = cluster.slot_owners()
    victim = cluster.primaries()[0]
    victim_slots = cluster.slots_of(victim)
    other_slots = [s for s in range(16384) if owners[s] != victim]
    frozen_keys = [key_in_slot(victim_slots[i * 97 % len(victim_slots)], f":frozen:{run_id}:{i}") for i in range(4)]
    healthy_key = key_in_slot(other_slots[0], f":healthy:{run_id}")
    timeout_error = f"ERR slotproxy: no reply from primary 127.0.0.1:{victim} within 1000 ms (backend-timeout-ms)"

    with RawConnection(proxy.port) as setup:
        assert setup.command("SET", frozen_keys[0], "before") == b"OK"
        assert setup.command("SET", healthy_key, "healthy") == b"OK"

    with WellBehavedClient(proxy.port, f"slow-{run_id}", slots=other_slots) as good:
        written = RawConnection(proxy.port, timeout=30)
        later = RawConnection(proxy.port, timeout=30)
        with frozen(cluster, victim):
            # Written to the frozen primary: each fails with the timeout error.
            written.send(encode_command("GET", frozen_keys[0]) + encode_command("INCR", frozen_keys[1])
                         + encode_command("MGET", frozen_keys[2], healthy_key))
            get, incr, mget = written.read_reply(), written.read_reply(), written.read_reply()
            assert isinstance(get, ErrorReply) and get.text == timeout_error
            assert isinstance(incr, ErrorReply) and incr.text == timeout_error + "; its outcome is unknown"
            assert isinstance(mget, ErrorReply) and timeout_error in mget.text, mget

            # Arriving after the timeout: held, then refused at failover-hold-ms, naming the node.
            reply = later.command("GET", frozen_keys[3])
            assert isinstance(reply, ErrorReply), reply
            assert reply.text.startswith("CLUSTERDOWN slotproxy: the primary for slot ") and f"127.0.0.1:{victim}" in reply.text, reply

            # The other primaries never noticed.
            assert later.command("GET", healthy_key) == b"healthy"

        # SIGCONT: the same node serves again, with no restart of anything.
        def serves():
            with RawConnection(proxy.port, timeout=10) as c:
                return c.command("SET", frozen_keys[3], "after") == b"OK" and c.command("GET", frozen_keys[3]) == b"after"
        wait_for(serves, 60, "the thawed primary serving again")
        assert written.command("GET", frozen_keys[0]) == b"before"
        assert later.command("MGET", frozen_keys[3], healthy_key) == [b"after", b"healthy"]
        written.close()
        later.close()
        good.check()

    log = Path(proxy.log_path).read_text(errors="replace").splitlines()
    stopped = [l for l in log if "does not answer" in l]
    answered = [l for l in log if "answers again" in l]
    assert len(stopped) == 1 and f"127.0.0.1:{victim}" in stopped[0], stopped
    assert len(answered) == 1 and f"127.0.0.1:{victim}" in answered[0], answered
    # The cluster kept its roles: nothing was failed over behind the proxy's back.
    assert victim in cluster.slot_owners(refresh=True)


def test_frozen_primary_with_pipelining_clients_on_every_shard(patient_cluster, own_proxy, run_id):
    """Clients pipelining over every slot while one primary is frozen: the requests for its slots
    fail with the timeout (or hold-expired) error, every other reply is correct and in order, and
    after SIGCONT everything is served again."""
    cluster = patient_cluster
    proxy = own_proxy(cluster.seeds, ["--backend-timeout-ms", "1000", "--failover-hold-ms", "2000"])
    owners = cluster.slot_owners()
    victim = cluster.primaries()[1]
    keys = [key_in_slot(i * 16384 // 60, f":pipe:{run_id}:{i}") for i in range(60)]
    with RawConnection(proxy.port) as setup:
        for k in keys:
            assert setup.command("SET", k, k) == b"OK"

    with frozen(cluster, victim):
        with RawConnection(proxy.port, timeout=30) as conn:
            conn.send(b"".join(encode_command("GET", k) for k in keys))
            for k in keys:
                reply = conn.read_reply()
                if owners[key_slot(k)] == victim:
                    assert isinstance(reply, ErrorReply), (k, reply)
                    assert f"127.0.0.1:{victim}" in reply.text, reply
                else:
                    assert reply == k.encode(), (k, reply)

    def all_served():
        with RawConnection(proxy.port, timeout=10) as c:
            c.send(b"".join(encode_command("GET", k) for k in keys))
            return all(c.read_reply() == k.encode() for k in keys)
    wait_for(all_served, 60, "every key served after SIGCONT")
