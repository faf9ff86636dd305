import MeshNet
import MeshHTTP1

/// A client connection to an HTTP connection manager: HTTP/1.1 requests read one at a time (pipelined ones wait),
/// each served by a `ProxyStream`. A body already here with its head goes whole; one still arriving goes to the
/// stream part by part, and the client is not read while the upstream has not taken what it was sent. Loop thread only.
final class DownstreamHTTPConnection: DownstreamClient {
    let tcp: ProxyTransport
    let info: DownstreamConnectionInfo
    var localAddress: String { info.localAddress }
    var remoteAddress: String { info.remoteAddress }
    var remoteHost: String { info.remoteHost }
    private let runtime: ProxyRuntime
    private let loopContext: LoopContext
    private let manager: HTTPConnectionManagerConfig
    /// The same configuration behind one reference, which each request's stream retains (a copy of the struct per
    /// request retained every string and list in it).
    private let sharedManager: SharedConnectionManager
    private var decoder = HTTP1RequestDecoder()
    /// The current request's body is still being read: its parts go to the stream as they come.
    private var readingBody = false
    /// A body part went to the stream and its go-ahead has not come back yet.
    private var awaitingMore = false
    /// The client is not read until the go-ahead comes (the stream's upstream is backed up).
    private var pausedForBody = false
    /// The answer ends the connection (it came before the request's end): nothing more is read.
    private var closing = false
    private var stream: ProxyStream?
    private var retainSelf: DownstreamHTTPConnection?
    private let listenerStatPrefix: String
    private let managerStats: ConnectionManagerStats
    /// Runs while a request head is partly read: a client that stalls there (slowloris) gets 408 after the
    /// connection manager's `stream_idle_timeout`, as Envoy answers a stream that went idle.
    private var idleTimer: EventLoop.TimerID?
    /// The route timeout's callback for this connection's streams, made once: scheduling it per request then makes
    /// no closure (the current stream cancels its timer when it finishes, so a firing always belongs to it).
    private(set) lazy var routeTimeoutFired: () -> Void = { [handle] in handle.connection?.stream?.routeTimeoutFired() }
    /// The same for the stream idle timeout.
    private(set) lazy var streamIdleFired: () -> Void = { [handle] in handle.connection?.stream?.streamIdleFired() }
    /// The same for the route's `max_stream_duration`.
    private(set) lazy var maxDurationFired: () -> Void = { [handle] in handle.connection?.stream?.maxDurationFired() }
    /// What closures that may outlive the connection hold, and the listener's drain list: no weak reference to
    /// the connection, whose side table would make each of its retains and releases a slow one.
    let handle: ConnectionHandle<DownstreamHTTPConnection>
    /// The route and stream idle timeouts of its streams: one loop timer each across keep-alive requests, made
    /// when first used (scheduling and cancelling both for every request was ~4k instructions of ~72k in callgrind).
    private var routeDeadline: SharedDeadline?
    private var streamIdleDeadline: SharedDeadline?
    /// The last response head's buffer, reused for the next one once the socket has written it.
    private var spareHeadBuffer = ByteBuffer()
    /// The current answer's body goes in chunks.
    private var chunkedResponse = false
    var isHTTP2: Bool { false }
    /// The connection manager's `idle_timeout` (`DownstreamTimeouts.watchIdle`), and when bytes last came or an
    /// answer was last finished.
    var connectionIdleTimer: EventLoop.TimerID?
    private(set) var lastActivity = MonotonicClock.now()
    /// A request head begun: `request_headers_timeout` answers 408 unless it is complete by then.
    private var headersTimer: EventLoop.TimerID?
    /// AUTO on plaintext: the first bytes are looked at for the HTTP/2 preface until they tell (`DownstreamCodec`).
    private var sniffing: Bool
    /// The first bytes while they could still be the preface.
    private var sniffed: [UInt8] = []
    /// Set when the listener that accepted the connection was removed or changed: the current answer says
    /// `Connection: close` and the connection closes after it.
    private(set) var isDraining = false
    /// The listener's `per_connection_buffer_limit_bytes` (or the default) as each stream's body limit.
    let streamBufferLimit: Int

