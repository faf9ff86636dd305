import Foundation

/// Ctrl-C (SIGINT) or SIGTERM during the demo: taken by a thread of its own and noted, so the demo stops at its next
/// wait or request and still tears down what it started.
final class DemoInterruption: @unchecked Sendable {
    private let lock = NSLock()
    private var received: Int32?
    private let signals: StopSignals

    /// Blocks the signals in the calling thread (and the threads it starts later), then waits for one.
    init() {
        signals = StopSignals()
        Thread.detachNewThread { [self] in
            let number = signals.wait()
            lock.lock()
            received = number
            lock.unlock()
        }
    }

    /// The signal taken, if one came.
    var signal: Int32? {
        lock.lock()
        defer { lock.unlock() }
        return received
    }

    /// Throws the demo's failure for an interruption, if one came.
    func check(step: String) throws {
        if let signal { throw DemoFailure(step: step, kind: .error, expected: "the demo to run to its end", measured: "interrupted by signal \(signal)") }
    }
}
