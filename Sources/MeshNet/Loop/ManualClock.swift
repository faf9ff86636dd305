import Foundation

/// Time that moves only when a test says so. Loops made with it wait for work instead of for time, and timers fire
/// when `advance` passes their deadline, so timeout tests run without sleeping.
public final class ManualClock: @unchecked Sendable {
    private let lock = NSLock()
    private var nanoseconds: UInt64 = 1_000_000_000
    private var loops: [WeakLoop] = []

    private struct WeakLoop { weak var loop: EventLoop? }

    public init() {}

    /// Nanoseconds since the clock was made (plus a second, so no deadline is 0).
    var now: UInt64 {
        lock.lock(); defer { lock.unlock() }
        return nanoseconds
    }

    func attach(_ loop: EventLoop) {
        lock.lock(); defer { lock.unlock() }
        loops.append(WeakLoop(loop: loop))
    }

    /// Moves time forward by `seconds` and returns once every running loop on this clock has run the timers that
    /// came due (call it from outside the loops, or from one of them: that loop runs its own at once).
    public func advance(by seconds: Double) {
        lock.lock()
        nanoseconds += UInt64(max(0, seconds) * 1e9)
        let attached = loops.compactMap(\.loop)
        lock.unlock()
        for loop in attached { loop.runDueTimersAndWait() }
    }
}
