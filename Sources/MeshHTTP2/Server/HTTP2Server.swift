import Foundation
import MeshNet
import MeshHTTP1

/// Answers one HTTP/2 request, once: with a whole response, or a head then body parts (`startStream`). Safe from
/// any thread; the work happens on the connection's loop.
public final class HTTP2Responder: @unchecked Sendable {
    let connection: HTTP2ServerConnection
    let streamID: UInt32

    init(connection: HTTP2ServerConnection, streamID: UInt32) {
        self.connection = connection
        self.streamID = streamID
    }

    public var loop: EventLoop { connection.tcp.loop }
    /// The client's and this server's `address:port`.
    public var peerAddress: String? { connection.tcp.peerAddress }
    public var localAddress: String? { connection.tcp.localAddress }

    public func respond(_ response: HTTPResponse) {
        onLoop { [self] in connection.respond(streamID, response) }
    }

    /// Sends the head now; body parts follow with `sendBody`, then `finish` (optionally with trailers).
    public func startStream(status: Int, headers: [(name: String, value: String)]) {
        onLoop { [self] in connection.sendHead(streamID, status: status, headers: headers, endStream: false) }
    }

    public func sendBody(_ bytes: ByteBuffer) {
        onLoop { [self] in connection.sendBody(streamID, bytes, endStream: false) }
    }

    public func finish(trailers: [(name: String, value: String)] = []) {
        onLoop { [self] in
            if trailers.isEmpty { connection.sendBody(streamID, ByteBuffer(), endStream: true) } else { connection.sendTrailers(streamID, trailers) }
        }
    }

    /// Ends the stream with RST_STREAM.
    public func reset(code: HTTP2ErrorCode = .cancel) {
        onLoop { [self] in connection.reset(streamID, code) }
    }

    fileprivate func consumed(_ count: Int) {
        onLoop { [self] in connection.consumed(streamID, count) }
    }

    func onLoop(_ work: @escaping () -> Void) {
        if loop.inLoop { work() } else { loop.execute(work) }
    }
}

/// A request handler: called on a loop thread with the whole request (body included); it must answer through
/// the responder, now or later.
public typealias HTTP2Handler = @Sendable (HTTPRequest, HTTP2Responder) -> Void

/// A request as it arrives, for a handler that streams (a proxy): the head at once, then body parts, the end
/// (with trailers, if any) or a reset. Set the callbacks in the handler; they run on the connection's loop.
public final class HTTP2ServerStream: @unchecked Sendable {
    /// The request head (its body stays empty: parts come to `onData`).
    public let request: HTTPRequest
    public let responder: HTTP2Responder
    public var onData: (ByteBuffer) -> Void = { _ in }
    /// The request ended; its trailers, if any.
    public var onEnd: ([(name: String, value: String)]) -> Void = { _ in }
    /// The client reset the stream or the connection failed.
    public var onReset: (HTTP2ErrorCode) -> Void = { _ in }

    init(request: HTTPRequest, responder: HTTP2Responder) {
        self.request = request
        self.responder = responder
    }

    /// Runs `onEnd` once, then lets go of the callbacks (they usually hold this stream).
    func ended(_ trailers: [(name: String, value: String)]) {
        let end = onEnd
        release()
        end(trailers)
    }

    func wasReset(_ code: HTTP2ErrorCode) {
        let reset = onReset
        release()
        reset(code)
    }

    private func release() {
        onData = { _ in }
        onEnd = { _ in }
        onReset = { _ in }
    }

    /// The handler is done with `count` bytes of body: with `reopensWindowsOnReceipt` false, the client may send
    /// that much more. Any thread.
    public func consumed(_ count: Int) { responder.consumed(count) }
}

/// A streaming request handler: called on a loop thread when a request head arrives.
public typealias HTTP2StreamHandler = @Sendable (HTTP2ServerStream) -> Void

