#!/usr/bin/env python3
"""Writes Tests/fixtures/slot-keys.txt: a short key for every Redis Cluster hash slot.

Line i (0-based) is "<slot> <key>" with slot == i. Keys are "key:<n>" (no braces, so no hash
tag) with the smallest n that lands in that slot, found by trying n = 0, 1, 2... until every
slot has one. The CRC16 here is Redis's own (CRC16-XMODEM, polynomial 0x1021, initial value 0),
written out independently of the Swift code so the fixture checks it rather than mirrors it.

Usage: scripts/gen-slot-keys.py [output path]   (default: Tests/fixtures/slot-keys.txt)
"""
import os
import sys

SLOTS = 16384


def crc16_table():
    table = []
    for byte in range(256):
        crc = byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
        table.append(crc)
    return table


TABLE = crc16_table()


def crc16(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc = ((crc << 8) & 0xFFFF) ^ TABLE[((crc >> 8) ^ byte) & 0xFF]
    return crc


def main() -> None:
    assert crc16(b"123456789") == 0x31C3, "CRC16 self-check failed"
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out_path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "Tests", "fixtures", "slot-keys.txt")
    keys = [None] * SLOTS
    missing = SLOTS
    n = 0
    while missing:
        key = "key:%d" % n
        slot = crc16(key.encode()) % SLOTS
        if keys[slot] is None:
            keys[slot] = key
            missing -= 1
        n += 1
    with open(out_path, "w", encoding="ascii", newline="\n") as out:
        for slot, key in enumerate(keys):
            out.write("%d %s\n" % (slot, key))
    print("wrote %s: %d slots, searched key:0..key:%d" % (out_path, SLOTS, n - 1))


if __name__ == "__main__":
    main()
