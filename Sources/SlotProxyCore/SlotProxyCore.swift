// SlotProxyCore: everything slotproxy knows without touching a socket or a clock.
//   RESP/      request parser (hot path), reply scanner (hot path), RESPValue (cold path)
//   Commands/  the command table built from COMMAND, key extraction, the proxy's policy table
//   Cluster/   hash slots, the slot map, topology from CLUSTER SHARDS / CLUSTER SLOTS, redirections
//   Routing/   what to do with one parsed request
//   Config/    proxy.conf and command-line directives
