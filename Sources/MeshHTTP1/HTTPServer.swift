import Foundation
import MeshNet
import MeshTLS

/// A request handler: called on a loop thread with the whole request (its body collected up to the server's
/// `maxBodyBytes`); it must answer through the responder, now or later.
public typealias HTTPHandler = @Sendable (HTTPRequest, HTTPResponder) -> Void

/// A request handler that takes the body as it arrives: called on the loop with the head as soon as it is read;
/// the body's parts follow through `HTTPRequestBody`. It must answer through the responder, now or later.
public typealias HTTPStreamingHandler = @Sendable (HTTPRequestHead, HTTPRequestBody, HTTPResponder) -> Void

/// HTTP/1.1 over TCP or TLS on a few event loops, on the streaming codec: keep-alive, pipelining (one request
/// answered at a time, the next read when the answer is done), bodies streamed both ways (chunked or with a
/// length), `Expect: 100-continue`, limits on head and body sizes, and a head timeout against clients that
/// dribble a head (408). Each connection is a `Channel` whose top handler is the connection's HTTP state.
public final class HTTPServer: @unchecked Sendable {
    /// How connections are accepted.
    public typealias Acceptance = ConnectionAcceptor.Acceptance

    /// Makes the top handler of a connection whose TLS handshake settled on another protocol than HTTP/1.1 (ALPN
    /// `h2`): it takes over the connection from its first bytes. Called on the connection's loop.
    public typealias ProtocolHandoff = @Sendable () -> ChannelHandler

    public let port: Int
    private let acceptor: ConnectionAcceptor
    private let tls: TLSServerContext?
    /// The other protocols this server speaks, by ALPN name (the TLS context must offer them).
    let handoffs: [String: ProtocolHandoff]
    /// What the server hands requests to.
    enum Handling {
        /// Whole requests: the connection collects each body (up to `maxBodyBytes`) before calling.
        case whole(HTTPHandler)
        case streaming(HTTPStreamingHandler)
    }
    let handling: Handling
    let maxBodyBytes: Int
    let maxHeadBytes: Int
    /// Seconds a connection may take to send a complete request head before it is answered 408 (or closed, if it sent nothing).
    let headTimeout: Double
    private let counter = NSLock()
    private var closedSinceTrim = 0
    /// Connections by the protocol ALPN chose (`http/1.1`, `h2`; `none` without ALPN or TLS), counted at the first request.
    private var protocolCounts: [String: Int] = [:]

    /// A server whose handler gets whole requests, bodies collected up to `maxBodyBytes` (more is answered 413).
    /// With `tls`, each connection's channel has a `TLSHandler` at its bottom: certificates chosen by SNI, the
    /// context's ALPN list and its client-certificate rules. A connection whose ALPN choice is a key of `handoffs`
    /// (offered by the context too, e.g. `h2` before `http/1.1`) is served by the handler that handoff makes.
    public convenience init(host: String, port: Int, loops: [EventLoop], tls: TLSServerContext?, maxBodyBytes: Int = 3 * 1024 * 1024,
                            headTimeout: Double = 30, acceptance: Acceptance = .oneListener, handoffs: [String: ProtocolHandoff] = [:],
                            handler: @escaping HTTPHandler) throws(NetworkError) {
        try self.init(host: host, port: port, loops: loops, tls: tls, maxBodyBytes: maxBodyBytes, maxHeadBytes: 64 * 1024, headTimeout: headTimeout,
                      acceptance: acceptance, handoffs: handoffs, handling: .whole(handler))
    }

    /// A server whose handler gets each request's head at once and its body as it arrives; `maxBodyBytes` bounds
    /// only what `HTTPRequestBody.collect` gathers.
    public convenience init(host: String, port: Int, loops: [EventLoop], tls: TLSServerContext?, maxBodyBytes: Int = 3 * 1024 * 1024,
                            maxHeadBytes: Int = 64 * 1024, headTimeout: Double = 30, acceptance: Acceptance = .oneListener,
                            streamingHandler: @escaping HTTPStreamingHandler) throws(NetworkError) {
        try self.init(host: host, port: port, loops: loops, tls: tls, maxBodyBytes: maxBodyBytes, maxHeadBytes: maxHeadBytes, headTimeout: headTimeout,
                      acceptance: acceptance, handoffs: [:], handling: .streaming(streamingHandler))
    }

    init(host: String, port: Int, loops: [EventLoop], tls: TLSServerContext?, maxBodyBytes: Int, maxHeadBytes: Int,
         headTimeout: Double, acceptance: Acceptance, handoffs: [String: ProtocolHandoff], handling: Handling) throws(NetworkError) {
        acceptor = try ConnectionAcceptor(host: host, port: port, loops: loops, acceptance: acceptance)
        self.tls = tls
        self.handoffs = handoffs
        self.handling = handling
        self.maxBodyBytes = maxBodyBytes
        self.maxHeadBytes = maxHeadBytes
        self.headTimeout = headTimeout
        self.port = acceptor.port
    }

