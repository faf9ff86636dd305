import MeshNet
import MeshHTTP1
import MeshHTTP2

/// A client connection to an HTTP connection manager that speaks HTTP/2 (h2c with prior knowledge, or ALPN `h2`
/// under TLS): each stream's request is served by its own `ProxyStream`, its body whole when it came with its head
/// in one read, else part by part as it arrives (the client's window reopens as the host takes them). A drain says
/// GOAWAY and closes once the streams are done. Loop thread only.
final class DownstreamHTTP2Connection {
    let tcp: ProxyTransport
    let info: DownstreamConnectionInfo
    private let runtime: ProxyRuntime
    private let loopContext: LoopContext
    let manager: HTTPConnectionManagerConfig
    private let codec: HTTP2Connection
    private let listenerStatPrefix: String
    private let managerStats: ConnectionManagerStats
    /// Streams being served.
    private var streams: [UInt32: DownstreamHTTP2Stream] = [:]
    /// Streams whose answer ended while part of it still waits for the client's window, with the stream idle
    /// timer that gives up on them (`http2.tx_flush_timeout`, as Envoy's flush timer).
    private var flushing: [UInt32: EventLoop.TimerID?] = [:]
    private let codecStats: HTTP2CodecStats
    /// The streams' route and stream idle timeouts: one loop timer of each kind for the whole connection.
    private var routeDeadlines: MultiplexedDeadline?
    private var streamIdleDeadlines: MultiplexedDeadline?
    /// What this connection last added to `http2.streams_active` and `http2.pending_send_bytes`.
    private var reportedStreams = 0
    private var reportedPendingBytes = 0
    private var reportedCounters = HTTP2ConnectionCounters()
    private var retainSelf: DownstreamHTTP2Connection?
    private(set) var isDraining = false
    /// Set while a read is handled: what answers write goes out in one write at its end.
    private var reading = false
    /// The connection manager's `idle_timeout`: no stream for that long says GOAWAY and closes.
    private var idleTimer: EventLoop.TimerID?
    private var lastActivity = MonotonicClock.now()

    init(tcp: ProxyTransport, info: DownstreamConnectionInfo, runtime: ProxyRuntime, loopContext: LoopContext,
         manager: HTTPConnectionManagerConfig, listenerStatPrefix: String) {
        self.tcp = tcp
        self.info = info
        self.runtime = runtime
        self.loopContext = loopContext
        self.manager = manager
        self.listenerStatPrefix = listenerStatPrefix
        managerStats = runtime.connectionManagerStats(manager.statPrefix)
        codecStats = runtime.downstreamHTTP2Stats()
        var settings = HTTP2LocalSettings()
        settings.maxConcurrentStreams = manager.http2MaxConcurrentStreams
        settings.initialWindowSize = manager.http2StreamWindowSetting ?? 1 << 20
        settings.connectionWindowSize = manager.http2ConnectionWindowSetting ?? 16 << 20
        if let limit = manager.http2EmptyFramesLimit { settings.floodLimits.maxConsecutiveEmptyFrames = limit }
        if let limit = manager.http2PriorityFramesLimit { settings.floodLimits.maxPriorityFramesPerStream = limit }
        if let limit = manager.http2WindowUpdatesLimit { settings.floodLimits.maxWindowUpdatesPerDataFrameSent = limit }
        // Windows reopen as request bytes are taken: a streamed body waits for its host (`requestBodyPart`).
        settings.reopensWindowsOnReceipt = false
        codec = HTTP2Connection(role: .server, settings: settings)
    }

    /// Starts reading; `initial` holds bytes already read (the preface, while choosing the codec). `counted`: an
    /// HTTP/1.1 connection that saw the preface counted the connection already.
    func begin(initial: ByteBuffer?, counted: Bool = false) {
        retainSelf = self
        runtime.drains.register(self, listener: listenerStatPrefix)
        let http = "http.\(manager.statPrefix)."
        if !counted {
            runtime.stats.increment(http + "downstream_cx_total")
            runtime.stats.adjust(http + "downstream_cx_active", by: 1)
        }
        runtime.stats.increment(http + "downstream_cx_http2_total")
        codecStats.connections.increment()
        tcp.onData = { [unowned self] bytes in
            withExtendedLifetime(self) { read(bytes) }
        }
        watchIdle(after: manager.connectionIdleTimeout)
        tcp.onClose = { [unowned self] in
            if let idleTimer { tcp.loop.cancel(idleTimer); self.idleTimer = nil }
            for case let timer? in flushing.values { tcp.loop.cancel(timer) }
            routeDeadlines?.cancel()
            streamIdleDeadlines?.cancel()
            flushing.removeAll()
            codecStats.streamsActive.adjust(by: -reportedStreams)
            codecStats.pendingSendBytes.adjust(by: -reportedPendingBytes)
            codecStats.report(codec.counters, since: &reportedCounters)
            reportedStreams = 0
            reportedPendingBytes = 0
            runtime.stats.adjust(http + "downstream_cx_active", by: -1)
            runtime.stats.adjust(listenerStatPrefix + "downstream_cx_active", by: -1)
            let open = streams.values
            streams.removeAll()
            for stream in open { stream.proxy?.downstreamClosed() }
            retainSelf = nil
        }
        tcp.onPeerClosedWrite = { [unowned self] in tcp.close() }
        if let initial { withExtendedLifetime(self) { read(initial) } } else { flush() }
    }

