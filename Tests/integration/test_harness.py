"""Checks of the test harness itself, against the real cluster (no proxy needed):
  test_key_slot_matches_cluster   the python CRC16/hash-tag slot function agrees with CLUSTER KEYSLOT
                                  (plain, tagged, empty-tag and binary keys);
  test_keys_by_slot_covers_all    keys_by_slot() has one key per slot, each hashing to its slot;
  test_cluster_status_ok          `scripts/cluster status` reports the session's cluster healthy and
                                  CLUSTER SLOTS gives 3 primaries owning all 16384 slots.
"""

import random
import subprocess

from support import REPO, RawConnection, key_slot, keys_by_slot


def test_key_slot_matches_cluster(cluster):
    rng = random.Random(1)
    keys = [b"", b"foo", b"{user42}:a", b"{user42}:b", b"{}x", b"x{}", b"{a}{b}", b"a{b}c{d}", b"{{a}}",
            b"\x00\r\n\xff"] + [rng.randbytes(rng.randrange(1, 20)) for _ in range(300)]
    with RawConnection(cluster.ports[0]) as conn:
        for k in keys:
            assert conn.command("CLUSTER", "KEYSLOT", k) == key_slot(k), k


def test_keys_by_slot_covers_all():
    keys = keys_by_slot()
    assert len(keys) == 16384
    assert all(key_slot(k) == slot and "{" not in k for slot, k in enumerate(keys))


def test_cluster_status_ok(cluster):
    result = subprocess.run([str(REPO / "scripts" / "cluster"), "status", "--port", str(cluster.base),
                             "--dir", str(cluster.dir)], capture_output=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert b"cluster ok" in result.stdout
    owners = cluster.slot_owners(refresh=True)
    assert len(set(owners)) == 3 and set(owners) <= set(cluster.ports)
