"""Integration tests for the client's session and server commands: authentication, CLIENT *,
administrative commands, the one-node cluster the proxy presents, TIME, OBJECT.

What each test checks (each fails when its feature breaks; every one is bounded in time):
  test_session_requirepass_auth      --requirepass: NOAUTH before AUTH (PING, GET, CLIENT SETNAME),
                                     WRONGPASS for a wrong password or user, AUTH password and AUTH
                                     default password work, then commands run; RESET needs AUTH again.
  test_session_requirepass_hello     HELLO 3 before AUTH: Redis's NOAUTH text; HELLO 3 AUTH default
                                     wrong: WRONGPASS and still RESP2; HELLO 3 AUTH default s3cret
                                     SETNAME: a RESP3 map, RESP3 replies after, the name is set.
  test_session_requirepass_redis_py  redis-py with password= in RESP2 (AUTH) and RESP3 (HELLO 3 AUTH):
                                     SET/GET; a wrong password raises AuthenticationError.
  test_session_quit_before_auth      QUIT before AUTH: +OK, then the connection closes.
  test_session_users                 --users alice:wonder: AUTH alice wonder; CLIENT INFO shows
                                     user=alice, ACL WHOAMI alice; a wrong password or unknown user:
                                     WRONGPASS.
  test_session_auth_without_password the shared proxy (no requirepass): AUTH x gets Redis's "no
                                     password configured" error; AUTH default x is OK.
  test_session_client_names          CLIENT SETNAME/GETNAME, invalid names refused, HELLO SETNAME.
  test_session_client_list           CLIENT LIST lists every connection (across both workers) with
                                     its id, name, addresses, resp (and lib-name with Redis 7.2+); ID and TYPE filters; CLIENT INFO
                                     is the caller's line.
  test_session_client_kill           CLIENT KILL ID closes another client (count 1), the killer keeps
                                     working; old form CLIENT KILL addr: +OK / "No such client";
                                     SKIPME spares the caller; bad filters get Redis's errors.
  test_session_client_flags          CLIENT NO-EVICT on/off: OK; CLIENT REPLY ON: OK.
  test_session_client_reply          CLIENT REPLY OFF/ON/SKIP drop exactly the replies Redis drops.
  test_session_select                SELECT 0: OK; SELECT 1: the cluster-mode error.
  test_session_admin_refused         CONFIG SET refused by default with an error naming
                                     allow-admin-commands; CONFIG GET answered by a primary.
  test_session_admin_allowed         --allow-admin-commands yes: CONFIG SET reaches every primary
                                     (checked with CONFIG GET on each), then restored the same way.
  test_session_dangerous_refused     DEBUG, SHUTDOWN, MONITOR, SYNC, REPLICAOF, CLUSTER FAILOVER are
                                     refused even with allow-admin-commands yes; the cluster is still
                                     up (each primary answers PING, SET/GET through the proxy).
  test_session_cluster_commands      CLUSTER INFO (ok, 16384 slots, 1 node), SLOTS (one range served
                                     by the proxy's address), SHARDS, NODES, MYID, KEYSLOT (against
                                     Redis's own answer), COUNTKEYSINSLOT from the slot's owner.
  test_session_cluster_client        redis-py's RedisCluster pointed at the proxy sees one node (the
                                     proxy) and works through it.
  test_session_time                  TIME: [seconds, microseconds] close to this machine's clock.
  test_session_object_by_key         OBJECT ENCODING of keys on every primary: each key's encoding.
  test_session_backend_credentials   --backend-user/--backend-password with an ACL user on every
                                     node: the proxy's node connections are that user; a wrong
                                     password never gets the proxy ready.
"""

from __future__ import annotations

import socket
import time

import pytest
import redis

from support import (
    ErrorReply,
    ProxyProcess,
    ProxyStartError,
    RawConnection,
    RespMap,
    encode_command,
    key_in_slot,
    key_slot,
)

PASSWORD = "s3cret"
NOAUTH = "NOAUTH Authentication required."
WRONGPASS = "WRONGPASS invalid username-password pair or user is disabled."
HELLO_NOAUTH = ("NOAUTH HELLO must be called with the client already authenticated, otherwise the "
                "HELLO AUTH <user> <pass> option can be used to authenticate the client and select "
                "the RESP protocol version at the same time")


def err(reply) -> str:
    assert isinstance(reply, ErrorReply), f"expected an error, got {reply!r}"
    return reply.text


