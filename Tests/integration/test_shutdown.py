"""A proxy that served every kind of client stops cleanly on SIGTERM.

  test_sigterm_after_every_kind_of_client  a proxy with clients blocked in BLPOP, subscribed
                                    (SUBSCRIBE, SSUBSCRIBE), inside MULTI, WATCHing, a CLIENT KILL
                                    done (each worker's kill event exists), all still connected,
                                    exits with status 0 on SIGTERM. Under scripts/test --asan the
                                    exit also runs LeakSanitizer: the proxy used to leak its whole
                                    object graph (context <-> workers, topology manager <-> its
                                    Thread) and each worker's kill event; the conftest fixture
                                    fails this test on any report.
"""

from __future__ import annotations

import socket

import pytest

from procstats import info_clients
from support import ProxyProcess, RawConnection, encode_command, key_in_slot, wait_for


@pytest.mark.proxy
def test_sigterm_after_every_kind_of_client(cluster, run_dir, run_id):
    # Not start_proxy: this test stops the proxy itself and checks how it exited.
    # The BLPOPs never end: the drain waits for them until shutdown-timeout, kept short here.
    p = ProxyProcess(cluster.seeds, run_dir=run_dir, threads=2, extra_args=["--shutdown-timeout", "1"]).start()
    opened: list[socket.socket] = []

    def client(*frames) -> socket.socket:
        s = socket.create_connection(("127.0.0.1", p.port), timeout=20)
        s.sendall(b"".join(encode_command(*f) for f in frames))
        opened.append(s)
        return s

    key = key_in_slot(100, f":shutdown:{run_id}")
    try:
        for _ in range(4):
            client(("BLPOP", key + ":list", "0"))
            client(("SUBSCRIBE", f"shutdown:{run_id}"))
            client(("SSUBSCRIBE", f"shutdown:{run_id}"))
            client(("MULTI",), ("SET", key, "1"))
            client(("WATCH", key), ("GET", key))
            client(("HELLO", "3"), ("GET", key))
        wait_for(lambda: info_clients(p.port)["blocked_clients"] == 4, 20, "4 BLPOPs waiting")
        with RawConnection(p.port) as killer:
            for _ in range(6):  # new connections land on both workers: both get a kill event
                with RawConnection(p.port) as victim:
                    victim_id = victim.command("CLIENT", "ID")
                    assert killer.command("CLIENT", "KILL", "ID", str(victim_id)) == 1
        assert p.stop() == 0, p.log_tail()
    finally:
        p.stop()
        for s in opened:
            s.close()