/// What an HTTP/2 connection serves, whatever carries it: the settings, limits and the handler. `HTTP2Server` runs
/// one over cleartext TCP; `connectionHandler()` makes the top handler of a channel for another carrier, such as
/// an HTTP/1.1 server's TLS connections on which ALPN chose `h2` (`HTTPServer`'s handoffs).
public final class HTTP2Service: @unchecked Sendable {
    let settings: HTTP2LocalSettings
    let maxBodyBytes: Int
    /// Seconds a connection may go without a stream or a read (between one and two of them) before a GOAWAY
    /// closes it; nil for never.
    let idleTimeout: Double?
    private let handler: HTTP2Handler?
    let streamHandler: HTTP2StreamHandler?

    /// A service whose handler gets each request whole, body included (up to `maxBodyBytes`, else 413).
    public convenience init(settings: HTTP2LocalSettings = HTTP2LocalSettings(), maxBodyBytes: Int = 16 * 1024 * 1024, idleTimeout: Double? = 60,
                            handler: @escaping HTTP2Handler) {
        self.init(settings: settings, maxBodyBytes: maxBodyBytes, idleTimeout: idleTimeout, handler: handler, streamHandler: nil)
    }

    /// A service whose handler sees each request as it arrives (head, body parts, end) instead of whole.
    public convenience init(settings: HTTP2LocalSettings = HTTP2LocalSettings(), idleTimeout: Double? = 60, streamHandler: @escaping HTTP2StreamHandler) {
        self.init(settings: settings, maxBodyBytes: 0, idleTimeout: idleTimeout, handler: nil, streamHandler: streamHandler)
    }

    private init(settings: HTTP2LocalSettings, maxBodyBytes: Int, idleTimeout: Double?, handler: HTTP2Handler?, streamHandler: HTTP2StreamHandler?) {
        self.settings = settings
        self.maxBodyBytes = maxBodyBytes
        self.idleTimeout = idleTimeout
        self.handler = handler
        self.streamHandler = streamHandler
    }

    /// The top handler of a new connection's channel (on its loop), which speaks HTTP/2 from the first bytes it
    /// reads: the client preface, or an HTTP/1.1 request asking to upgrade to h2c.
    public func connectionHandler() -> ChannelHandler { HTTP2ServerConnection(service: self) }

    func handle(_ request: HTTPRequest, _ responder: HTTP2Responder) { handler?(request, responder) }
}

/// HTTP/2 over cleartext TCP on a few event loops: h2c with prior knowledge (RFC 9113 section 3.3), or an
/// HTTP/1.1 request that asks to upgrade to h2c (RFC 7540 section 3.2); other HTTP/1.1 requests get 426. Requests
/// reach the handler as MeshHTTP1's `HTTPRequest` (version 20, `:authority` as a `host` header).
public final class HTTP2Server: @unchecked Sendable {
    public let port: Int
    private let acceptor: ConnectionAcceptor
    let service: HTTP2Service

    /// A server whose handler gets each request whole, body included (up to `maxBodyBytes`, else 413).
    public convenience init(host: String, port: Int, loops: [EventLoop], settings: HTTP2LocalSettings = HTTP2LocalSettings(),
                            maxBodyBytes: Int = 16 * 1024 * 1024, idleTimeout: Double? = 60, handler: @escaping HTTP2Handler) throws(NetworkError) {
        try self.init(host: host, port: port, loops: loops,
                      service: HTTP2Service(settings: settings, maxBodyBytes: maxBodyBytes, idleTimeout: idleTimeout, handler: handler))
    }

    /// A server whose handler sees each request as it arrives (head, body parts, end) instead of whole.
    public convenience init(host: String, port: Int, loops: [EventLoop], settings: HTTP2LocalSettings = HTTP2LocalSettings(),
                            idleTimeout: Double? = 60, streamHandler: @escaping HTTP2StreamHandler) throws(NetworkError) {
        try self.init(host: host, port: port, loops: loops, service: HTTP2Service(settings: settings, idleTimeout: idleTimeout, streamHandler: streamHandler))
    }

    /// A server of `service` on `host:port` (0: any free port).
    public init(host: String, port: Int, loops: [EventLoop], service: HTTP2Service) throws(NetworkError) {
        acceptor = try ConnectionAcceptor(host: host, port: port, loops: loops)
        self.service = service
        self.port = acceptor.port
    }