def client_list(text: bytes) -> list[dict[str, str]]:
    out = []
    for line in text.decode().splitlines():
        out.append(dict(field.split("=", 1) for field in line.split(" ")))
    return out


# MARK: - Authentication


def test_session_requirepass_auth(start_proxy, run_id):
    p = start_proxy(["--requirepass", PASSWORD])
    with RawConnection(p.port) as conn:
        assert err(conn.command("PING")) == NOAUTH
        assert err(conn.command("GET", f"auth:{run_id}")) == NOAUTH
        assert err(conn.command("CLIENT", "SETNAME", "early")) == NOAUTH
        assert err(conn.command("AUTH", "wrong")) == WRONGPASS
        assert err(conn.command("AUTH", "default", "wrong")) == WRONGPASS
        assert err(conn.command("AUTH", "nobody", PASSWORD)) == WRONGPASS
        assert err(conn.command("AUTH", "a", "b", "c")) == "ERR syntax error"
        assert err(conn.command("PING")) == NOAUTH
        assert conn.command("AUTH", PASSWORD) == b"OK"
        assert conn.command("PING") == b"PONG"
        assert conn.command("SET", f"auth:{run_id}", "v") == b"OK"
        assert conn.command("GET", f"auth:{run_id}") == b"v"
        # A failed AUTH does not undo an earlier success (as in Redis).
        assert err(conn.command("AUTH", "wrong")) == WRONGPASS
        assert conn.command("PING") == b"PONG"
        # RESET returns to a fresh connection's state: not authenticated.
        assert conn.command("RESET") == b"RESET"
        assert err(conn.command("PING")) == NOAUTH
        assert conn.command("AUTH", "default", PASSWORD) == b"OK"
        assert conn.command("GET", f"auth:{run_id}") == b"v"


def test_session_requirepass_hello(start_proxy, run_id):
    p = start_proxy(["--requirepass", PASSWORD])
    with RawConnection(p.port) as conn:
        assert err(conn.command("HELLO", "3")) == HELLO_NOAUTH
        assert err(conn.command("HELLO")) == HELLO_NOAUTH
        assert err(conn.command("HELLO", "3", "AUTH", "default", "wrong")) == WRONGPASS
        assert conn.command("GET", f"hello:{run_id}:missing") == ErrorReply(NOAUTH.encode())
        reply = conn.command("HELLO", "3", "AUTH", "default", PASSWORD, "SETNAME", "hello-client")
        assert isinstance(reply, RespMap) and reply.get(b"proto") == 3
        assert conn.command("CLIENT", "GETNAME") == b"hello-client"
        conn.send(b"*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n" % (len(f"hello:{run_id}:missing"), f"hello:{run_id}:missing".encode()))
        assert conn.peek(1) == b"_"  # a RESP3 null: the connection switched
        conn.read_reply()


@pytest.mark.parametrize("protocol", [2, 3])
def test_session_requirepass_redis_py(start_proxy, run_id, protocol):
    p = start_proxy(["--requirepass", PASSWORD])
    good = redis.Redis(host="127.0.0.1", port=p.port, password=PASSWORD, protocol=protocol, socket_timeout=20)
    try:
        assert good.set(f"py:{run_id}:{protocol}", "x")
        assert good.get(f"py:{run_id}:{protocol}") == b"x"
        assert good.ping()
    finally:
        good.close()
    bad = redis.Redis(host="127.0.0.1", port=p.port, password="wrong", protocol=protocol, socket_timeout=20)
    try:
        with pytest.raises(redis.AuthenticationError):
            bad.ping()
    finally:
        bad.close()


def test_session_quit_before_auth(start_proxy):
    p = start_proxy(["--requirepass", PASSWORD])
    with RawConnection(p.port) as conn:
        assert conn.command("QUIT") == b"OK"
        assert conn.is_closed_by_peer()


def test_session_users(start_proxy):
    p = start_proxy(["--requirepass", PASSWORD, "--users", "alice:wonder", "bob:builder"])
    with RawConnection(p.port) as conn:
        assert err(conn.command("AUTH", "alice", "wrong")) == WRONGPASS
        assert err(conn.command("AUTH", "carol", "wonder")) == WRONGPASS
        assert err(conn.command("AUTH", "wonder")) == WRONGPASS  # the default user's is s3cret
        assert conn.command("AUTH", "alice", "wonder") == b"OK"
        mine = client_list(conn.command("CLIENT", "INFO"))[0]
        assert mine["user"] == "alice"
        assert conn.command("ACL", "WHOAMI") == b"alice"
        assert conn.command("AUTH", "bob", "builder") == b"OK"
        assert client_list(conn.command("CLIENT", "INFO"))[0]["user"] == "bob"
    with RawConnection(p.port) as conn:
        assert conn.command("HELLO", "3", "AUTH", "alice", "wonder").get(b"proto") == 3


