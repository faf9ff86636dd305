import MeshNet

/// One loop timer for one kind of deadline of many streams at once (an HTTP/2 connection's route or stream idle
/// timeouts): each stream keeps its own deadline, and the timer only has to fire at or before the earliest. A stream
/// that starts a later deadline than the pending timer's costs no scheduling, and one that stops costs nothing; when
/// the timer fires, `sweep` runs the deadlines that passed and says the next one. Loop thread only.
final class MultiplexedDeadline {
    private let loop: EventLoop
    /// Runs what passed by `now` (nanoseconds on the loop's clock); returns the earliest deadline still set.
    private let sweep: (_ now: UInt64) -> UInt64?
    /// The timer on the loop, and when it fires.
    private var pending: (id: EventLoop.TimerID, at: UInt64)?
    /// Made once: scheduling it makes no closure.
    private lazy var fire: () -> Void = { [weak self] in self?.timerFired() }

    init(loop: EventLoop, sweep: @escaping (_ now: UInt64) -> UInt64?) {
        self.loop = loop
        self.sweep = sweep
    }

    /// The loop's clock `seconds` from now, for a stream's deadline.
    func deadline(after seconds: Double) -> UInt64 { loop.now() + UInt64(max(0, min(seconds, 1e9)) * 1e9) }

    /// A stream's deadline `at` is set: the timer fires at or before it.
    func willExpire(at: UInt64) {
        if let pending {
            if pending.at <= at { return }
            loop.cancel(pending.id)
        }
        let now = loop.now()
        pending = (loop.schedule(after: at > now ? Double(at - now) / 1e9 : 0, fire), at)
    }

    /// Cancels the loop's timer (the connection closed).
    func cancel() {
        if let pending { loop.cancel(pending.id) }
        pending = nil
    }

    private func timerFired() {
        pending = nil
        if let next = sweep(loop.now()) { willExpire(at: next) }
    }
}
