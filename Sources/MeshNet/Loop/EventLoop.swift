import CEpoll
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One thread waiting on epoll: file descriptors report readiness to their handlers, timers fire, and other threads
/// hand it work with `execute`. Handlers run on the loop's thread and must not block. This is the only file that
/// sees epoll; everything above it deals in `Readiness`.
public final class EventLoop: @unchecked Sendable {
    public typealias TimerID = Int

    /// What a descriptor is ready for.
    public struct Readiness: OptionSet, Sendable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        public static let readable = Readiness(rawValue: EPOLLIN.rawValue)
        public static let writable = Readiness(rawValue: EPOLLOUT.rawValue)
        /// The peer will send no more (it may still read).
        public static let peerClosedWrite = Readiness(rawValue: EPOLLRDHUP.rawValue)
        /// The connection failed or both directions are closed.
        public static let failed = Readiness(rawValue: EPOLLHUP.rawValue | EPOLLERR.rawValue)
        /// The peer hung up or the socket failed; read to find out which.
        public static let hangUp: Readiness = [.peerClosedWrite, .failed]
        /// In an interest: report a change of readiness once, not for as long as it lasts (EPOLLET). The handler
        /// then keeps track of what it left unread or unwritten.
        static let edgeTriggered = Readiness(rawValue: EPOLLET.rawValue)
    }

    /// A registered descriptor; the id (not the descriptor number) travels in epoll's event data, so an event
    /// that was already collected for a closed descriptor never reaches whoever reuses the number.
    private struct Registration {
        let fd: Int32
        let id: UInt64
        let handler: (Readiness) -> Void
    }

    /// Registrations in numbered slots, so an event finds its handler by index rather than by hashing. An id is
    /// the slot (from 1) in its low 32 bits and a count of registrations in its high ones: a slot reused by a new
    /// registration gets a new id, and an event carrying the old one finds no match.
    private struct RegistrationTable {
        private var slots: [Registration?] = []
        private var free: [Int] = []
        /// Each descriptor's id, by descriptor number (0: none).
        private var idsByDescriptor: [UInt64] = []
        private var issued: UInt64 = 0

        mutating func add(fd: Int32, handler: @escaping (Readiness) -> Void) -> UInt64 {
            let slot: Int
            if let reused = free.popLast() { slot = reused } else { slot = slots.count; slots.append(nil) }
            issued += 1
            let id = (issued << 32) | UInt64(slot + 1)
            slots[slot] = Registration(fd: fd, id: id, handler: handler)
            let index = Int(fd)
            if index >= idsByDescriptor.count { idsByDescriptor += Array(repeating: 0, count: max(64, index + 1 - idsByDescriptor.count)) }
            idsByDescriptor[index] = id
            return id
        }

        func id(of fd: Int32) -> UInt64? {
            let index = Int(fd)
            guard index >= 0, index < idsByDescriptor.count, idsByDescriptor[index] != 0 else { return nil }
            return idsByDescriptor[index]
        }

        /// The handler registered under `id`, if it is still registered.
        func handler(for id: UInt64) -> ((Readiness) -> Void)? {
            let slot = Int(id & 0xffff_ffff) - 1
            guard slot >= 0, slot < slots.count, let registration = slots[slot], registration.id == id else { return nil }
            return registration.handler
        }

        mutating func remove(fd: Int32) -> UInt64? {
            guard let id = id(of: fd) else { return nil }
            idsByDescriptor[Int(fd)] = 0
            let slot = Int(id & 0xffff_ffff) - 1
            slots[slot] = nil
            free.append(slot)
            return id
        }

        var handlers: [(Readiness) -> Void] { slots.compactMap { $0?.handler } }

        mutating func removeAll() {
            slots.removeAll()
            free.removeAll()
            idsByDescriptor.removeAll()
        }
    }

    private static let wakeID: UInt64 = 0
    private static let eventsPerTurn = 256

    private let epoll: Int32
    private let wake: Int32
    private let clock: ManualClock?
    private var registrations = RegistrationTable()
    private var timers = TimerHeap()
    private var nextTimer = 0

    /// Work handed over by other threads, and whether the eventfd has been written since the loop last took it.
    private let lock = NSLock()
    private var queued: [() -> Void] = []
    private var wakePending = false
    private var wakeUpCount = 0
    /// Work the loop handed itself; needs no lock and no wake-up.
    private var local: [() -> Void] = []
    /// Work taken from `queued` and run a batch per turn, so sockets that become ready meanwhile (another client's
    /// GET) are served between batches of a burst (a write 1,000 watchers must hear of).
    private var running: [() -> Void] = []
    private var runningIndex = 0
    private static let batch = 256
    private var runningLocal: [() -> Void] = []

    private enum State { case idle, running, stopped }
    private var state = State.idle
    private let stateChanged = NSCondition()
    private var stopping = false
    private var loopThread: pthread_t?

    /// Turns of the loop so far (one `epoll_wait` each), for tests that check nothing spins. Loop thread only.
    private(set) var turns = 0
    /// Where connections on this loop read into: one block shared in turn instead of a buffer per connection.
    var receiveBuffer = ReceiveBuffer()
    /// Where TLS layers on this loop decrypt into, the same way (MeshTLS's `TLSLayer.loop`).
    package var plaintextBuffer = ReceiveBuffer()

    public let name: String

    /// A loop on the monotonic clock, or on `clock` (tests).
    public init(name: String, clock: ManualClock? = nil) throws(NetworkError) {
        self.name = name
        self.clock = clock
        // Every MeshNet socket runs on a loop: a peer that goes away while we write must cost an EPIPE on that
        // connection (server or client side), not the process.
        signal(SIGPIPE, SIG_IGN)
        epoll = epoll_create1(Int32(EPOLL_CLOEXEC))
        guard epoll >= 0 else { throw NetworkError.system("epoll_create1") }
        wake = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
        guard wake >= 0 else { close(epoll); throw NetworkError.system("eventfd") }
        var event = epoll_event(events: EPOLLIN.rawValue, data: epoll_data_t(u64: Self.wakeID))
        guard epoll_ctl(epoll, EPOLL_CTL_ADD, wake, &event) == 0 else {
            let error = NetworkError.system("epoll_ctl add eventfd")
            close(wake); close(epoll)
            throw error
        }
        clock?.attach(self)
    }

    deinit {
        close(wake)
        close(epoll)
    }

    /// Starts the loop's thread and returns once it runs (so `inLoop` answers correctly from then on).
    public func start() {
        stateChanged.lock()
        guard state == .idle else { stateChanged.unlock(); return }
        state = .running
        stateChanged.unlock()
        let started = DispatchSemaphore(value: 0)
        let thread = Thread { [self] in
            loopThread = pthread_self()
            started.signal()
            run()
        }
        thread.name = name
        thread.start()
        started.wait()
    }

    /// Stops the loop after its current turn; from outside the loop it also waits for the thread to end. Safe
    /// from any thread, any number of times.
    public func stop() {
        if inLoop { stopping = true; return }
        stateChanged.lock()
        if state == .idle { state = .stopped }
        let wait = state == .running
        stateChanged.unlock()
        guard wait else { return }
        execute { [self] in stopping = true }
        stateChanged.lock()
        while state != .stopped { stateChanged.wait() }
        stateChanged.unlock()
    }

    /// Whether the caller runs on this loop's thread.
    public var inLoop: Bool { loopThread.map { pthread_equal($0, pthread_self()) != 0 } ?? false }

    /// Debug builds trap when a loop-only call comes from another thread.
    func assertInLoop(_ call: StaticString = #function) {
        assert(inLoop, "\(call) must run on the loop's thread (\(name))")
    }

    /// Runs `work` on the loop's thread, soon. Safe from any thread; only another thread's first call since the
    /// loop last looked costs a wake-up.
    public func execute(_ work: @escaping () -> Void) {
        if inLoop { local.append(work); return }
        lock.lock()
        queued.append(work)
        let needsWake = !wakePending
        wakePending = true
        if needsWake { wakeUpCount += 1 }
        lock.unlock()
        if needsWake {
            var one: UInt64 = 1
            _ = write(wake, &one, 8)
        }
    }

    /// Times another thread's `execute` wrote the eventfd, for tests.
    var wakeUps: Int {
        lock.lock(); defer { lock.unlock() }
        return wakeUpCount
    }

    /// Calls `handler` whenever `fd` is ready for `interest` (hang-ups are always reported). Loop thread only.
    public func register(_ fd: Int32, for interest: Readiness, handler: @escaping (Readiness) -> Void) throws(NetworkError) {
        assertInLoop()
        let id = registrations.add(fd: fd, handler: handler)
        var event = epoll_event(events: interest.rawValue | EPOLLRDHUP.rawValue, data: epoll_data_t(u64: id))
        guard epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &event) == 0 else {
            let error = NetworkError.system("epoll_ctl add")
            _ = registrations.remove(fd: fd)
            throw error
        }
    }

    /// Changes what `fd` is watched for; `halfClose: false` stops reporting a peer that closed its sending side. Loop thread only.
    public func watch(_ fd: Int32, for interest: Readiness, halfClose: Bool = true) {
        assertInLoop()
        guard let id = registrations.id(of: fd) else { return }
        var event = epoll_event(events: interest.rawValue | (halfClose ? EPOLLRDHUP.rawValue : 0), data: epoll_data_t(u64: id))
        epoll_ctl(epoll, EPOLL_CTL_MOD, fd, &event)
    }

    /// Stops watching `fd` (the caller closes it). Loop thread only.
    public func unregister(_ fd: Int32) {
        assertInLoop()
        guard registrations.remove(fd: fd) != nil else { return }
        epoll_ctl(epoll, EPOLL_CTL_DEL, fd, nil)
    }

    /// Runs `work` on the loop after `seconds`. Loop thread only.
    @discardableResult
    public func schedule(after seconds: Double, _ work: @escaping () -> Void) -> TimerID {
        assertInLoop()
        nextTimer += 1
        let delay = UInt64(max(0, min(seconds, 1e9)) * 1e9)
        timers.insert(TimerHeap.Timer(deadline: now() + delay, id: nextTimer, work: work))
        return nextTimer
    }

    /// Cancels a timer that has not fired; nothing happens for one that has. Loop thread only.
    public func cancel(_ timer: TimerID) {
        assertInLoop()
        timers.remove(id: timer)
    }

    /// Timers waiting to fire. Loop thread only.
    var scheduledTimers: Int { timers.count }

    /// Nanoseconds on this loop's clock.
    package func now() -> UInt64 {
        if let clock { return clock.now }
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }

    /// For `ManualClock.advance`: fire what came due, and return when done.
    func runDueTimersAndWait() {
        if inLoop { fireTimers(); return }
        stateChanged.lock()
        let isRunning = state == .running
        stateChanged.unlock()
        guard isRunning else { return }
        let done = DispatchSemaphore(value: 0)
        execute { [self] in fireTimers(); done.signal() }
        done.wait()
    }

    private func run() {
        var events = [epoll_event](repeating: epoll_event(), count: Self.eventsPerTurn)
        while !stopping {
            turns += 1
            let count = epoll_wait(epoll, &events, Int32(events.count), waitTimeout())
            if count > 0 {
                for index in 0..<Int(count) {
                    let id = events[index].data.u64
                    if id == Self.wakeID {
                        var value: UInt64 = 0
                        _ = read(wake, &value, 8)
                        woken = true
                        continue
                    }
                    // Gone when an earlier handler of this turn closed it.
                    registrations.handler(for: id)?(Readiness(rawValue: events[index].events))
                }
            }
            runQueued()
            fireTimers()
        }
        // Close what is still registered, as a stopped loop serves nobody.
        let remaining = registrations.handlers
        for handler in remaining { handler(.hangUp) }
        registrations.removeAll()
        timers.removeAll()
        stateChanged.lock()
        state = .stopped
        stateChanged.broadcast()
        stateChanged.unlock()
    }

    /// Milliseconds `epoll_wait` may block: not at all when work is waiting, until the next timer, or until woken.
    private func waitTimeout() -> Int32 {
        if !local.isEmpty || runningIndex < running.count { return 0 }
        guard clock == nil, let deadline = timers.nextDeadline else { return -1 }
        let current = now()
        guard deadline > current else { return 0 }
        return Int32(min(Int64(Int32.max), Int64((deadline - current + 999_999) / 1_000_000)))
    }

    /// Whether the eventfd fired since work was last taken from `queued`: only then can there be any (another
    /// thread's first `execute` after a take always writes it), so a turn without it takes no lock.
    private var woken = false

    private func runQueued() {
        if runningIndex == running.count && woken { takeQueued() }
        let end = min(running.count, runningIndex + Self.batch)
        while runningIndex < end {
            let work = running[runningIndex]
            running[runningIndex] = {}
            runningIndex += 1
            work()
        }
        // Refill at once when the eventfd said work came: what was queued during the batch runs next turn.
        if runningIndex == running.count && woken { takeQueued() }
        // What the loop queued for itself, including during the work above; what that queues waits a turn.
        guard !local.isEmpty else { return }
        swap(&local, &runningLocal)
        for work in runningLocal { work() }
        runningLocal.removeAll(keepingCapacity: true)
    }

    /// Moves what other threads queued into `running`; their next work writes the eventfd again.
    private func takeQueued() {
        running.removeAll(keepingCapacity: true)
        runningIndex = 0
        woken = false
        lock.lock()
        swap(&queued, &running)
        wakePending = false
        lock.unlock()
    }

    private func fireTimers() {
        guard !timers.isEmpty else { return }
        let current = now()
        while let timer = timers.popDue(now: current) { timer.work() }
    }
}

/// A network failure: which call failed and errno's explanation.
public enum NetworkError: Error, CustomStringConvertible, Sendable {
    case system(String, Int32)
    case address(String)
    case tls(String)

    package static func system(_ call: String) -> NetworkError { .system(call, errno) }

    public var description: String {
        switch self {
        case .system(let call, let code): return "\(call): \(String(cString: strerror(code)))"
        case .address(let text): return "bad address \(text)"
        case .tls(let text): return "TLS: \(text)"
        }
    }
}
