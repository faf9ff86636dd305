import MeshNet

/// A stream's timeouts that need their own timer on the loop.
enum StreamTimer {
    /// The route's `timeout` (the whole answer).
    case route
    /// The route's `idle_timeout`, else the connection manager's `stream_idle_timeout`.
    case streamIdle
}

/// One loop timer that the streams of a keep-alive connection use one after another: a stream sets its deadline and
/// clears it when done, and the loop's timer is only scheduled when none is pending at or before the new deadline
/// (one that fires early finds the later deadline and is scheduled again for the rest). A connection then schedules
/// it about once per timeout instead of scheduling and cancelling it for every request. Loop thread only.
final class SharedDeadline {
    private let loop: EventLoop
    private let expired: () -> Void
    /// The current stream's deadline on the loop's clock (nanoseconds); nil when no stream waits for it.
    private var deadline: UInt64?
    /// The timer on the loop, and when it fires.
    private var pending: (id: EventLoop.TimerID, at: UInt64)?
    /// Made once: scheduling it makes no closure.
    private lazy var fire: () -> Void = { [weak self] in self?.timerFired() }

    /// `expired` runs when a deadline passes that was not stopped before.
    init(loop: EventLoop, expired: @escaping () -> Void) {
        self.loop = loop
        self.expired = expired
    }

    /// Sets the deadline `seconds` from now, in place of any earlier one.
    func start(after seconds: Double) {
        let at = loop.now() + UInt64(max(0, min(seconds, 1e9)) * 1e9)
        deadline = at
        if let pending {
            if pending.at <= at { return }
            loop.cancel(pending.id)
        }
        pending = (loop.schedule(after: seconds, fire), at)
    }

    /// Clears the deadline; the loop's timer stays for the next one (firing with none set, it does nothing).
    func stop() { deadline = nil }

    /// Clears the deadline and cancels the loop's timer (the connection closed).
    func cancel() {
        deadline = nil
        if let pending { loop.cancel(pending.id) }
        pending = nil
    }

    private func timerFired() {
        pending = nil
        guard let deadline else { return }
        let now = loop.now()
        if now < deadline {
            pending = (loop.schedule(after: Double(deadline - now) / 1e9, fire), deadline)
            return
        }
        self.deadline = nil
        expired()
    }
}