    init(tcp: ProxyTransport, info: DownstreamConnectionInfo, runtime: ProxyRuntime, loopContext: LoopContext,
         manager: HTTPConnectionManagerConfig, listenerStatPrefix: String, streamBufferLimit: Int) {
        self.tcp = tcp
        self.streamBufferLimit = streamBufferLimit
        self.info = info
        self.runtime = runtime
        self.loopContext = loopContext
        self.manager = manager
        sharedManager = SharedConnectionManager(manager)
        self.listenerStatPrefix = listenerStatPrefix
        managerStats = runtime.connectionManagerStats(manager.statPrefix)
        sniffing = DownstreamCodec.sniffs(manager: manager, info: info)
        handle = ConnectionHandle(tcp: tcp)
        handle.attach(self)
    }

    deinit { handle.detach() }

    /// Starts reading; `initial` holds bytes already read while choosing the filter chain.
    func begin(initial: ByteBuffer?) {
        retainSelf = self
        runtime.drains.register(handle, listener: listenerStatPrefix)
        let http = "http.\(manager.statPrefix)."
        runtime.stats.increment(http + "downstream_cx_total")
        runtime.stats.adjust(http + "downstream_cx_active", by: 1)
        tcp.onData = { [unowned self] bytes in
            // Serving a request may close the connection, which lets go of this object: keep it to the end.
            withExtendedLifetime(self) {
                lastActivity = MonotonicClock.now()
                // The rest of a body the answer came before: read and dropped until the connection closes.
                if closing { return }
                if sniffing, sniff(bytes) { return }
                decoder.feed(bytes)
                process()
                armIdleTimer()
            }
        }
        DownstreamTimeouts.watchIdle(self, manager: manager, runtime: runtime)
        tcp.onClose = { [unowned self] in
            for timer in [idleTimer, connectionIdleTimer, headersTimer].compactMap({ $0 }) { tcp.loop.cancel(timer) }
            (idleTimer, connectionIdleTimer, headersTimer) = (nil, nil, nil)
            routeDeadline?.cancel()
            streamIdleDeadline?.cancel()
            runtime.stats.adjust(http + "downstream_cx_active", by: -1)
            runtime.stats.adjust(listenerStatPrefix + "downstream_cx_active", by: -1)
            stream?.downstreamClosed()
            stream = nil
            retainSelf = nil
        }
        tcp.onPeerClosedWrite = { [unowned self] in
            if stream != nil { tcp.close() }
        }
        if let initial {
            withExtendedLifetime(self) {
                if sniffing, sniff(initial) { return }
                decoder.feed(initial)
                process()
                armIdleTimer()
            }
        }
    }

    /// Looks at the first bytes for the HTTP/2 preface; true when they were taken (more needed, or the connection
    /// went over to HTTP/2).
    private func sniff(_ bytes: ByteBuffer) -> Bool {
        let verdict: Bool?
        if sniffed.isEmpty {
            verdict = bytes.withUnsafeReadableBytes { DownstreamCodec.verdict($0) }
        } else {
            sniffed += bytes.readableArray
            verdict = sniffed.withUnsafeBytes { DownstreamCodec.verdict($0) }
        }
        switch verdict {
        case false?:
            sniffing = false
            if !sniffed.isEmpty { decoder.feed(ByteBuffer(bytes: sniffed)); sniffed = [] }
            return false
        case nil:
            if sniffed.isEmpty { sniffed = bytes.readableArray }
            armIdleTimer()
            return true
        case true?:
            sniffing = false
            let initial = sniffed.isEmpty ? bytes : ByteBuffer(bytes: sniffed)
            sniffed = []
            for timer in [idleTimer, connectionIdleTimer, headersTimer].compactMap({ $0 }) { tcp.loop.cancel(timer) }
            (idleTimer, connectionIdleTimer, headersTimer) = (nil, nil, nil)
            let http2 = DownstreamHTTP2Connection(tcp: tcp, info: info, runtime: runtime, loopContext: loopContext, manager: manager,
                                                  listenerStatPrefix: listenerStatPrefix)
            http2.begin(initial: initial, counted: true)
            retainSelf = nil
            return true
        }
    }