    /// Starts accepting connections (the loops must be started).
    public func start() {
        acceptor.start { [self] tcp in
            var bottom: [ChannelHandler] = []
            if let tls {
                // Only when OpenSSL cannot allocate a session.
                guard let handler = try? TLSHandler(server: tls) else { tcp.close(); return }
                bottom = [handler]
            }
            HTTPServerConnection(tcp: tcp, server: self).begin(under: bottom)
        }
    }

    /// Stops accepting; open connections end when their loops stop.
    public func stop() { acceptor.stop() }

    /// Connections set up per loop so far.
    var connectionsPerLoop: [Int] { acceptor.connectionsPerLoop }

    /// Connections served so far by the protocol ALPN chose (`http/1.1`, `h2`, `none` without ALPN), counted at
    /// their first bytes.
    public var connectionsByProtocol: [String: Int] {
        counter.lock(); defer { counter.unlock() }
        return protocolCounts
    }

    func countProtocol(_ name: String) {
        counter.lock()
        protocolCounts[name, default: 0] += 1
        counter.unlock()
    }

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

/// One client connection's HTTP state, on its loop: the top handler of the connection's channel.
final class HTTPServerConnection: ChannelHandler {
    let tcp: TCPConnection
    private(set) var channel: Channel!
    private let server: HTTPServer
    private var decoder: HTTP1RequestDecoder
    /// The body being read, for a streaming handler; nil while the server collects it itself or none is read.
    private var body: HTTPRequestBody?
    /// For a whole-request handler: the request being read and its body so far.
    private var collecting: (head: HTTPRequestHead, body: [UInt8])?
    /// Whether a request was read whose answer is not finished: the next request waits for it.
    private var responding = false
    /// Whether an answer finished before its request's body was read: the rest of the body is read and dropped.
    private var discardingBody = false
    /// Set while `process` runs, so an answer given inside the handler does not start a nested `process`.
    private var processing = false
    private var pausedForAnswer = false
    private var headTimer: EventLoop.TimerID?
    /// When the wait for the next request head began (loop clock), nil while a request is being served. The head
    /// timer is not moved for each request: when it fires it compares this with the timeout and, if the wait is
    /// younger, schedules itself for the rest.
    private var waitingSince: UInt64?
    var stream: HTTPStream?
    /// The last answer's buffer, reused for the next one once the socket has let go of it (small answers are
    /// written at once), so a keep-alive exchange allocates no output buffer.
    private var spareOutput = ByteBuffer()
    /// The last request's responder, reused when the handler has let go of it (no one can tell it is the same).
    private var spareResponder: HTTPResponder?
    private static let largestSpareOutput = 16 * 1024
    /// Whether the channel has no handler under this one (no TLS): then answers go straight to the socket.
    private var plainTCP = false
    /// Whether the connection's first bytes have arrived (the moment a protocol handoff is decided).
    private var sawBytes = false
    /// The handler of the protocol that took the connection over (see `HTTPServer.ProtocolHandoff`): every event
    /// goes to it, with this handler's context.
    private var successor: ChannelHandler?

    init(tcp: TCPConnection, server: HTTPServer) {
        self.tcp = tcp
        self.server = server
        decoder = HTTP1RequestDecoder(maxHeadBytes: server.maxHeadBytes)
    }

    /// Starts the connection's channel: `bottom` (TLS, if any) under the HTTP state.
    func begin(under bottom: [ChannelHandler]) {
        channel = Channel(connection: tcp, handlers: bottom + [self])
        plainTCP = bottom.isEmpty
        armHeadTimer()
        try? channel.start()
    }

    /// An empty buffer with room for `capacity` bytes, the spare one when it is free.
    func outputBuffer(capacity: Int) -> ByteBuffer {
        var buffer = ByteBuffer()
        swap(&buffer, &spareOutput)
        buffer.reuse(minimumCapacity: capacity)
        return buffer
    }

    /// Sends a whole answer's bytes now, then keeps the buffer as the spare for the next answer if it is small
    /// (moved in, not copied: no retain). Over plain TCP the channel's stack is this handler alone, whose writes
    /// pass down unchanged, so the bytes go to the socket directly rather than through the channel's contexts
    /// (which cost a few retains and calls a request); under TLS they go down through the stack.
    func sendAnswer(_ buffer: consuming ByteBuffer) {
        if plainTCP { tcp.send(buffer) } else { channel?.writeAndFlush(buffer) }
        if buffer.capacity <= Self.largestSpareOutput { spareOutput = buffer }
    }

