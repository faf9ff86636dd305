#if canImport(Glibc)
import Glibc
#endif

/// SIGINT and SIGTERM for a command that serves until told to stop (`local serve`, `x echo`): blocked from creation
/// on, before the command starts any thread (threads inherit the mask), so that only `wait` takes them.
final class StopSignals {
    private var signals = sigset_t()

    init() {
        sigemptyset(&signals)
        sigaddset(&signals, SIGINT)
        sigaddset(&signals, SIGTERM)
        pthread_sigmask(SIG_BLOCK, &signals, nil)
    }

    /// Unblocks them again (in-process runs, such as tests, carry on).
    deinit { pthread_sigmask(SIG_UNBLOCK, &signals, nil) }

    /// Waits for one; returns its number.
    func wait() -> Int32 {
        var received: Int32 = 0
        sigwait(&signals, &received)
        return received
    }
}
