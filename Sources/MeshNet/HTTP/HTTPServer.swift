import Foundation

/// Answers one request: once with `respond`, or with a stream of chunks (`startStream`) for long responses such
/// as watches. Safe to use from any thread; the work happens on the connection's loop.
public final class HTTPResponder: @unchecked Sendable {
    let connection: HTTPServerConnection
    let keepAlive: Bool
    private var answered = false

    init(connection: HTTPServerConnection, keepAlive: Bool) {
        self.connection = connection
        self.keepAlive = keepAlive
    }

    public var loop: EventLoop { connection.tcp.loop }

    /// The client's address as `IP:PORT`.
    public var peerAddress: String? { connection.tcp.peerAddress }

    /// The address the client reached, as `IP:PORT`.
    public var localAddress: String? { connection.tcp.localAddress }

    /// Closes the connection without answering (a test server that drops a request). Any thread.
    public func abort() {
        onLoop { [self] in
            guard !answered else { return }
            answered = true
            connection.tcp.close()
        }
    }

    public func respond(_ response: HTTPResponse) {
        if loop.inLoop { write(response) } else { loop.execute { [self] in write(response) } }
    }

    /// Head and body in one buffer, handed to the connection without another copy.
    private func write(_ response: HTTPResponse) {
        guard !answered else { return }
        answered = true
        var out = ByteBuffer(capacity: 64 + response.headers.reduce(0) { $0 + $1.name.utf8.count + $1.value.utf8.count + 4 } + response.body.count)
        HTTPResponse.writeStatusAndHeaders(status: response.status, headers: response.headers, into: &out)
        out.writeString("Content-Length: ")
        out.writeString(String(response.body.count))
        out.writeString(keepAlive ? "\r\n\r\n" : "\r\nConnection: close\r\n\r\n")
        out.writeBytes(response.body)
        connection.tcp.send(out)
        connection.finished(keepAlive: keepAlive)
    }

    /// Starts a chunked response; the stream ends with `HTTPStream.finish` or when the client goes away.
    public func startStream(status: Int, headers: [(name: String, value: String)]) -> HTTPStream {
        let stream = HTTPStream(responder: self)
        onLoop { [self] in
            guard !answered else { return }
            answered = true
            // The client may be gone already, or go with the head's write: either way the stream ends, so its onEnd runs.
            guard !connection.tcp.isClosed else { stream.ended(clientGone: true); return }
            connection.stream = stream
            connection.tcp.send(HTTPResponse.head(status: status, headers: headers + [("Transfer-Encoding", "chunked")]))
        }
        return stream
    }

    func onLoop(_ work: @escaping () -> Void) {
        if loop.inLoop { work() } else { loop.execute(work) }
    }
}

/// The body of a streamed response, written in chunks as they come.
public final class HTTPStream: @unchecked Sendable {
    private let responder: HTTPResponder
    private var ended = false
    /// Called once, on the loop, when the stream ends for any reason (finish, client gone, server stopping). Set it on the
    /// loop; set after the stream has already ended (a first write that failed), it runs at once.
    public var onEnd: () -> Void = {} {
        didSet {
            guard ended else { return }
            let end = onEnd
            onEnd = {}
            end()
        }
    }

    init(responder: HTTPResponder) { self.responder = responder }

    public var loop: EventLoop { responder.loop }

    /// Sends one chunk (nothing when empty). Any thread.
    public func send(_ bytes: [UInt8]) {
        guard !bytes.isEmpty else { return }
        responder.onLoop { [self] in
            guard !ended else { return }
            responder.connection.tcp.send(Array(String(bytes.count, radix: 16).utf8) + [13, 10] + bytes + [13, 10])
        }
    }

    /// Bytes queued for a slow client; callers may drop the stream when it grows too much.
    public var pendingOutput: Int { responder.connection.tcp.pendingOutput }

    /// Ends the response. Any thread.
    public func finish() {
        responder.onLoop { [self] in
            guard !ended else { return }
            responder.connection.tcp.send(Array("0\r\n\r\n".utf8))
            ended(clientGone: false)
        }
    }

    func ended(clientGone: Bool) {
        guard !ended else { return }
        ended = true
        let end = onEnd
        onEnd = {}
        end()
        if !clientGone { responder.connection.finished(keepAlive: responder.keepAlive) }
    }
}

/// A request handler: called on a loop thread; it must answer through the responder, now or later.
public typealias HTTPHandler = @Sendable (HTTPRequest, HTTPResponder) -> Void

/// HTTP/1.1 over TCP or TLS on a few event loops: keep-alive, pipelining (one request at a time), chunked bodies
/// both ways, `Expect: 100-continue`, and limits on head and body sizes.
public final class HTTPServer: @unchecked Sendable {
    public let port: Int
    let loops: [EventLoop]
    private let listener: TCPListener
    private let tls: TLSServerContext?
    private let handler: HTTPHandler
    let maxBodyBytes: Int
    /// Seconds a connection may take to send a complete request head before it is closed.
    let headTimeout: Double
    private let counter = NSLock()
    private var nextLoop = 0
    private var closedSinceTrim = 0

