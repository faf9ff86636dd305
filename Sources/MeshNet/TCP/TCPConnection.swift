#if canImport(Glibc)
import Glibc
#endif

/// One TCP connection on a loop: bytes in go to `onData`, bytes out are queued and written as the socket takes
/// them (several buffers per `writev`), so a slow peer only slows itself. TLS is a handler on the connection's
/// `Channel` (`TLSHandler`), not part of the connection. All calls on the loop's thread.
public final class TCPConnection: @unchecked Sendable {
    public let loop: EventLoop
    private let fd: Int32
    private var pending = PendingWrites()
    private var closed = false
    private var closeAfterFlush = false
    private var readPaused = false
    /// The socket is watched edge-triggered for reading and writing from `start` to `close` (no `epoll_ctl` after
    /// the first): a report comes when something changes, not while it stays so. So the connection remembers
    /// whether the socket may still hold bytes (or a FIN) that nobody read: set by every readable report, cleared
    /// by a read that did not fill its space. Reading resumed, or the per-turn limit reached, with this set
    /// reads again from the loop's queue (`continueReading`).
    private var unreadInput = false
    /// A hang-up (FIN, reset, error) was reported: it is reported once, so from then on reads go on to the end
    /// or the error rather than stopping at a read that did not fill its space.
    private var hangUpReported = false
    /// The peer's FIN was reported (`.peerClosedWrite`).
    private var peerClosedWriteReported = false
    /// Whether `continueReading` is queued on the loop.
    private var readQueued = false
    /// Reads per turn, so one busy peer cannot hold the loop from the others (the rest is read a turn later).
    private static let readsPerTurn = 4

    /// Bytes arrived: a slice of the loop's shared read block, so copy or keep what is needed before returning
    /// (keeping the buffer itself is fine: the block is then left to it).
    public var onData: (ByteBuffer) -> Void = { _ in }
    /// Everything queued has been written.
    public var onDrained: () -> Void = {}
    /// The connection is gone (peer closed, error, or `close`); called once. `closeReason` says why, if it failed.
    public var onClose: () -> Void = {}
    /// The peer stopped sending while reading was paused (it may still read what is sent).
    public var onPeerClosedWrite: () -> Void = {}
    /// `closeWhenDrained` was called: last words (TLS's close_notify) can still be queued now. Called once.
    public var onClosingWhenDrained: () -> Void = {}
    private var closeReasonWhenDrained: NetworkError?
    private var peerClosedWrite = false
    /// Set it to learn of the peer's FIN on a plain TCP connection: the connection then stays open for sending and
    /// closes once this side has finished too (`finishWhenDrained`). Left nil, a FIN closes the connection.
    public var onPeerFinished: (() -> Void)?
    private var peerFinished = false
    private var finishAfterFlush = false
    private var finishedWriting = false
    /// Why the connection closed, when a call failed (TLS errors carry OpenSSL's reason); nil for an orderly close.
    public private(set) var closeReason: NetworkError?

    /// Where queued output turns the connection unwritable (above `high`) and writable again (below `low`).
    public var watermarks = WriteWatermarks.standard
    /// False while more than the high watermark waits to be written, until it drains below the low one: a
    /// producer (a proxy's other side, a streaming response) should stop making output meanwhile.
    public private(set) var isWritable = true
    /// `isWritable` changed; called on the loop, after the write that crossed a watermark.
    public var onWritabilityChanged: (Bool) -> Void = { _ in }

    /// A connection over the connected socket `fd`, which it owns from here (and closes).
    public init(fd: Int32, loop: EventLoop) {
        self.fd = fd
        self.loop = loop
    }

