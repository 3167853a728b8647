# Shared constants, logging and the error type of bench/run (see bench/README.md).
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLUSTER_SCRIPT = os.path.join(REPO, "scripts", "cluster")
DEFAULT_PROXY_BIN = os.path.join(REPO, ".build", "release", "slotproxy")

CLIENTS = 50          # redis-benchmark -c for the throughput workloads
DATA_SIZE = 64        # -d: value size in bytes (also the MSET value length)
KEYSPACE = 100000     # -r: __rand_int__ ranges over 0..KEYSPACE-1
VALUE = "x" * DATA_SIZE   # redis-benchmark fills -d values with 'x' too
MEMORY_CONNECTIONS = 1000
MSET_KEYS = 10


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


class BenchError(Exception):
    pass