    public init(host: String, port: Int, loops: [EventLoop], tls: TLSServerContext?, maxBodyBytes: Int = 3 * 1024 * 1024,
                headTimeout: Double = 30, handler: @escaping HTTPHandler) throws(NetworkError) {
        precondition(!loops.isEmpty, "an HTTP server needs at least one loop")
        self.loops = loops
        self.tls = tls
        self.handler = handler
        self.maxBodyBytes = maxBodyBytes
        self.headTimeout = headTimeout
        listener = try TCPListener(host: host, port: port, loop: loops[0])
        self.port = listener.port
    }

    /// Starts accepting connections (the loops must be started).
    public func start() {
        listener.start { [self] fd in
            counter.lock()
            let loop = loops[nextLoop % loops.count]
            nextLoop += 1
            counter.unlock()
            loop.execute { [self] in
                guard let tcp = try? TCPConnection(fd: fd, loop: loop, tls: tls) else { close(fd); return }
                let connection = HTTPServerConnection(tcp: tcp, server: self)
                connection.begin()
            }
        }
    }

    /// Stops accepting; open connections end when their loops stop.
    public func stop() { listener.close() }

    func handle(_ request: HTTPRequest, _ responder: HTTPResponder) { handler(request, responder) }

    /// After many connections have gone, hands the heap they freed back to the system (glibc keeps freed small
    /// blocks otherwise, so RSS stays at its peak after a burst of clients).
    func connectionClosed() {
        counter.lock()
        closedSinceTrim += 1
        let trim = closedSinceTrim >= 512
        if trim { closedSinceTrim = 0 }
        counter.unlock()
        if trim { Heap.giveBackFreedMemory() }
    }
}

/// One client connection's HTTP state, on its loop.
final class HTTPServerConnection {
    let tcp: TCPConnection
    private unowned let server: HTTPServer
    private var parser: HTTP1Parser
    private var busy = false
    private var headTimer: EventLoop.TimerID?
    /// When the wait for the next request head began (loop clock), nil while a request is being served. The head
    /// timer is not moved for each request: when it fires it compares this with the timeout and, if the wait is
    /// younger, schedules itself for the rest.
    private var waitingSince: UInt64?
    var stream: HTTPStream?
    /// Kept alive by the loop's handler table through `tcp`'s callbacks.
    private var retainSelf: HTTPServerConnection?

    init(tcp: TCPConnection, server: HTTPServer) {
        self.tcp = tcp
        self.server = server
        parser = HTTP1Parser(maxBodyBytes: server.maxBodyBytes)
    }

    func begin() {
        retainSelf = self
        tcp.onData = { [unowned self] bytes in
            parser.feed(bytes)
            process()
        }
        tcp.onClose = { [unowned self] in
            server.connectionClosed()
            if let headTimer { tcp.loop.cancel(headTimer) }
            stream?.ended(clientGone: true)
            stream = nil
            retainSelf = nil
        }
        // A client that stops sending during a streamed response has gone away (watch clients never send more).
        tcp.onPeerClosedWrite = { [unowned self] in
            if stream != nil { tcp.close() }
        }
        armHeadTimer()
        do { try tcp.start() } catch { tcp.close() }
    }

    private func armHeadTimer() {
        waitingSince = tcp.loop.now()
        if headTimer == nil { scheduleHeadTimer(after: server.headTimeout) }
    }

    private func scheduleHeadTimer(after seconds: Double) {
        headTimer = tcp.loop.schedule(after: seconds) { [weak self] in
            guard let self else { return }
            headTimer = nil
            guard let waitingSince, !busy else { return }
            let waited = Double(tcp.loop.now() - waitingSince) / 1e9
            if waited >= server.headTimeout { tcp.close() } else { scheduleHeadTimer(after: server.headTimeout - waited) }
        }
    }

    private func process() {
        while !busy {
            switch parser.next() {
            case .needMore:
                return
            case .continueExpected:
                tcp.send(HTTPResponse.head(status: 100, headers: []))
            case .reject(let status, let reason):
                busy = true
                tcp.pauseReading()
                tcp.send(HTTPResponse.head(status: status, headers: [("Content-Type", "text/plain"), ("Content-Length", String(reason.utf8.count + 1)),
                                                                    ("Connection", "close")]) + Array((reason + "\n").utf8))
                tcp.closeWhenDrained()
                return
            case .request(let box):
                busy = true
                waitingSince = nil
                tcp.pauseReading()
                let request = box.request
                server.handle(request, HTTPResponder(connection: self, keepAlive: request.keepAlive))
            }
        }
    }

    /// The current exchange is over: read the next request, or close.
    func finished(keepAlive: Bool) {
        stream = nil
        guard keepAlive else { tcp.closeWhenDrained(); return }
        busy = false
        armHeadTimer()
        tcp.resumeReading()
        process()
    }
}