def test_session_auth_without_password(proxy):
    with RawConnection(proxy.port) as conn:
        assert err(conn.command("AUTH", "x")) == ("ERR AUTH <password> called without any password configured "
                                                  "for the default user. Are you sure your configuration is correct?")
        assert conn.command("AUTH", "default", "anything") == b"OK"
        assert err(conn.command("AUTH", "alice", "x")) == WRONGPASS
        assert conn.command("PING") == b"PONG"


# MARK: - CLIENT


def test_session_client_names(proxy):
    with RawConnection(proxy.port) as conn:
        assert conn.command("CLIENT", "GETNAME") is None
        assert conn.command("CLIENT", "SETNAME", "worker-1") == b"OK"
        assert conn.command("CLIENT", "GETNAME") == b"worker-1"
        assert err(conn.command("CLIENT", "SETNAME", "has space")).startswith("ERR Client names cannot contain")
        assert conn.command("CLIENT", "GETNAME") == b"worker-1"
        assert conn.command("CLIENT", "SETNAME", "") == b"OK"
        assert conn.command("CLIENT", "GETNAME") is None
        conn.command("HELLO", "2", "SETNAME", "via-hello")
        assert conn.command("CLIENT", "GETNAME") == b"via-hello"


def test_session_client_list(proxy):
    conns = [RawConnection(proxy.port) for _ in range(6)]
    try:
        ids = []
        for i, c in enumerate(conns):
            assert c.command("CLIENT", "SETNAME", f"lister-{i}") == b"OK"
            ids.append(c.command("CLIENT", "ID"))
        conns[5].command("HELLO", "3")
        # CLIENT SETINFO is Redis 7.2's: answered only when the cluster's command table has it.
        setinfo = conns[4].command("CLIENT", "SETINFO", "LIB-NAME", "testlib")
        listed = {int(e["id"]): e for e in client_list(conns[0].command("CLIENT", "LIST"))}
        for i, cid in enumerate(ids):
            assert cid in listed, f"client {cid} missing from CLIENT LIST"
            entry = listed[cid]
            assert entry["name"] == f"lister-{i}"
            assert entry["addr"].startswith("127.0.0.1:")
            assert entry["laddr"] == f"127.0.0.1:{proxy.port}"
            assert entry["db"] == "0"
            assert int(entry["age"]) >= 0 and int(entry["idle"]) >= 0
        assert listed[ids[5]]["resp"] == "3"
        assert listed[ids[0]]["resp"] == "2"
        assert listed[ids[4]]["lib-name"] == ("testlib" if setinfo == b"OK" else "")
        assert listed[ids[0]]["cmd"] == "client|list"
        # The clients' own view of their addresses matches.
        port = conns[1].sock.getsockname()[1]
        assert listed[ids[1]]["addr"] == f"127.0.0.1:{port}"
        # Filters.
        only = client_list(conns[0].command("CLIENT", "LIST", "ID", ids[2], ids[3]))
        assert sorted(int(e["id"]) for e in only) == sorted([ids[2], ids[3]])
        assert conns[0].command("CLIENT", "LIST", "TYPE", "pubsub") == b""
        assert len(client_list(conns[0].command("CLIENT", "LIST", "TYPE", "normal"))) >= 6
        assert err(conns[0].command("CLIENT", "LIST", "TYPE", "nope")) == "ERR Unknown client type 'nope'"
        assert err(conns[0].command("CLIENT", "LIST", "ID", "x")) == "ERR Invalid client ID"
        # CLIENT INFO: the caller's own line.
        info = client_list(conns[2].command("CLIENT", "INFO"))
        assert len(info) == 1 and int(info[0]["id"]) == ids[2] and info[0]["name"] == "lister-2"
        # A closed client leaves the list.
        conns[3].close()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            listed = {int(e["id"]) for e in client_list(conns[0].command("CLIENT", "LIST"))}
            if ids[3] not in listed:
                break
            time.sleep(0.05)
        assert ids[3] not in listed
    finally:
        for c in conns:
            c.close()


