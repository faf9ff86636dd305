import CMeshShims
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One thread waiting on epoll: file descriptors report readiness to their handlers, timers fire, and other threads
/// hand it work with `execute`. Handlers run on the loop's thread and must not block.
public final class EventLoop: @unchecked Sendable {
    public typealias TimerID = Int

    /// What a descriptor is ready for.
    public struct Readiness: OptionSet, Sendable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        public static let readable = Readiness(rawValue: EPOLLIN.rawValue)
        public static let writable = Readiness(rawValue: EPOLLOUT.rawValue)
        /// The peer hung up or the socket failed; read to find out which.
        public static let hangUp = Readiness(rawValue: EPOLLHUP.rawValue | EPOLLERR.rawValue | EPOLLRDHUP.rawValue)
    }

    private let epoll: Int32
    private let wake: Int32
    private var handlers: [Int32: (Readiness) -> Void] = [:]
    private var timers: [(deadline: Double, id: TimerID, work: () -> Void)] = []
    private var nextTimer = 0
    private let lock = NSLock()
    private var queued: [() -> Void] = []
    /// Work taken from `queued`, run a batch per turn (loop thread only), so ready sockets are served between batches.
    private var running: [() -> Void] = []
    private var runningIndex = 0
    private static let batch = 256
    private var stopping = false
    private var thread: Thread?
    private let finished = DispatchSemaphore(value: 0)
    /// The loop thread's identity, to check that loop-only calls come from it.
    private var loopThreadID: pthread_t?

    public let name: String

    /// One read buffer for every connection on this loop (reads happen one at a time, on the loop's thread, and
    /// `onData` handlers copy what they keep): 5,000 idle connections cost no 64 KiB each.
    var readBuffer = [UInt8](repeating: 0, count: 64 * 1024)

    public init(name: String) throws(NetworkError) {
        self.name = name
        // Every MeshNet socket runs on a loop: a peer that goes away while we write must cost an EPIPE on that
        // connection (server or client side), not the process.
        signal(SIGPIPE, SIG_IGN)
        epoll = epoll_create1(Int32(EPOLL_CLOEXEC))
        guard epoll >= 0 else { throw NetworkError.system("epoll_create1") }
        wake = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
        guard wake >= 0 else { close(epoll); throw NetworkError.system("eventfd") }
        var event = epoll_event(events: EPOLLIN.rawValue, data: epoll_data_t(fd: wake))
        epoll_ctl(epoll, EPOLL_CTL_ADD, wake, &event)
    }

    deinit {
        close(wake)
        close(epoll)
    }

    /// Starts the loop's thread.
    public func start() {
        let thread = Thread { [self] in run() }
        thread.name = name
        self.thread = thread
        thread.start()
    }

    /// Asks the loop to stop after the current iteration and waits for its thread to end.
    public func stop() {
        execute { [self] in stopping = true }
        if thread != nil { finished.wait() }
    }

    /// Whether the caller runs on this loop's thread.
    public var inLoop: Bool { loopThreadID.map { pthread_equal($0, pthread_self()) != 0 } ?? false }

    /// Runs `work` on the loop's thread, soon. Safe from any thread.
    public func execute(_ work: @escaping () -> Void) {
        lock.lock()
        queued.append(work)
        lock.unlock()
        var one: UInt64 = 1
        _ = write(wake, &one, 8)
    }

    /// Calls `handler` whenever `fd` is ready for `interest` (hang-ups are always reported). Loop thread only.
    public func register(_ fd: Int32, for interest: Readiness, handler: @escaping (Readiness) -> Void) throws(NetworkError) {
        var event = epoll_event(events: interest.rawValue | EPOLLRDHUP.rawValue, data: epoll_data_t(fd: fd))
        guard epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &event) == 0 else { throw NetworkError.system("epoll_ctl add") }
        handlers[fd] = handler
    }

    /// Changes what `fd` is watched for; `halfClose: false` stops reporting a peer that closed its sending side. Loop thread only.
    public func watch(_ fd: Int32, for interest: Readiness, halfClose: Bool = true) {
        var event = epoll_event(events: interest.rawValue | (halfClose ? EPOLLRDHUP.rawValue : 0), data: epoll_data_t(fd: fd))
        epoll_ctl(epoll, EPOLL_CTL_MOD, fd, &event)
    }

    /// Stops watching `fd` (the caller closes it). Loop thread only.
    public func unregister(_ fd: Int32) {
        epoll_ctl(epoll, EPOLL_CTL_DEL, fd, nil)
        handlers[fd] = nil
    }

    /// Runs `work` on the loop after `seconds`. Loop thread only.
    @discardableResult
    public func schedule(after seconds: Double, _ work: @escaping () -> Void) -> TimerID {
        nextTimer += 1
        timers.append((Self.now() + seconds, nextTimer, work))
        return nextTimer
    }

    public func cancel(_ timer: TimerID) {
        timers.removeAll { $0.id == timer }
    }

    static func now() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }

    private func run() {
        loopThreadID = pthread_self()
        var events = [epoll_event](repeating: epoll_event(), count: 256)
        while !stopping {
            let timeout: Int32
            if runningIndex < running.count {
                timeout = 0  // queued work is waiting: only look at what is ready
            } else if let next = timers.map(\.deadline).min() {
                timeout = Int32(max(0, min(1000, (next - Self.now()) * 1000).rounded(.up)))
            } else {
                timeout = 1000
            }
            let count = epoll_wait(epoll, &events, Int32(events.count), timeout)
            if count > 0 {
                for index in 0..<Int(count) {
                    let fd = events[index].data.fd
                    if fd == wake {
                        var value: UInt64 = 0
                        _ = read(wake, &value, 8)
                        continue
                    }
                    handlers[fd]?(Readiness(rawValue: events[index].events))
                }
            }
            runQueued()
            fireTimers()
        }
        // Close what is still registered, as a stopped loop serves nobody.
        for handler in handlers.values { handler(.hangUp) }
        handlers.removeAll()
        finished.signal()
    }

    /// Runs up to a batch of the work other threads handed over. A burst (a write that 1,000 watchers must hear of)
    /// is spread over several turns, and sockets that became ready meanwhile (another client's GET) are served in
    /// between instead of after the whole burst.
    private func runQueued() {
        if runningIndex == running.count {
            lock.lock()
            swap(&running, &queued)  // `running` was emptied at the end of its last batch: `queued` starts empty again
            lock.unlock()
            runningIndex = 0
        }
        let end = min(running.count, runningIndex + Self.batch)
        while runningIndex < end {
            let work = running[runningIndex]
            running[runningIndex] = {}
            runningIndex += 1
            work()
        }
        if runningIndex == running.count {
            running.removeAll(keepingCapacity: true)
            runningIndex = 0
        }
    }

    private func fireTimers() {
        guard !timers.isEmpty else { return }
        let now = Self.now()
        let due = timers.filter { $0.deadline <= now }
        guard !due.isEmpty else { return }
        timers.removeAll { $0.deadline <= now }
        for timer in due { timer.work() }
    }
}

/// A network failure: which call failed and errno's explanation.
public enum NetworkError: Error, CustomStringConvertible, Sendable {
    case system(String, Int32)
    case address(String)
    case tls(String)

    static func system(_ call: String) -> NetworkError { .system(call, errno) }

    public var description: String {
        switch self {
        case .system(let call, let code): return "\(call): \(String(cString: strerror(code)))"
        case .address(let text): return "bad address \(text)"
        case .tls(let text): return "TLS: \(text)"
        }
    }
}