    /// Starts accepting connections (the loops must be started).
    public func start() {
        acceptor.start { [service] tcp in
            let channel = Channel(connection: tcp, handlers: [service.connectionHandler()])
            try? channel.start()
        }
    }

    /// Stops accepting; open connections end when their loops stop.
    public func stop() { acceptor.stop() }
}

/// One client connection, the top handler of its channel: bytes between the channel and the HTTP/2 state machine,
/// requests gathered per stream.
final class HTTP2ServerConnection: ChannelHandler {
    private let server: HTTP2Service
    /// The handler's place in its channel, from `channelActive` until the connection closes.
    private var context: ChannelContext?
    /// The connection under the channel (its loop, addresses, output queue), from `channelActive` on.
    private(set) var tcp: TCPConnection!
    private let connection: HTTP2Connection
    /// Requests whose body is still arriving.
    private var requests: [UInt32: HTTPRequest] = [:]
    /// Requests handed to a streaming handler, until they end.
    private var liveStreams: [UInt32: HTTP2ServerStream] = [:]
    /// Streams answering a HEAD request: their response keeps its content-length and sends no body.
    private var headStreams: Set<UInt32> = []
    /// Streamed answers to whole-request handlers, told when their stream is reset or the connection goes.
    private var answerStreams: [UInt32: HTTP2ResponseStream] = [:]
    /// Set while a read is handled: answers given meanwhile go out in one write at its end.
    private var reading = false

    init(service: HTTP2Service) {
        server = service
        connection = HTTP2Connection(role: .server, settings: service.settings)
    }

    // MARK: Channel events

    func channelActive(context: ChannelContext) {
        self.context = context
        tcp = context.channel.connection
        // The server's SETTINGS wait for the first bytes: after a 101, they must follow it.
        armIdleTimer()
    }

    func channelRead(context: ChannelContext, data: ByteBuffer) {
        // Held for the whole read: answering may close the connection, which lets go of the channel's handlers.
        withExtendedLifetime(self) { read(data) }
    }

    func channelInactive(context: ChannelContext) {
        if let idleTimer { tcp.loop.cancel(idleTimer) }
        idleTimer = nil
        requests.removeAll()
        let live = liveStreams.values
        liveStreams.removeAll()
        for stream in live { stream.wasReset(.cancel) }
        let answers = answerStreams.values
        answerStreams.removeAll()
        for stream in answers { stream.ended() }
        self.context = nil
    }

    func channelWritabilityChanged(context: ChannelContext, isWritable: Bool) {
        for stream in answerStreams.values { stream.onWritabilityChanged(isWritable) }
    }

    /// Tells `stream` when stream `id` is reset or the connection goes; false when either has happened already.
    func watch(_ stream: HTTP2ResponseStream, on id: UInt32) -> Bool {
        guard context != nil, connection.isStreamOpen(id) else { return false }
        answerStreams[id] = stream
        return true
    }

    func unwatch(_ id: UInt32) { answerStreams[id] = nil }

    /// Bytes of stream `id`'s answer not yet written to the socket, and all the connection's queued output.
    func pendingOutput(on id: UInt32) -> Int { (tcp?.pendingOutput ?? 0) + connection.pendingBytes(on: id) }

    /// Sends `bytes` now (the bottom handler, TLS say, turns them into records).
    private func send(_ bytes: ByteBuffer) { context?.writeAndFlush(bytes) }

    /// Closes once what is queued is written (after TLS's close_notify, when TLS is below).
    private func closeWhenDrained() {
        if let context { context.channel.closeWhenDrained() } else { tcp?.closeWhenDrained() }
    }

    private var idleTimer: EventLoop.TimerID?
    /// Reads since the idle timer was set: the timer is not moved for each read, it looks at this when it fires.
    private var readsSinceIdleTimer = 0

    private func armIdleTimer() {
        guard let timeout = server.idleTimeout else { return }
        idleTimer = tcp.loop.schedule(after: timeout) { [weak self] in self?.idleTimerFired() }
    }

