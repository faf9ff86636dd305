import Foundation

/// SIGINT and SIGTERM held back from every thread, for a serving command to wait on: make it before any server
/// thread starts, so only `wait` sees them; `restore` (deferred) unblocks them again.
struct StopSignals {
    private var signals = sigset_t()

    init() {
        sigemptyset(&signals)
        sigaddset(&signals, SIGINT)
        sigaddset(&signals, SIGTERM)
        pthread_sigmask(SIG_BLOCK, &signals, nil)
    }

    /// Blocks until one of the signals arrives; returns it.
    func wait() -> Int32 {
        var received: Int32 = 0
        var set = signals
        sigwait(&set, &received)
        return received
    }

    func restore() {
        var set = signals
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }
}