    private func process() {
        while !tcp.isClosed && !closing {
            // The answer first: a pipelined request waits; a body part waits for its go-ahead.
            if stream != nil && !readingBody || awaitingMore { return }
            // Events, not parts: a `Part?` carrying the head is copied through generic value witnesses.
            let event: HTTP1RequestDecoder.Event
            do { event = try decoder.nextEvent() } catch { return rejected(error) }
            switch event {
            case .needMore:
                return
            case .head:
                startStream(decoder.takeHead())
            case .body(let bytes):
                guard let stream else { continue }
                awaitingMore = true
                stream.requestBodyPart(bytes, end: false) { [handle] in handle.connection?.bodyMayContinue() }
                if awaitingMore && !closing {
                    pausedForBody = true
                    tcp.pauseReading()
                    runtime.stats.increment("http.\(manager.statPrefix).downstream_flow_control_paused_reading_total")
                }
            case .end:
                // A request with no body ends at its head (`startStream`); this is a streamed body's end.
                readingBody = false
                tcp.pauseReading()
                stream?.requestBodyPart(ByteBuffer(), end: true) {}
            }
        }
    }

    /// The stream's upstream took the body so far: read the client again.
    private func bodyMayContinue() {
        awaitingMore = false
        guard pausedForBody else { return }
        pausedForBody = false
        guard !closing, !tcp.isClosed else { return }
        runtime.stats.increment("http.\(manager.statPrefix).downstream_flow_control_resumed_reading_total")
        withExtendedLifetime(self) {
            tcp.resumeReading()
            process()
        }
    }

    /// A request head: its stream starts with the body already read, whole when all of it is here.
    private func startStream(_ head: HTTPRequestHead) {
        // Each timer on its own (an array of them would be allocated per request).
        if let idleTimer { tcp.loop.cancel(idleTimer); self.idleTimer = nil }
        if let headersTimer { tcp.loop.cancel(headersTimer); self.headersTimer = nil }
        var request = HTTPRequest(method: head.method, target: head.target, version: head.version, headers: head.headers)
        // An origin-form target starts with `/`: only another one can be absolute-form.
        if manager.allowAbsoluteURL, request.target.utf8.first != UInt8(ascii: "/"), let origin = AbsoluteFormRequest.originForm(of: request) {
            request = origin
        }
        if let refusal = DownstreamRefusal.check(&request, manager: manager) {
            closing = true
            return answer(refusal, request: request)
        }
        var complete = !decoder.hasBodyToCome
        if !complete {
            // Parts read with the head are taken at once (a small body usually is all here, and goes in one write).
            gathering: while request.body.count <= streamBufferLimit {
                let event: HTTP1RequestDecoder.Event
                // Broken framing in what came with the head: refused before any stream, as Envoy logs it (no path).
                do { event = try decoder.nextEvent() } catch { return rejected(error) }
                switch event {
                case .body(let bytes): bytes.withUnsafeReadableBytes { request.body.append(contentsOf: $0) }
                case .end: complete = true; break gathering
                case .head, .needMore: break gathering
                }
            }
        } else {
            _ = try? decoder.nextEvent()  // the end of a request without a body
        }
        readingBody = !complete
        if complete {
            tcp.pauseReading()
        } else if head.header("expect")?.lowercased() == "100-continue" && request.body.isEmpty {
            // As Envoy by default: the proxy says Continue itself, and the header does not go upstream.
            tcp.send(Array("HTTP/1.1 100 Continue\r\n\r\n".utf8))
        }
        let stream = ProxyStream(runtime: runtime, loopContext: loopContext, downstream: self, manager: sharedManager, managerStats: managerStats,
                                 request: request, bodyComplete: complete)
        self.stream = stream
        stream.begin()
    }

    /// A request that cannot be read: refused with its status; in the middle of a body, the stream answers it (400
    /// DPE `http1.codec_error` before its answer began, as Envoy's) and the connection closes.
    private func rejected(_ rejection: HTTP1RequestDecoder.Rejection) {
        runtime.log.debug("rejected a request from \(remoteAddress): \(rejection.reason)")
        tcp.pauseReading()
        closing = true
        let refusal = DownstreamRefusal(rejection)
        guard let stream else { return answer(refusal, request: nil) }
        runtime.stats.increment("http.\(manager.statPrefix).downstream_cx_protocol_error")
        stream.requestBroken(status: refusal.status, body: refusal.body, details: refusal.details)
    }