    /// Opens a connection to `host:port` (IP literals) without blocking the loop; `completion` runs on the loop
    /// with the started connection or the reason it failed. `sourceHost` (an IP literal of this machine, such as a
    /// local pod's 127.x address) is the address the connection comes from. `Channel.connect` adds TLS.
    public static func connect(host: String, port: Int, loop: EventLoop, sourceHost: String? = nil,
                               completion: @escaping (Result<TCPConnection, NetworkError>) -> Void) {
        loop.execute {
            var storage = sockaddr_storage()
            let length: socklen_t
            do { length = try TCPListener.fill(&storage, host: host, port: port) } catch { return completion(.failure(error as? NetworkError ?? .address(host))) }
            let fd = Socket.openStream(family: Int32(storage.ss_family))
            guard fd >= 0 else { return completion(.failure(.system("socket"))) }
            Socket.setNoDelay(fd)
            if let sourceHost {
                var source = sockaddr_storage()
                do {
                    let sourceLength = try TCPListener.fill(&source, host: sourceHost, port: 0)
                    // The port is chosen at connect, for the address pair: many short connections from one source
                    // are not held back by the ports its closed ones keep in TIME_WAIT.
                    Socket.deferPortChoice(fd)
                    let bound = withUnsafePointer(to: &source) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, sourceLength) } }
                    guard bound == 0 else { throw NetworkError.system("bind \(sourceHost)") }
                } catch {
                    Glibc.close(fd)
                    return completion(.failure(error as? NetworkError ?? .address(sourceHost)))
                }
            }
            let result = withUnsafePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, length) } }
            func established() {
                let connection = TCPConnection(fd: fd, loop: loop)
                do throws(NetworkError) { try connection.start() } catch {
                    connection.close()
                    return completion(.failure(error))
                }
                completion(.success(connection))
            }
            if result == 0 { return established() }
            guard errno == EINPROGRESS else { let error = NetworkError.system("connect \(host):\(port)"); Glibc.close(fd); return completion(.failure(error)) }
            do {
                try loop.register(fd, for: .writable) { _ in
                    loop.unregister(fd)
                    var code: Int32 = 0
                    var size = socklen_t(MemoryLayout<Int32>.size)
                    getsockopt(fd, SOL_SOCKET, SO_ERROR, &code, &size)
                    guard code == 0 else { Glibc.close(fd); return completion(.failure(.system("connect \(host):\(port)", code))) }
                    established()
                }
            } catch {
                Glibc.close(fd)
                completion(.failure(error as? NetworkError ?? .system("epoll_ctl", EBADF)))
            }
        }
    }

    /// The peer's address as `IP:PORT` (`[IP]:PORT` for IPv6), nil when the socket has none.
    public var peerAddress: String? { SocketAddress.text(fd, peer: true) }

    /// This side's address as `IP:PORT`: where the peer reached us.
    public var localAddress: String? { SocketAddress.text(fd, peer: false) }

    /// Starts reading; nothing happens when it already has (connections from `connect` come started) or was closed.
    /// Loop thread only.
    public func start() throws(NetworkError) {
        // A connection closed before it started (TLS that failed at once) must not register its fd number again.
        guard !started, !closed else { return }
        // The loop's table holds the connection while it is registered (until it closes); no weak reference, whose
        // side table would make every retain of the connection a slow one.
        try loop.register(fd, for: [.readable, .writable, .edgeTriggered]) { [self] readiness in ready(readiness) }
        started = true
    }
    private var started = false

    /// Queued on the loop to read what the socket still holds; made once per connection (queueing it costs no
    /// allocation), let go at close.
    private lazy var continueReading: () -> Void = { [self] in
        readQueued = false
        if unreadInput { readAvailable() }
        tellPeerClosedWriteWhilePaused()
    }

    /// Reads the rest on a later turn of the loop, when bytes may be waiting and nobody holds reading back.
    private func readLater() {
        guard unreadInput, !readQueued, !closed, !readPaused, !peerFinished else { return }
        readQueued = true
        loop.execute(continueReading)
    }

    /// Bytes waiting to be written.
    public var pendingOutput: Int { pending.bytes }

    /// Whether the connection has been closed (by either side). Loop thread only.
    public var isClosed: Bool { closed }

    /// Queues a copy of `bytes` and writes what the socket takes now.
    public func send<Bytes: Collection>(_ bytes: Bytes) where Bytes.Element == UInt8 {
        guard !closed else { return }
        pending.append(bytes: bytes)
        flush()
    }

    /// Queues `buffer` itself (no copy) and writes what the socket takes now.
    public func send(_ buffer: ByteBuffer) {
        guard !closed else { return }
        pending.append(buffer)
        flush()
    }

    /// Queues `buffer` (no copy) without writing yet, so several parts leave in one `writev` at the next `flush`.
    public func enqueue(_ buffer: ByteBuffer) {
        guard !closed else { return }
        pending.append(buffer)
    }

    /// Whether reading is paused (by `pauseReading`).
    public var isReadingPaused: Bool { readPaused }

    /// Tells the writability callback when queued bytes crossed a watermark.
    private func updateWritability() {
        if isWritable {
            guard pending.bytes > watermarks.high else { return }
            isWritable = false
            onWritabilityChanged(false)
        } else if pending.bytes < watermarks.low {
            isWritable = true
            onWritabilityChanged(true)
        }
    }

    /// Stops delivering data until `resumeReading` (backpressure while a response is pending). Bytes that arrive
    /// meanwhile stay in the socket, whose buffer then fills and stops the peer.
    public func pauseReading() { readPaused = true }
    /// Delivers data again, from the loop's next turn (never from inside this call).
    public func resumeReading() {
        readPaused = false
        readLater()
    }

    /// Closes once queued bytes are written (after `onClosingWhenDrained` had its say), with `reason` as the
    /// `closeReason` when the close is for a failure.
    public func closeWhenDrained(because reason: NetworkError? = nil) {
        guard !closed else { return }
        if reason != nil, closeReasonWhenDrained == nil { closeReasonWhenDrained = reason }
        if !closeAfterFlush {
            let closing = onClosingWhenDrained
            onClosingWhenDrained = {}
            closing()
        }
        closeAfterFlush = true
        if pendingOutput == 0 { close(because: closeReasonWhenDrained) }
    }

    public func close() { close(because: nil) }

    /// Sends FIN (shuts down the sending side) once queued bytes are written; the peer may go on sending, and the
    /// connection closes when it ends too. The peer gets the last answer and then the end, where closing with its
    /// unread bytes still buffered would reset the connection (and a reset can discard the answer unread).
    public func finishWhenDrained() {
        guard !closed, !finishedWriting else { return }
        finishAfterFlush = true
        flush()
    }

    private func finishWriting() {
        finishAfterFlush = false
        finishedWriting = true
        shutdown(fd, Int32(SHUT_WR))
        if peerFinished { close() }
    }

    private func close(because reason: NetworkError?) {
        guard !closed else { return }
        closed = true
        closeReason = reason
        loop.unregister(fd)
        continueReading = {}
        Glibc.close(fd)
        pending.removeAll()
        onClose()
        onData = { _ in }
        onDrained = {}
        onClose = {}
        onPeerClosedWrite = {}
        onClosingWhenDrained = {}
        onPeerFinished = nil
        onWritabilityChanged = { _ in }
    }

    /// A report from the loop. Edge-triggered, a report says what is ready now (writable too, whenever it is), so
    /// output is flushed only when some waits, and input read whenever something new came.
    private func ready(_ readiness: EventLoop.Readiness) {
        if readiness.contains(.writable) && !pending.isEmpty { flush() }
        guard !closed else { return }
        if readiness.contains(.readable) || readiness.contains(.peerClosedWrite) { unreadInput = true }
        if readiness.contains(.peerClosedWrite) { peerClosedWriteReported = true }
        if !readiness.isDisjoint(with: .hangUp) { hangUpReported = true }
        if !readiness.isDisjoint(with: .failed) && (readPaused || !readiness.contains(.readable)) {
            close()
        } else if !readPaused && unreadInput {
            readAvailable()
        }
        tellPeerClosedWriteWhilePaused()
    }

    /// A peer that stopped sending while reading is paused is told once (its FIN waits behind unread bytes).
    private func tellPeerClosedWriteWhilePaused() {
        guard readPaused, peerClosedWriteReported, !peerClosedWrite, !closed else { return }
        peerClosedWrite = true
        onPeerClosedWrite()
    }

    private func readAvailable() {
        for _ in 0..<Self.readsPerTurn {
            guard !closed && !readPaused && !peerFinished else { return }
            var transfer = Socket.Transfer.wouldBlock
            var drained = false
            let received = loop.receiveBuffer.receive { space in
                transfer = Socket.read(fd, into: space)
                guard case .done(let count) = transfer else { return 0 }
                drained = count < space.count
                return count
            }
            switch transfer {
            case .done: break
            case .wouldBlock: unreadInput = false; return
            case .end: unreadInput = false; return peerSentFIN()
            case .failed(let code): close(because: .system("read", code)); return
            }
            // A read that did not fill the space took all the socket had: asking again would only hear EAGAIN
            // (a syscall per request), and what arrives later comes with a report of its own.
            let tookAll = drained && !hangUpReported
            if tookAll { unreadInput = false }
            if let received { onData(received) }
            if tookAll { return }
        }
        readLater()
    }

    /// The peer will send no more: close, or with `onPeerFinished` set, stop reading and tell it.
    private func peerSentFIN() {
        guard let finished = onPeerFinished else { return close() }
        peerFinished = true
        peerClosedWrite = true
        finished()
        if finishedWriting { close() }
    }

    /// Writes what the socket takes now of the queued bytes; the rest goes when the socket is writable again.
    public func flush() {
        defer { if !closed { updateWritability() } }
        while !closed && !pending.isEmpty {
            switch Socket.write(fd, pending) {
            case .done(let count): pending.consume(count)
            // The socket's next report that it is writable comes when its buffer has room again.
            case .wouldBlock: return
            case .end: close(); return
            case .failed(let code): close(because: .system("write", code)); return
            }
        }
        guard !closed else { return }
        if closeAfterFlush { close(because: closeReasonWhenDrained); return }
        if finishAfterFlush { finishWriting(); if closed { return } }
        updateWritability()
        onDrained()
    }
}