    private func idleTimerFired() {
        idleTimer = nil
        guard !tcp.isClosed else { return }
        if readsSinceIdleTimer > 0 || connection.activeStreamCount > 0 {
            readsSinceIdleTimer = 0
            armIdleTimer()
            return
        }
        connection.goAway(code: .noError, debugData: "idle")
        flush()
    }

    private func read(_ bytes: ByteBuffer) {
        readsSinceIdleTimer += 1
        reading = true
        defer { reading = false }
        if let upgrade = http1 {
            http1 = nil
            guard readUpgrade(upgrade, bytes) else { return }
        } else if !sniffed {
            sniffed = true
            // Anything but the client preface is taken for HTTP/1.1, which may ask to upgrade to h2c.
            let first = bytes.withUnsafeReadableBytes { $0.prefix(HTTP2Preface.bytes.count) }
            if first.elementsEqual(HTTP2Preface.bytes.prefix(first.count)) {
                handle(connection.receive(bytes))
            } else {
                guard readUpgrade(H2CUpgrade(), bytes) else { return }
            }
        } else {
            handle(connection.receive(bytes))
        }
        reading = false
        flush()
    }

    /// Whether the connection's first bytes were looked at (preface or HTTP/1.1).
    private var sniffed = false
    /// An HTTP/1.1 request head still arriving.
    private var http1: H2CUpgrade?

    /// Reads an HTTP/1.1 request that may upgrade to h2c (RFC 7540 section 3.2): answers 101 and goes on in
    /// HTTP/2 with the request as stream 1, or refuses. Returns whether HTTP/2 goes on.
    private func readUpgrade(_ upgrade: H2CUpgrade, _ bytes: ByteBuffer) -> Bool {
        var upgrade = upgrade
        switch upgrade.read(bytes, maxBodyBytes: server.maxBodyBytes) {
        case .needMore:
            http1 = upgrade
            return false
        case .refuse(let status, let reason):
            var answer = "HTTP/1.1 \(status) \(status == 426 ? "Upgrade Required" : "Bad Request")\r\nContent-Type: text/plain\r\n"
            if status == 426 { answer += "Upgrade: h2c\r\n" }
            answer += "Connection: close\r\nContent-Length: \(reason.utf8.count + 1)\r\n\r\n\(reason)\n"
            send(ByteBuffer(string: answer))
            closeWhenDrained()
            return false
        case .upgrade(let request, let fields, let settings, let rest):
            send(ByteBuffer(string: "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"))
            do {
                try connection.acceptUpgrade(request: fields, peerSettings: settings)
            } catch {
                tcp.close()
                return false
            }
            if server.streamHandler != nil {
                var head = request
                head.body = []
                head.version = 20
                startStream(1, head)
                if let live = liveStreams.removeValue(forKey: 1) {
                    if !request.body.isEmpty { live.onData(ByteBuffer(bytes: request.body)) }
                    live.ended([])
                }
            } else {
                dispatch(1, request)
            }
            if rest.readableBytes > 0 { handle(connection.receive(rest)) }
            return true
        }
    }