    /// One timer for the idle timeout, set again for what is left when the connection was busy or active since.
    private func watchIdle(after delay: Double) {
        let limit = manager.connectionIdleTimeout
        guard limit > 0, !tcp.isClosed else { return }
        idleTimer = tcp.loop.schedule(after: delay) { [weak self] in
            guard let self, !tcp.isClosed else { return }
            idleTimer = nil
            let quiet = MonotonicClock.now() - lastActivity
            guard isIdle, quiet >= limit else { return watchIdle(after: isIdle ? limit - quiet : limit) }
            runtime.stats.increment("http.\(manager.statPrefix).downstream_cx_idle_timeout")
            isDraining = true
            codec.goAway()
            flush()
        }
    }

    private func read(_ bytes: ByteBuffer) {
        lastActivity = MonotonicClock.now()
        reading = true
        handle(codec.receive(bytes))
        resumeDrainedStreams()
        if !flushing.isEmpty { endFlushedStreams() }
        reading = false
        flush()
    }

    private func handle(_ events: [HTTP2Event]) {
        // Requests whose head came in this read and whose body did not end yet: what of it this read holds is
        // gathered first, so a body that came whole goes whole (with its length); the others start streaming after.
        var arriving: [UInt32: HTTPRequest] = [:]
        var arrivalOrder: [UInt32] = []
        for event in events {
            switch event {
            case .headers(let id, var fields, let endStream):
                if manager.headersWithUnderscores != .allow, !admitUnderscores(id, &fields) { continue }
                var request = HTTPRequest(method: "GET", target: "/", version: 20)
                var headers: [(name: String, value: String)] = []
                headers.reserveCapacity(fields.count)
                var authority: String?
                for field in fields {
                    guard field.name.utf8.first == UInt8(ascii: ":") else { headers.append((field.name, field.value)); continue }
                    switch field.name {
                    case ":method": request.method = field.value
                    case ":path": request.target = field.value
                    case ":authority": authority = field.value
                    case ":scheme", ":protocol": break
                    default: headers.append((field.name, field.value))
                    }
                }
                // `host` first, as an HTTP/1.1 request carries it; an HTTP/2 client's own `host` yields to :authority.
                if let authority {
                    headers.removeAll { $0.name == "host" }
                    headers.insert(("host", authority), at: 0)
                }
                request.headers = headers
                if endStream {
                    start(id, request)
                } else {
                    arriving[id] = request
                    arrivalOrder.append(id)
                }
            case .data(let id, let data, let endStream):
                let count = data.readableBytes
                if var request = arriving[id] {
                    codec.dataConsumed(count, on: id)
                    data.withUnsafeReadableBytes { request.body.append(contentsOf: $0) }
                    if endStream || request.body.count > ProxyStream.bufferLimit {
                        arriving[id] = nil
                        start(id, request, bodyComplete: endStream)
                    } else {
                        arriving[id] = request
                    }
                    continue
                }
                if let stream = streams[id], stream.bodyStreaming, let proxy = stream.proxy {
                    if endStream { stream.bodyStreaming = false }
                    stream.withheld += count
                    proxy.requestBodyPart(data, end: endStream) { [weak self, weak stream] in
                        guard let self, let stream, stream.withheld > 0 else { return }
                        codec.dataConsumed(stream.withheld, on: id)
                        stream.withheld = 0
                        flush()
                    }
                    continue
                }
                // Bytes nobody waits for (a stream already answered): taken at once.
                codec.dataConsumed(count, on: id)
            case .trailers(let id, _):
                if let request = arriving.removeValue(forKey: id) { start(id, request); continue }
                if let stream = streams[id], stream.bodyStreaming {
                    stream.bodyStreaming = false
                    stream.proxy?.requestBodyPart(ByteBuffer(), end: true) {}
                }
            case .streamReset(let id, _, _):
                arriving[id] = nil
                if let stream = streams[id], stream.withheld > 0 { codec.dataConsumed(stream.withheld, on: id); stream.withheld = 0 }
                // The stream is held while its proxy stream ends: that stream knows its client only unowned.
                if let stream = streams.removeValue(forKey: id) { withExtendedLifetime(stream) { stream.proxy?.downstreamClosed() } }
            case .connectionError, .goAway, .streamClosed, .pingAcknowledged:
                break
            }
        }
        for id in arrivalOrder { if let request = arriving[id], codec.failed == nil { start(id, request, bodyComplete: false) } }
        // The GOAWAY that says why goes before the close.
        if codec.failed != nil { writeOutput(); tcp.closeWhenDrained() }
    }