def test_session_client_kill(proxy):
    killer = RawConnection(proxy.port)
    victims = [RawConnection(proxy.port) for _ in range(4)]
    try:
        victim_ids = [v.command("CLIENT", "ID") for v in victims]
        killer_id = killer.command("CLIENT", "ID")
        # New form: ID, counted.
        assert killer.command("CLIENT", "KILL", "ID", victim_ids[0]) == 1
        assert victims[0].is_closed_by_peer()
        assert killer.command("PING") == b"PONG"
        assert victims[1].command("PING") == b"PONG"
        # Old form: by address, +OK; nothing there: an error.
        addr = "127.0.0.1:%d" % victims[1].sock.getsockname()[1]
        assert killer.command("CLIENT", "KILL", addr) == b"OK"
        assert victims[1].is_closed_by_peer()
        assert err(killer.command("CLIENT", "KILL", addr)) == "ERR No such client"
        # ADDR filter.
        addr2 = "127.0.0.1:%d" % victims[2].sock.getsockname()[1]
        assert killer.command("CLIENT", "KILL", "ADDR", addr2, "SKIPME", "yes") == 1
        assert victims[2].is_closed_by_peer()
        # SKIPME (the default) spares the caller.
        assert killer.command("CLIENT", "KILL", "ID", killer_id) == 0
        assert killer.command("PING") == b"PONG"
        # Errors as Redis words them.
        assert err(killer.command("CLIENT", "KILL", "ID", "0")) == "ERR client-id should be greater than 0"
        assert err(killer.command("CLIENT", "KILL", "TYPE", "x", "ID", "3")) == "ERR Unknown client type 'x'"
        assert err(killer.command("CLIENT", "KILL", "a", "b", "c")) == "ERR syntax error"
        assert err(killer.command("CLIENT", "KILL", "USER", "nobody")) == "ERR No such user 'nobody'"
        assert victims[3].command("PING") == b"PONG"
        # SKIPME no: a client may kill itself; the reply arrives first.
        assert victims[3].command("CLIENT", "KILL", "ID", victim_ids[3], "SKIPME", "no") == 1
        assert victims[3].is_closed_by_peer()
    finally:
        killer.close()
        for v in victims:
            v.close()


def test_session_client_flags(proxy):
    with RawConnection(proxy.port) as conn:
        assert conn.command("CLIENT", "NO-EVICT", "on") == b"OK"
        assert conn.command("CLIENT", "NO-EVICT", "off") == b"OK"
        assert err(conn.command("CLIENT", "NO-EVICT", "maybe")) == "ERR syntax error"
        assert conn.command("CLIENT", "REPLY", "ON") == b"OK"
        assert conn.command("PING") == b"PONG"


def test_session_client_reply(proxy, run_id):
    """CLIENT REPLY OFF drops every reply (its own too) until ON, which answers +OK; SKIP drops
    only the next command's reply. Checked on the exact bytes of one pipelined write."""
    key = f"reply:{run_id}"
    cmds = [["CLIENT", "REPLY", "OFF"], ["SET", key, "v"], ["GET", key], ["PING"],
            ["CLIENT", "REPLY", "ON"], ["GET", key],
            ["CLIENT", "REPLY", "SKIP"], ["GET", key], ["ECHO", "last"]]
    payload = b"".join(encode_command(*c) for c in cmds)
    expected = b"+OK\r\n$1\r\nv\r\n$4\r\nlast\r\n"
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as s:
        s.sendall(payload)
        got = b""
        while len(got) < len(expected):
            chunk = s.recv(4096)
            assert chunk, f"connection closed after {got!r}"
            got += chunk
        assert got == expected
        s.settimeout(0.3)
        try:
            extra = s.recv(4096)
        except socket.timeout:
            extra = b""
        assert extra == b"", f"unexpected bytes after the replies: {extra!r}"


def test_session_select(proxy):
    with RawConnection(proxy.port) as conn:
        assert conn.command("SELECT", "0") == b"OK"
        assert err(conn.command("SELECT", "1")) == "ERR SELECT is not allowed in cluster mode"


# MARK: - Administrative commands


