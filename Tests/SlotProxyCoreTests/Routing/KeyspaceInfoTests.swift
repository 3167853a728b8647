// KeyspaceInfo: INFO keyspace of every primary summed into one section for the whole dataset.

import Testing
@testable import SlotProxyCore

@Suite("KeyspaceInfo")
struct KeyspaceInfoTests {
    @Test("keys and expires add up; avg_ttl is weighted by each node's expiring keys")
    func sums() {
        let sections = [
            "# Keyspace\r\ndb0:keys=10,expires=2,avg_ttl=100\r\n",
            "# Keyspace\r\ndb0:keys=5,expires=6,avg_ttl=500\r\n",
            "# Keyspace\r\ndb0:keys=1,expires=0,avg_ttl=0\r\n",
        ]
        // (2*100 + 6*500) / 8 = 400
        #expect(KeyspaceInfo.sum(sections) == "db0:keys=16,expires=8,avg_ttl=400\r\n")
    }

    @Test("a node without expiring keys does not pull the average down")
    func noExpires() {
        #expect(KeyspaceInfo.sum(["db0:keys=10,expires=2,avg_ttl=500\r\n", "db0:keys=5,expires=0,avg_ttl=0\r\n"])
                == "db0:keys=15,expires=2,avg_ttl=500\r\n")
    }

    @Test("empty primaries (no db line) and an empty cluster")
    func empty() {
        #expect(KeyspaceInfo.sum(["# Keyspace\r\n", "# Keyspace\r\ndb0:keys=3,expires=0,avg_ttl=0\r\n", ""])
                == "db0:keys=3,expires=0,avg_ttl=0\r\n")
        #expect(KeyspaceInfo.sum(["# Keyspace\r\n", "# Keyspace\r\n"]) == "")
        #expect(KeyspaceInfo.sum([]) == "")
    }

    @Test("several databases, one line each, in name order; \\n line ends and unknown fields are fine")
    func severalDatabases() {
        let sections = ["db1:keys=1,expires=0,avg_ttl=0\ndb0:keys=2,expires=1,avg_ttl=10,subexpiry=0\n",
                        "db0:keys=3\r\nused_memory:1\r\n"]
        #expect(KeyspaceInfo.sum(sections) == "db0:keys=5,expires=1,avg_ttl=10\r\ndb1:keys=1,expires=0,avg_ttl=0\r\n")
    }
}