    private func armIdleTimer() {
        DownstreamTimeouts.watchHead(&headersTimer, for: self, manager: manager, runtime: runtime, readingHead: isReadingHead && !tcp.isClosed)
        guard idleTimer == nil, stream == nil, decoder.buffered > 0, manager.streamIdleTimeout > 0, !tcp.isClosed, !closing else { return }
        idleTimer = tcp.loop.schedule(after: manager.streamIdleTimeout) { [handle] in
            guard let connection = handle.connection else { return }
            connection.idleTimer = nil
            guard connection.stream == nil, connection.decoder.buffered > 0, !connection.tcp.isClosed else { return }
            connection.runtime.stats.increment("http.\(connection.manager.statPrefix).downstream_rq_idle_timeout")
            connection.refuse(status: 408, body: "stream timeout")
        }
    }

    /// No request under way and none begun.
    var isIdle: Bool { stream == nil && decoder.buffered == 0 }
    /// A request head has begun and is not complete.
    var isReadingHead: Bool { stream == nil && decoder.buffered > 0 }

    /// Answers a request the connection manager will not take, logs it as Envoy does and closes the connection.
    private func answer(_ refusal: DownstreamRefusal, request: HTTPRequest?) {
        tcp.pauseReading()
        var headers: [(String, String)] = []
        if !refusal.body.isEmpty { headers += [("content-length", String(refusal.body.utf8.count)), ("content-type", "text/plain")] }
        headers += [("date", HTTPDate.now()), ("server", manager.serverName ?? "envoy"), ("connection", "close")]
        if refusal.body.isEmpty { headers.append(("content-length", "0")) }
        tcp.send(Array(ResponseHead.encode(status: refusal.status, headers: headers).utf8) + Array(refusal.body.utf8))
        tcp.closeWhenDrained()
        let http = "http.\(manager.statPrefix)."
        if refusal.isProtocolError { runtime.stats.increment(http + "downstream_cx_protocol_error") }
        managerStats.requestsTotal.increment()
        runtime.stats.increment(http + "downstream_rq_http1_total")
        managerStats.requestsCompleted.increment()
        managerStats.countResponse(refusal.status)
        guard !manager.accessLogs.isEmpty else { return }
        var log = AccessLogEntry()
        log.protocolName = "HTTP/1.1"
        log.responseCode = refusal.status
        log.details = refusal.details
        if refusal.isProtocolError {
            log.add(.downstreamProtocolError)
        } else if let request {
            log.requestHeaders = request.headers
            log.method = request.method
            log.path = request.target
        }
        log.bytesSent = refusal.body.utf8.count
        log.downstreamLocalAddress = localAddress
        log.downstreamRemoteAddress = remoteAddress
        runtime.writeAccessLogs(manager.accessLogs, entry: log)
    }

    /// Answers a request that cannot be read (a timeout) and closes.
    func refuse(status: Int, body: String) {
        tcp.send(Array(ResponseHead.encode(status: status, headers: [("content-length", String(body.utf8.count)), ("content-type", "text/plain"),
                                                                     ("date", HTTPDate.now()), ("server", manager.serverName ?? "envoy"),
                                                                     ("connection", "close")]).utf8) + Array(body.utf8))
        tcp.closeWhenDrained()
    }

    /// An upgraded stream (101): what the client sends from now on, bytes read past the request included, goes to
    /// `upstream` as it is; `received` counts it.
    func tunnel(to upstream: ProxyTransport, received: @escaping (Int) -> Void) {
        if let idleTimer { tcp.loop.cancel(idleTimer); self.idleTimer = nil }
        let early = decoder.takeBuffered()
        if early.readableBytes > 0 { received(early.readableBytes); upstream.send(early) }
        // A slow upstream stops the client's reads until its queued output falls below the low watermark.
        let http = "http.\(manager.statPrefix)."
        upstream.onWritabilityChanged = { [handle] writable in
            guard let connection = handle.connection, writable, connection.tunnelPaused else { return }
            connection.tunnelPaused = false
            connection.runtime.stats.increment(http + "downstream_flow_control_resumed_reading_total")
            connection.tcp.resumeReading()
        }
        tcp.onData = { [handle] bytes in
            received(bytes.readableBytes)
            upstream.send(bytes)
            guard let connection = handle.connection, !upstream.isWritable, !connection.tunnelPaused else { return }
            connection.tunnelPaused = true
            connection.runtime.stats.increment(http + "downstream_flow_control_paused_reading_total")
            connection.tcp.pauseReading()
        }
        tcp.resumeReading()
    }

