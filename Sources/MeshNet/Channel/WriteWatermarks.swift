/// Bounds on a connection's queued output: above `high` bytes it reports itself unwritable, and writable again
/// once the queue drains below `low`. The gap keeps a producer from flapping between the two on every write.
public struct WriteWatermarks: Sendable, Equatable {
    public let low: Int
    public let high: Int

    public init(low: Int, high: Int) {
        precondition(low >= 0 && low <= high, "write watermarks need 0 <= low <= high")
        self.low = low
        self.high = high
    }

    /// 32 KiB and 64 KiB: a few socket writes' worth, so a slow peer holds little memory per connection.
    public static let standard = WriteWatermarks(low: 32 * 1024, high: 64 * 1024)
}
