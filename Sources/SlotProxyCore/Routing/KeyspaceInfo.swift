// INFO's keyspace section summed over primaries, so the proxy reports the whole dataset:
//   db0:keys=10,expires=2,avg_ttl=500   +   db0:keys=5,expires=0,avg_ttl=0
//   ─▶ db0:keys=15,expires=2,avg_ttl=500   (avg_ttl weighted by each node's expiring keys)

public enum KeyspaceInfo {
    public static func sum(_ sections: [String]) -> String {
        var totals: [String: (keys: Int, expires: Int, ttlWeighted: Int)] = [:]
        for text in sections {
            for line in text.split(whereSeparator: \.isNewline) where line.hasPrefix("db") {
                guard let colon = line.firstIndex(of: ":") else { continue }
                let db = String(line[..<colon])
                var keys = 0, expires = 0, ttl = 0
                for field in line[line.index(after: colon)...].split(separator: ",") {
                    let kv = field.split(separator: "=", maxSplits: 1)
                    guard kv.count == 2, let v = Int(kv[1]) else { continue }
                    switch kv[0] {
                    case "keys": keys = v
                    case "expires": expires = v
                    case "avg_ttl": ttl = v
                    default: break
                    }
                }
                let t = totals[db] ?? (0, 0, 0)
                totals[db] = (t.keys + keys, t.expires + expires, t.ttlWeighted + ttl * expires)
            }
        }
        return totals.keys.sorted().map { db in
            let t = totals[db]!
            let avg = t.expires > 0 ? t.ttlWeighted / t.expires : 0
            return "\(db):keys=\(t.keys),expires=\(t.expires),avg_ttl=\(avg)\r\n"
        }.joined()
    }
}