    /// `headers_with_underscores_action` on a request head: drops the headers whose name has an underscore, or
    /// resets the stream (INTERNAL_ERROR, as Envoy's codec does) and says false.
    private func admitUnderscores(_ id: UInt32, _ fields: inout [HeaderField]) -> Bool {
        let underscored = fields.indices.filter { fields[$0].name.utf8.first != UInt8(ascii: ":") && fields[$0].name.utf8.contains(UInt8(ascii: "_")) }
        guard !underscored.isEmpty else { return true }
        if manager.headersWithUnderscores == .rejectRequest {
            codecStats.rejectedUnderscoreRequests.increment()
            codec.resetStream(id, code: .internalError)
            return false
        }
        codecStats.droppedUnderscoreHeaders.increment(by: underscored.count)
        for index in underscored.reversed() { fields.remove(at: index) }
        return true
    }

    private func start(_ id: UInt32, _ request: HTTPRequest, bodyComplete: Bool = true) {
        let stream = DownstreamHTTP2Stream(connection: self, id: id)
        stream.bodyStreaming = !bodyComplete
        streams[id] = stream
        let proxy = ProxyStream(runtime: runtime, loopContext: loopContext, downstream: stream, manager: manager, managerStats: managerStats,
                                request: request, bodyComplete: bodyComplete)
        stream.proxy = proxy
        proxy.begin()
    }

    // MARK: For the streams

    /// The connection's timer for the streams' `kind` deadlines.
    func deadlines(for kind: StreamTimer) -> MultiplexedDeadline {
        switch kind {
        case .route:
            if let routeDeadlines { return routeDeadlines }
            let made = MultiplexedDeadline(loop: tcp.loop) { [unowned self] now in expireStreams(.route, now: now) }
            routeDeadlines = made
            return made
        case .streamIdle:
            if let streamIdleDeadlines { return streamIdleDeadlines }
            let made = MultiplexedDeadline(loop: tcp.loop) { [unowned self] now in expireStreams(.streamIdle, now: now) }
            streamIdleDeadlines = made
            return made
        }
    }

    /// Runs the `kind` timeouts of the streams whose deadline passed by `now`, earliest first; returns the next one.
    private func expireStreams(_ kind: StreamTimer, now: UInt64) -> UInt64? {
        var due: [(at: UInt64, stream: DownstreamHTTP2Stream)] = []
        var next: UInt64?
        for stream in streams.values {
            guard let at = stream.deadline(kind) else { continue }
            if at <= now { due.append((at, stream)) } else { next = min(next ?? at, at) }
        }
        due.sort { $0.at < $1.at }
        for (_, stream) in due {
            // An earlier timeout of this sweep may have ended the stream or moved its deadline.
            guard let at = stream.deadline(kind), at <= now else { continue }
            stream.expire(kind)
        }
        return next
    }

    func writeHead(_ id: UInt32, status: Int, headers: [(name: String, value: String)], endStream: Bool) {
        var fields: [HeaderField] = []
        fields.reserveCapacity(headers.count + 1)
        fields.append(HeaderField(name: ":status", value: String(status)))
        for (name, value) in headers {
            let lowered = HTTP2HeaderNames.lowercased(name)
            if HTTP2HeaderNames.isConnectionSpecific(lowered) { continue }
            fields.append(HeaderField(name: lowered, value: value))
        }
        try? codec.sendHeaders(streamID: id, headers: fields, endStream: endStream)
    }