def test_session_admin_refused(proxy, cluster):
    with RawConnection(proxy.port) as conn:
        text = err(conn.command("CONFIG", "SET", "slowlog-max-len", "129"))
        assert "config|set" in text and "allow-admin-commands yes" in text
        assert "allow-admin-commands" in err(conn.command("CONFIG", "RESETSTAT"))
        assert "allow-admin-commands" in err(conn.command("CONFIG", "REWRITE"))
        # SLOWLOG is the proxy's own (test_metrics), never the nodes'.
        assert conn.command("SLOWLOG", "RESET") == b"OK"
        assert conn.command("CONFIG", "GET", "cluster-enabled") == [b"cluster-enabled", b"yes"]
    for port in cluster.primaries():
        assert cluster.node(port).config_get("slowlog-max-len")["slowlog-max-len"] != "129"


def test_session_admin_allowed(start_proxy, cluster):
    p = start_proxy(["--allow-admin-commands", "yes"])
    primaries = cluster.primaries()
    original = {port: cluster.node(port).config_get("slowlog-log-slower-than")["slowlog-log-slower-than"]
                for port in primaries}
    try:
        with RawConnection(p.port) as conn:
            assert conn.command("CONFIG", "SET", "slowlog-log-slower-than", "54321") == b"OK"
            for port in primaries:
                assert cluster.node(port).config_get("slowlog-log-slower-than") == {"slowlog-log-slower-than": "54321"}
            assert conn.command("CONFIG", "GET", "slowlog-log-slower-than") == [b"slowlog-log-slower-than", b"54321"]
            assert conn.command("SLOWLOG", "RESET") == b"OK"
            assert conn.command("SLOWLOG", "LEN") == 0
            assert isinstance(conn.command("SLOWLOG", "GET"), list)
            # A value every primary refuses: the error comes back.
            assert isinstance(conn.command("CONFIG", "SET", "slowlog-log-slower-than", "abc"), ErrorReply)
            # Restored through the proxy as well.
            assert conn.command("CONFIG", "SET", "slowlog-log-slower-than", original[primaries[0]]) == b"OK"
            for port in primaries:
                assert cluster.node(port).config_get("slowlog-log-slower-than") == {
                    "slowlog-log-slower-than": original[primaries[0]]}
    finally:
        for port, value in original.items():
            cluster.node(port).config_set("slowlog-log-slower-than", value)


def test_session_dangerous_refused(start_proxy, cluster, run_id):
    p = start_proxy(["--allow-admin-commands", "yes"])
    with RawConnection(p.port) as conn:
        for command in (["DEBUG", "SLEEP", "0"], ["SHUTDOWN", "NOSAVE"], ["MONITOR"], ["SYNC"],
                        ["REPLICAOF", "127.0.0.1", "1"], ["CLUSTER", "FAILOVER"], ["CLUSTER", "RESET"],
                        ["FAILOVER"], ["PSYNC", "?", "-1"]):
            text = err(conn.command(*command))
            assert text.startswith("ERR slotproxy: '"), text
            assert ("never forwarded" in text or "not supported" in text), text
        assert conn.command("SET", f"alive:{run_id}", "1") == b"OK"
        assert conn.command("GET", f"alive:{run_id}") == b"1"
    for port in cluster.ports:
        assert cluster.node(port).ping()
    for port in cluster.primaries():
        with RawConnection(port) as node:
            assert node.command("CLUSTER", "INFO").startswith(b"cluster_state:ok")


# MARK: - The cluster as the proxy presents it