    /// The client's reads are paused because the tunnel's upstream is slow.
    private var tunnelPaused = false

    var isWritable: Bool { tcp.isWritable }

    func startTimer(_ kind: StreamTimer, after seconds: Double) {
        switch kind {
        case .route:
            if routeDeadline == nil { routeDeadline = SharedDeadline(loop: tcp.loop, expired: routeTimeoutFired) }
            routeDeadline?.start(after: seconds)
        case .streamIdle:
            if streamIdleDeadline == nil { streamIdleDeadline = SharedDeadline(loop: tcp.loop, expired: streamIdleFired) }
            streamIdleDeadline?.start(after: seconds)
        }
    }

    func stopTimer(_ kind: StreamTimer) {
        switch kind {
        case .route: routeDeadline?.stop()
        case .streamIdle: streamIdleDeadline?.stop()
        }
    }

    func whenWritable(_ resume: @escaping () -> Void) {
        guard !tcp.isWritable else { return resume() }
        tcp.onWritabilityChanged = { [unowned self] writable in
            guard writable else { return }
            tcp.onWritabilityChanged = { _ in }
            resume()
        }
    }

    func writeResponseHead(status: Int, headers: [(name: String, value: String)], chunked: Bool) {
        chunkedResponse = chunked
        ResponseHead.encode(status: status, headers: headers, into: &spareHeadBuffer)
        tcp.enqueue(spareHeadBuffer)
    }

    func writeResponseBody(_ part: ByteBuffer) {
        guard chunkedResponse else { return tcp.enqueue(part) }
        var size = ByteBuffer(capacity: 20)
        size.writeString(String(part.readableBytes, radix: 16))
        size.writeString("\r\n")
        tcp.enqueue(size)
        tcp.enqueue(part)
        tcp.enqueue(ByteBuffer(string: "\r\n"))
    }

    func endResponse(trailers: [(name: String, value: String)]) {
        if chunkedResponse { tcp.enqueue(ByteBuffer(string: "0\r\n\r\n")) }
    }

    func sendLocalReply(_ reply: LocalReply, serverName: String, keepAlive: Bool) {
        tcp.send(reply.encode(serverName: serverName, keepAlive: keepAlive))
    }

    func send(_ bytes: [UInt8]) { tcp.send(bytes) }
    func send(_ buffer: ByteBuffer) { tcp.send(buffer) }
    /// Queues without writing, so what follows soon leaves in the same write (`flush`).
    func enqueue(_ buffer: ByteBuffer) { tcp.enqueue(buffer) }
    func flush() { tcp.flush() }

    /// Closes at once (an answer cannot be completed).
    func abort() { tcp.close() }

    /// The current stream is done: read the next request or close.
    func streamFinished(keepAlive: Bool) {
        withExtendedLifetime(self) { finishStream(keepAlive: keepAlive) }
    }

    /// Starts draining (loop thread): an idle connection closes now, a busy one after its answer or at `deadline`.
    func drain(deadline: Double) {
        guard !isDraining, !tcp.isClosed else { return }
        isDraining = true
        if stream == nil && decoder.buffered == 0 { tcp.close(); return }
        tcp.loop.schedule(after: deadline) { [handle] in
            guard let connection = handle.connection, !connection.tcp.isClosed else { return }
            connection.tcp.close()
        }
    }

    private func finishStream(keepAlive: Bool) {
        stream = nil
        guard keepAlive, !isDraining, !tcp.isClosed, !readingBody else {
            // Bytes still coming (the rest of a body) are dropped: the connection ends after what is queued.
            closing = true
            if readingBody { tcp.resumeReading() }
            tcp.closeWhenDrained()
            return
        }
        lastActivity = MonotonicClock.now()
        tcp.resumeReading()
        process()
        armIdleTimer()
    }
}