    func writeBody(_ id: UInt32, _ part: ByteBuffer, endStream: Bool) {
        try? codec.sendData(streamID: id, part, endStream: endStream)
        guard !endStream, codec.pendingBytes(on: id) > Self.pauseAbove, let stream = streams[id], !stream.pausedUpstream else { return }
        stream.pausedUpstream = true
        stream.proxy?.downstreamBackpressure(paused: true)
    }

    /// Bytes of an answer waiting for the client's window above which its upstream is paused, and below which it
    /// goes on.
    static let pauseAbove = 512 * 1024
    static let resumeBelow = 128 * 1024

    /// After the client's WINDOW_UPDATEs: streams whose queue went down let their upstream go on.
    private func resumeDrainedStreams() {
        for (id, stream) in streams where stream.pausedUpstream && codec.pendingBytes(on: id) < Self.resumeBelow {
            stream.pausedUpstream = false
            stream.proxy?.downstreamBackpressure(paused: false)
        }
    }

    func writeTrailers(_ id: UInt32, _ trailers: [(name: String, value: String)]) {
        try? codec.sendTrailers(streamID: id, trailers.map { HeaderField(name: $0.name.lowercased(), value: $0.value) })
    }

    func reset(_ id: UInt32) {
        codec.resetStream(id, code: .internalError)
        flush()
    }

    /// Writes what the codec queued at the end of the loop's turn (unless a read is being handled: its end asks
    /// again), so the answers of every upstream read in one turn leave in one write, as do a body and its end.
    func flush() {
        guard !reading, !writeScheduled else { return }
        writeScheduled = true
        tcp.loop.execute { [self] in
            writeScheduled = false
            writeOutput()
        }
    }

    /// A write is due at the end of this turn of the loop.
    private var writeScheduled = false

    private func writeOutput() {
        guard !tcp.isClosed else { return }
        if let bytes = codec.takeOutput() { tcp.send(bytes) }
        reportCodecGauges()
        if isDraining && isIdle { tcp.closeWhenDrained() }
    }

    /// `http2.streams_active` and `http2.pending_send_bytes` follow the codec, moved by this connection's change;
    /// its counters add what it counted since.
    private func reportCodecGauges() {
        codecStats.report(codec.counters, since: &reportedCounters)
        let active = codec.activeStreamCount, pending = codec.pendingSendBytes
        if active != reportedStreams {
            codecStats.streamsActive.adjust(by: active - reportedStreams)
            reportedStreams = active
        }
        if pending != reportedPendingBytes {
            codecStats.pendingSendBytes.adjust(by: pending - reportedPendingBytes)
            reportedPendingBytes = pending
        }
    }

    /// A stream whose answer is whole but waits for the client's window stays until it is written, or until the
    /// stream idle timeout, which resets it and counts `http2.tx_flush_timeout`.
    private func waitForFlush(_ id: UInt32) {
        let timeout = manager.streamIdleTimeout
        guard timeout > 0 else { flushing[id] = .some(nil); return }
        flushing[id] = tcp.loop.schedule(after: timeout) { [weak self] in
            guard let self, !tcp.isClosed, flushing.removeValue(forKey: id) != nil else { return }
            codecStats.txFlushTimeout.increment()
            codec.resetStream(id, code: .internalError)
            flush()
        }
    }

    /// After the client's frames: streams whose answer went out (or that the client reset) are done; one whose
    /// request is still arriving is reset with NO_ERROR, as when its answer went out at once.
    private func endFlushedStreams() {
        for (id, timer) in flushing where codec.isSendingEnded(id) {
            if let timer { tcp.loop.cancel(timer) }
            flushing[id] = nil
            if codec.isStreamOpen(id) { codec.resetStream(id, code: .noError) }
        }
    }

    /// `answered`: the answer went out whole. A stream left open is reset: NO_ERROR after a whole answer (a request
    /// body still arriving is not wanted any more), INTERNAL_ERROR for an answer cut short, as Envoy resets it.
    func streamFinished(_ id: UInt32, answered: Bool) {
        // Bytes held back from the connection's window go back to it.
        if let stream = streams[id], stream.withheld > 0 { codec.dataConsumed(stream.withheld, on: id); stream.withheld = 0 }
        streams[id] = nil
        lastActivity = MonotonicClock.now()
        if answered && !codec.isSendingEnded(id) {
            waitForFlush(id)
        } else if codec.isStreamOpen(id) {
            codec.resetStream(id, code: answered ? .noError : .internalError)
        }
        flush()
    }