    /// A responder for the next request: the spare one when nobody else holds it.
    private func responder(keepAlive: Bool) -> HTTPResponder {
        if spareResponder != nil, isKnownUniquelyReferenced(&spareResponder!) {
            spareResponder!.reset(keepAlive: keepAlive)
            return spareResponder!
        }
        let fresh = HTTPResponder(connection: self, keepAlive: keepAlive)
        spareResponder = fresh
        return fresh
    }

    // MARK: Channel events

    func channelRead(context: ChannelContext, data: ByteBuffer) {
        if let successor { return successor.channelRead(context: context, data: data) }
        if !sawBytes, handOff(context) { return successor!.channelRead(context: context, data: data) }
        decoder.feed(data)
        process()
    }

    /// At the first bytes (the TLS handshake is complete by then): counts the protocol ALPN chose and, when the
    /// server has a handoff for it, lets that protocol's handler take the connection over.
    private func handOff(_ context: ChannelContext) -> Bool {
        sawBytes = true
        let chosen = channel.tls?.negotiatedProtocol
        server.countProtocol(chosen ?? "none")
        guard let chosen, let handoff = server.handoffs[chosen] else { return false }
        if let headTimer { tcp.loop.cancel(headTimer) }
        headTimer = nil
        let handler = handoff()
        successor = handler
        handler.channelActive(context: context)
        return true
    }

    func channelInactive(context: ChannelContext) {
        if let successor {
            self.successor = nil
            server.connectionClosed()
            channel = nil
            return successor.channelInactive(context: context)
        }
        server.connectionClosed()
        if let headTimer { tcp.loop.cancel(headTimer) }
        headTimer = nil
        stream?.ended(clientGone: true)
        stream = nil
        body?.abandon()
        body = nil
        spareResponder = nil
        channel = nil
    }

    /// A client that stops sending during a streamed response has gone away (watch clients never send more).
    func channelPeerClosedWrite(context: ChannelContext) {
        if let successor { return successor.channelPeerClosedWrite(context: context) }
        if stream != nil { tcp.close() }
    }

    func channelWritabilityChanged(context: ChannelContext, isWritable: Bool) {
        if let successor { return successor.channelWritabilityChanged(context: context, isWritable: isWritable) }
        stream?.writabilityChanged(isWritable)
    }

    // MARK: Requests

    private func armHeadTimer() {
        waitingSince = tcp.loop.now()
        if headTimer == nil { scheduleHeadTimer(after: server.headTimeout) }
    }

    private func scheduleHeadTimer(after seconds: Double) {
        // Strong: the timer is cancelled when the connection closes.
        headTimer = tcp.loop.schedule(after: seconds) { [self] in
            headTimer = nil
            guard let waitingSince, !responding, !tcp.isClosed else { return }
            let waited = Double(tcp.loop.now() - waitingSince) / 1e9
            guard waited >= server.headTimeout else { scheduleHeadTimer(after: server.headTimeout - waited); return }
            // A client that began a head and did not finish it hears why; an idle keep-alive connection just closes.
            if decoder.buffered > 0 { reject(status: 408, reason: "the request head did not arrive within \(Int(server.headTimeout)) seconds") } else { tcp.close() }
        }
    }

    private func process() {
        guard !processing else { return }
        processing = true
        defer { processing = false }
        while !tcp.isClosed {
            if responding && !decoder.inBody {
                // The request is read and its answer is pending: the next one waits (and so does the socket).
                if !pausedForAnswer { pausedForAnswer = true; tcp.pauseReading() }
                return
            }
            let event: HTTP1RequestDecoder.Event
            do { event = try decoder.nextEvent() } catch {
                reject(status: error.status, reason: error.reason)
                return
            }
            switch event {
            case .needMore:
                return
            case .head:
                let head = decoder.takeHead()
                waitingSince = nil
                responding = true
                discardingBody = false
                if decoder.hasBodyToCome, head.header("Expect")?.lowercased() == "100-continue" {
                    if case .whole = server.handling, let declared = head.header("Content-Length").flatMap(Int.init), declared > server.maxBodyBytes {
                        // Refused below, before the client sends the body.
                    } else {
                        channel.writeAndFlush(ByteBuffer(bytes: HTTPResponse.head(status: 100, headers: [])))
                    }
                }
                switch server.handling {
                case .whole:
                    if let declared = head.header("Content-Length").flatMap(Int.init), declared > server.maxBodyBytes {
                        reject(status: 413, reason: "the request body of \(declared) bytes is larger than \(server.maxBodyBytes)")
                        return
                    }
                    collecting = (head, [])
                case .streaming(let handler):
                    let body = HTTPRequestBody(connection: self, limitForCollecting: server.maxBodyBytes)
                    self.body = body
                    handler(head, body, responder(keepAlive: head.keepAlive))
                }
            case .body(let part):
                guard !discardingBody else { continue }
                if let body { body.deliver(part); continue }
                guard collecting != nil else { continue }
                guard collecting!.body.count + part.readableBytes <= server.maxBodyBytes else {
                    reject(status: 413, reason: "the request body is larger than \(server.maxBodyBytes) bytes")
                    return
                }
                part.withUnsafeReadableBytes { collecting!.body.append(contentsOf: $0) }
            case .end:
                let finished = body
                body = nil
                if !discardingBody { finished?.end() }
                discardingBody = false
                if collecting != nil, case .whole(let handler) = server.handling {
                    // Moved out, not copied: the head's strings and lists go to the request without a retain each.
                    let (head, body) = collecting.take()!
                    let keepAlive = head.keepAlive
                    handler(HTTPRequest(method: head.method, target: head.target, version: head.version, headers: head.headers, body: body),
                            responder(keepAlive: keepAlive))
                }
            }
        }
    }