def test_session_cluster_commands(proxy, cluster, run_id):
    with RawConnection(proxy.port) as conn:
        info = conn.command("CLUSTER", "INFO").decode()
        fields = dict(line.split(":", 1) for line in info.splitlines() if line)
        assert fields["cluster_state"] == "ok"
        assert fields["cluster_slots_assigned"] == "16384"
        assert fields["cluster_slots_ok"] == "16384"
        assert fields["cluster_known_nodes"] == "1"
        assert fields["cluster_size"] == "1"

        myid = conn.command("CLUSTER", "MYID")
        assert isinstance(myid, bytes) and len(myid) == 40 and int(myid, 16) >= 0

        slots = conn.command("CLUSTER", "SLOTS")
        assert slots == [[0, 16383, [b"127.0.0.1", proxy.port, myid, []]]]

        shards = conn.command("CLUSTER", "SHARDS")
        assert len(shards) == 1
        shard = dict(zip(shards[0][::2], shards[0][1::2]))
        assert shard[b"slots"] == [0, 16383]
        node = dict(zip(shard[b"nodes"][0][::2], shard[b"nodes"][0][1::2]))
        assert node[b"id"] == myid and node[b"port"] == proxy.port and node[b"ip"] == b"127.0.0.1"
        assert node[b"role"] == b"master"

        nodes = conn.command("CLUSTER", "NODES").decode()
        assert nodes == f"{myid.decode()} 127.0.0.1:{proxy.port}@0 myself,master - 0 0 0 connected 0-16383\n"

        for key in ["foo", "{user1}:a", "bar", f"k:{run_id}"]:
            expected = cluster.node(cluster.ports[0]).execute_command("CLUSTER", "KEYSLOT", key)
            assert conn.command("CLUSTER", "KEYSLOT", key) == expected == key_slot(key)

        assert conn.command("CLUSTER", "REPLICAS", myid) == []
        assert err(conn.command("CLUSTER", "REPLICAS", "abc")) == "ERR Unknown node abc"

        key = key_in_slot(1234, f":count:{run_id}")
        assert conn.command("SET", key, "1") == b"OK"
        assert conn.command("CLUSTER", "COUNTKEYSINSLOT", 1234) >= 1
        assert key.encode() in conn.command("CLUSTER", "GETKEYSINSLOT", 1234, 1000)
        assert err(conn.command("CLUSTER", "COUNTKEYSINSLOT", 16384)) == "ERR Invalid slot"

        # RESP3: INFO and NODES as verbatim text, SLOTS the same shape.
        conn.command("HELLO", "3")
        conn.send(b"*2\r\n$7\r\nCLUSTER\r\n$4\r\nINFO\r\n")
        assert conn.peek(1) == b"="
        assert conn.read_reply().startswith(b"txt:cluster_state:ok")


def test_session_cluster_client(proxy, run_id):
    rc = redis.RedisCluster(host="127.0.0.1", port=proxy.port, socket_timeout=20)
    try:
        nodes = rc.get_nodes()
        assert [(n.host, n.port) for n in nodes] == [("127.0.0.1", proxy.port)]
        keys = [key_in_slot(s, f":rc:{run_id}") for s in (0, 5000, 10000, 16383)]
        for k in keys:
            assert rc.set(k, k)
        for k in keys:
            assert rc.get(k) == k.encode()
    finally:
        rc.close()


# MARK: - Server commands routed to a node


def test_session_time(proxy):
    with RawConnection(proxy.port) as conn:
        seconds, micros = conn.command("TIME")
        assert abs(int(seconds) + int(micros) / 1e6 - time.time()) < 5
        assert 0 <= int(micros) < 1_000_000


def test_session_object_by_key(proxy, cluster, run_id):
    with RawConnection(proxy.port) as conn:
        for port in cluster.primaries():
            slot = cluster.slots_of(port)[0]
            number, text = key_in_slot(slot, f":obj:{run_id}:n"), key_in_slot(slot, f":obj:{run_id}:s")
            assert conn.command("SET", number, "12345") == b"OK"
            assert conn.command("RPUSH", text, "a") == 1
            assert conn.command("OBJECT", "ENCODING", number) == b"int"
            assert conn.command("OBJECT", "ENCODING", text) == cluster.node(port).object("encoding", text)
            assert conn.command("OBJECT", "REFCOUNT", text) == 1


# MARK: - Backend credentials


def test_session_backend_credentials(start_proxy, cluster, run_id, run_dir):
    user = f"slotproxy-{run_id}"
    for port in cluster.ports:
        cluster.node(port).execute_command("ACL", "SETUSER", user, "on", ">backend-pw", "~*", "&*", "+@all")
    try:
        p = start_proxy(["--backend-user", user, "--backend-password", "backend-pw"])
        with RawConnection(p.port) as conn:
            for slot in (0, 8000, 16000):
                assert conn.command("SET", key_in_slot(slot, f":cred:{run_id}"), "v") == b"OK"
        for port in cluster.primaries():
            users = [c["user"] for c in cluster.node(port).client_list()]
            assert user in users, f"no connection as {user} on {port}: {users}"
        # Wrong credentials: no node answers the topology queries, so the proxy never gets ready
        # (started by hand: start_proxy counts a proxy stopped after a failed start as died).
        wrong = ProxyProcess(cluster.seeds, extra_args=["--backend-user", user, "--backend-password", "wrong"],
                             run_dir=run_dir)
        with pytest.raises(ProxyStartError):
            wrong.start(ready_timeout=3)
        wrong.stop()
    finally:
        for port in cluster.ports:
            cluster.node(port).execute_command("ACL", "DELUSER", user)