    private func handle(_ events: [HTTP2Event]) {
        for event in events {
            switch event {
            case .headers(let id, let fields, let endStream):
                var request = HTTPRequest(method: "", target: "", version: 20)
                for field in fields {
                    switch field.name {
                    case ":method": request.method = field.value
                    case ":path": request.target = field.value
                    case ":authority": request.headers.append(("host", field.value))
                    case ":scheme": break
                    default: request.headers.append((field.name, field.value))
                    }
                }
                if server.streamHandler != nil {
                    startStream(id, request)
                    if endStream { liveStreams.removeValue(forKey: id)?.ended([]) }
                } else if endStream {
                    dispatch(id, request)
                } else {
                    requests[id] = request
                }
            case .data(let id, let data, let endStream):
                if let live = liveStreams[id] {
                    live.onData(data)
                    if endStream { liveStreams[id] = nil; live.ended([]) }
                    continue
                }
                guard var request = requests[id] else { continue }
                if request.body.count + data.readableBytes > server.maxBodyBytes {
                    requests[id] = nil
                    respond(id, HTTPResponse(status: 413, contentType: "text/plain", text: "request body larger than \(server.maxBodyBytes) bytes\n"))
                    continue
                }
                data.withUnsafeReadableBytes { request.body.append(contentsOf: $0) }
                // Whole requests are buffered here: their bytes are consumed as they arrive.
                connection.dataConsumed(data.readableBytes, on: id)
                if endStream { requests[id] = nil; dispatch(id, request) } else { requests[id] = request }
            case .trailers(let id, let fields):
                if let live = liveStreams.removeValue(forKey: id) { live.ended(fields.map { ($0.name, $0.value) }) }
                if let request = requests.removeValue(forKey: id) { dispatch(id, request) }
            case .streamReset(let id, let code, _):
                requests[id] = nil
                headStreams.remove(id)
                liveStreams.removeValue(forKey: id)?.wasReset(code)
                answerStreams.removeValue(forKey: id)?.ended()
            case .connectionError(let error):
                requests.removeAll()
                headStreams.removeAll()
                let live = liveStreams.values
                liveStreams.removeAll()
                for stream in live { stream.wasReset(error.code) }
                let answers = answerStreams.values
                answerStreams.removeAll()
                for stream in answers { stream.ended() }
            case .streamClosed, .pingAcknowledged, .goAway:
                break
            }
        }
    }

    private func startStream(_ id: UInt32, _ request: HTTPRequest) {
        if request.method == "HEAD" { headStreams.insert(id) }
        let stream = HTTP2ServerStream(request: request, responder: HTTP2Responder(connection: self, streamID: id))
        liveStreams[id] = stream
        server.streamHandler?(stream)
    }

    private func dispatch(_ id: UInt32, _ request: HTTPRequest) {
        if request.method == "HEAD" { headStreams.insert(id) }
        var request = request
        request.version = 20
        server.handle(request, HTTP2Responder(connection: self, streamID: id))
    }

    /// Writes what the state machine queued, unless a read is being handled (its end writes); closes once the
    /// connection is finished.
    private func flush() {
        guard !reading else { return }
        handle(connection.takeEvents())
        if let bytes = connection.takeOutput() { send(bytes) }
        if connection.isFinished { closeWhenDrained() }
    }

    // MARK: Answers (loop thread)

    func respond(_ id: UInt32, _ response: HTTPResponse) {
        var headers = response.headers
        if !headers.contains(where: { $0.name.lowercased() == "content-length" }) { headers.append(("content-length", String(response.body.count))) }
        let bodyless = headStreams.remove(id) != nil || response.body.isEmpty
        let wasReading = reading
        reading = true
        sendHead(id, status: response.status, headers: headers, endStream: bodyless)
        if !bodyless { sendBody(id, ByteBuffer(bytes: response.body), endStream: true) }
        reading = wasReading
        flush()
    }

    func sendHead(_ id: UInt32, status: Int, headers: [(name: String, value: String)], endStream: Bool) {
        var fields = [HeaderField(name: ":status", value: String(status))]
        for (name, value) in headers {
            let lowered = HTTP2HeaderNames.lowercased(name)
            if HTTP2HeaderNames.isConnectionSpecific(lowered) { continue }
            fields.append(HeaderField(name: lowered, value: value))
        }
        try? connection.sendHeaders(streamID: id, headers: fields, endStream: endStream)
        flush()
    }

    func sendBody(_ id: UInt32, _ bytes: ByteBuffer, endStream: Bool) {
        try? connection.sendData(streamID: id, bytes, endStream: endStream)
        flush()
    }

    func sendTrailers(_ id: UInt32, _ trailers: [(name: String, value: String)]) {
        try? connection.sendTrailers(streamID: id, trailers.map { HeaderField(name: $0.name.lowercased(), value: $0.value) })
        flush()
    }

    func consumed(_ id: UInt32, _ count: Int) {
        connection.dataConsumed(count, on: id)
        flush()
    }

    func reset(_ id: UInt32, _ code: HTTP2ErrorCode) {
        connection.resetStream(id, code: code)
        flush()
    }
}