    /// Starts draining (loop thread): GOAWAY now, close once the streams are done or at `deadline`.
    func drain(deadline: Double) {
        guard !isDraining, !tcp.isClosed else { return }
        isDraining = true
        codec.goAway()
        flush()
        tcp.loop.schedule(after: deadline) { [weak self] in
            guard let self, !tcp.isClosed else { return }
            tcp.close()
        }
    }

    var isIdle: Bool { streams.isEmpty && flushing.isEmpty }
}

/// One stream of a `DownstreamHTTP2Connection`, the client side of its `ProxyStream`.
final class DownstreamHTTP2Stream: DownstreamClient {
    private unowned let connection: DownstreamHTTP2Connection
    let id: UInt32
    var proxy: ProxyStream?
    private var finished = false
    /// Its answer's upstream was paused: the client's window is full.
    var pausedUpstream = false
    /// Its request body is still arriving, part by part, to the proxy stream.
    var bodyStreaming = false
    /// Request bytes taken from the client and not yet given back to its window (the host is slow).
    var withheld = 0

    init(connection: DownstreamHTTP2Connection, id: UInt32) {
        self.connection = connection
        self.id = id
    }

    var info: DownstreamConnectionInfo { connection.info }
    var isDraining: Bool { connection.isDraining }
    var isHTTP2: Bool { true }
    /// As in Envoy, an HTTP/2 stream keeps up to the connection manager's `initial_stream_window_size` of its
    /// request body for a retry or a shadow, whatever the listener's `per_connection_buffer_limit_bytes`.
    var streamBufferLimit: Int { connection.manager.http2InitialStreamWindowSize }
    private(set) lazy var routeTimeoutFired: () -> Void = { [weak self] in self?.proxy?.routeTimeoutFired() }
    private(set) lazy var streamIdleFired: () -> Void = { [weak self] in self?.proxy?.streamIdleFired() }
    private(set) lazy var maxDurationFired: () -> Void = { [weak self] in self?.proxy?.maxDurationFired() }
    /// When the route and stream idle timeouts end, on the loop's clock (the connection's timers look).
    private var routeDeadline: UInt64?
    private var streamIdleDeadline: UInt64?

    func deadline(_ kind: StreamTimer) -> UInt64? {
        switch kind {
        case .route: return routeDeadline
        case .streamIdle: return streamIdleDeadline
        }
    }

    func startTimer(_ kind: StreamTimer, after seconds: Double) {
        let timer = connection.deadlines(for: kind)
        let at = timer.deadline(after: seconds)
        switch kind {
        case .route: routeDeadline = at
        case .streamIdle: streamIdleDeadline = at
        }
        timer.willExpire(at: at)
    }

    func stopTimer(_ kind: StreamTimer) {
        switch kind {
        case .route: routeDeadline = nil
        case .streamIdle: streamIdleDeadline = nil
        }
    }

    /// The `kind` deadline passed.
    func expire(_ kind: StreamTimer) {
        stopTimer(kind)
        switch kind {
        case .route: routeTimeoutFired()
        case .streamIdle: streamIdleFired()
        }
    }

    /// The answer's end went out (its last DATA, trailers, or a local reply).
    private var answered = false

    func writeResponseHead(status: Int, headers: [(name: String, value: String)], chunked: Bool) {
        connection.writeHead(id, status: status, headers: headers, endStream: false)
    }

    func writeResponseBody(_ part: ByteBuffer) { connection.writeBody(id, part, endStream: false) }

    func endResponse(trailers: [(name: String, value: String)]) {
        answered = true
        if trailers.isEmpty { connection.writeBody(id, ByteBuffer(), endStream: true) } else { connection.writeTrailers(id, trailers) }
    }

    func flush() { connection.flush() }

    func sendLocalReply(_ reply: LocalReply, serverName: String, keepAlive: Bool) {
        answered = true
        var headers = reply.extraHeaders
        if reply.body.isEmpty {
            // An empty answer is a HEADERS frame that ends the stream, with no content-length (as from Envoy).
            headers += [("date", HTTPDate.now()), ("server", serverName)]
        } else {
            headers += [("content-length", String(reply.body.utf8.count)), ("content-type", "text/plain"), ("date", HTTPDate.now()), ("server", serverName)]
        }
        connection.writeHead(id, status: reply.status, headers: headers, endStream: reply.body.isEmpty)
        if !reply.body.isEmpty { connection.writeBody(id, ByteBuffer(string: reply.body), endStream: true) }
        connection.flush()
    }

    func abort() { connection.reset(id) }

    func streamFinished(keepAlive: Bool) {
        guard !finished else { return }
        finished = true
        proxy = nil
        connection.streamFinished(id, answered: answered)
    }
}