    /// Answers `status` with the reason as text, and closes once it is written.
    func reject(status: Int, reason: String) {
        responding = true
        tcp.pauseReading()
        let text = Array((reason + "\n").utf8)
        var out = ByteBuffer(bytes: HTTPResponse.head(status: status, headers: [("Content-Type", "text/plain"), ("Content-Length", String(text.count)),
                                                                               ("Connection", "close")]))
        out.writeBytes(text)
        channel?.writeAndFlush(out)
        tcp.closeWhenDrained()
    }

    /// The current answer is complete: read the next request, or close.
    func finished(keepAlive: Bool) {
        stream = nil
        guard keepAlive else { tcp.closeWhenDrained(); return }
        responding = false
        if decoder.inBody {
            // Answered before the body was read (a refusal, say): the rest of it is read and dropped.
            discardingBody = true
            body?.abandon()
            body = nil
        }
        armHeadTimer()
        if pausedForAnswer { pausedForAnswer = false; tcp.resumeReading() }
        process()
    }
}

/// A request's body as it arrives, for a streaming handler: set `onPart` and `onEnd` (on the loop), or `collect`
/// it whole. Parts that come before the handler sets `onPart` wait for it.
public final class HTTPRequestBody: @unchecked Sendable {
    /// Strong: the connection lets go of its body at the body's end.
    private let connection: HTTPServerConnection
    private let limitForCollecting: Int
    private var waiting: [ByteBuffer] = []
    private var ended = false
    private var abandoned = false

    init(connection: HTTPServerConnection, limitForCollecting: Int) {
        self.connection = connection
        self.limitForCollecting = limitForCollecting
    }

    public var loop: EventLoop { connection.tcp.loop }

    /// Each part of the body, in order. Loop thread only.
    public var onPart: ((ByteBuffer) -> Void)? {
        didSet {
            guard let onPart else { return }
            let parts = waiting
            waiting = []
            for part in parts { onPart(part) }
            // The end may have come while the parts waited for a taker.
            if ended { runEnd() }
        }
    }

    /// The body is complete. Loop thread only; set after the end, it runs at once.
    public var onEnd: (() -> Void)? {
        didSet { if ended, onPart != nil || waiting.isEmpty { runEnd() } }
    }

    /// Stops reading the connection until `resumeReading` (a consumer that cannot keep up).
    public func pauseReading() { connection.tcp.pauseReading() }
    public func resumeReading() { connection.tcp.resumeReading() }

    /// Collects the whole body and hands it to `completion` on the loop; a body over `limit` bytes (at most the
    /// server's `maxBodyBytes`) is answered 413 and the connection closed.
    public func collect(limit: Int? = nil, _ completion: @escaping ([UInt8]) -> Void) {
        let limit = min(limit ?? limitForCollecting, limitForCollecting)
        var collected: [UInt8] = []
        var refused = false
        onPart = { [unowned self] part in
            guard !refused else { return }
            guard collected.count + part.readableBytes <= limit else {
                refused = true
                connection.reject(status: 413, reason: "the request body is larger than \(limit) bytes")
                return
            }
            part.withUnsafeReadableBytes { collected.append(contentsOf: $0) }
        }
        onEnd = { if !refused { completion(collected) } }
    }

    func deliver(_ part: ByteBuffer) {
        guard !abandoned else { return }
        if let onPart { onPart(part) } else { waiting.append(part) }
    }

    func end() {
        guard !abandoned else { return }
        ended = true
        if onPart != nil || waiting.isEmpty { runEnd() }
    }

    /// The connection went away or the answer came first: nothing more is delivered.
    func abandon() {
        abandoned = true
        waiting = []
        onPart = nil
        onEnd = nil
    }

    private func runEnd() {
        guard let end = onEnd else { return }
        onEnd = nil
        onPart = nil
        end()
    }
}
