// The buckets of the backend latency histogram: powers of two microseconds, 16 µs to about
// 1 s, plus +Inf. A power of two makes the bucket of a sample a bit count (one instruction)
// instead of a search, which matters because every backend reply records one.
//
//   bucket 0: ≤ 16 µs   bucket 1: ≤ 32 µs   …   bucket 16: ≤ 1 048 576 µs   bucket 17: +Inf

public enum LatencyBuckets {
    /// Finite upper bounds, then one +Inf bucket.
    public static let finiteCount = 17
    public static let count = finiteCount + 1

    /// The upper bound of finite bucket `i`, in microseconds.
    @inline(__always)
    public static func upperBound(_ i: Int) -> Int { 16 << i }

    /// The bucket a sample of `microseconds` falls in.
    @inline(__always)
    public static func index(microseconds: Int) -> Int {
        guard microseconds > 16 else { return 0 }
        let bits = Int.bitWidth - (microseconds &- 1).leadingZeroBitCount
        return min(finiteCount, bits &- 4)
    }
}
