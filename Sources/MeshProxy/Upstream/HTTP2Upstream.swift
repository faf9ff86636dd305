import MeshNet
import MeshHTTP1
import MeshHTTP2

/// A pool's HTTP/2 connections, for a cluster that wants HTTP/2 to its hosts: requests share a connection per host
/// as streams, up to `max_concurrent_streams` (the cluster's, and the host's SETTINGS); more open another connection
/// when the circuit breakers allow. A request waits (a pending request) only while no connection has room. As in
/// Envoy, the `max_requests` breaker, not `max_connections`, is what bounds the load. Loop thread only.
final class HTTP2UpstreamHosts {
    private unowned let pool: UpstreamPool
    private var connections: [HTTP2UpstreamConnection] = []
    /// Connections being made, by host.
    private var connecting: [Int: Int] = [:]
    private var waiting: [(host: Int, ready: (Result<any UpstreamExchange, UpstreamFailure>) -> Void)] = []
    private var retired = false

    init(pool: UpstreamPool) { self.pool = pool }

    private var cluster: UpstreamCluster { pool.cluster }
    /// `cluster.NAME.http2.streams_active` and `pending_send_bytes` (request bodies waiting for the hosts' windows).
    private lazy var codecStats = HTTP2CodecStats(prefix: cluster.statPrefix + "http2.", stats: cluster.stats, downstream: false)

    /// A stream on an open connection to `host` with room for one, if there is one.
    func stream(host: Int) -> HTTP2UpstreamStream? {
        guard !retired, let connection = connections.first(where: { $0.host == host && $0.hasRoom }) else { return nil }
        return connection.reserveStream()
    }

    /// A stream now, or later (`ready`) once a connection is made or has room again; overflow when the pending
    /// requests breaker says no.
    func acquire(host: Int, ready: @escaping (Result<any UpstreamExchange, UpstreamFailure>) -> Void) -> UpstreamPool.Acquired {
        if let stream = stream(host: host) { return .connection(stream) }
        guard cluster.open(.pendingRequest) else { return .overflow }
        cluster.stats.adjust(cluster.statPrefix + "upstream_rq_pending_active", by: 1)
        waiting.append((host, ready))
        if connecting[host, default: 0] == 0 && (cluster.canOpen(.connection) || pool.connectionCount(host: host) == 0) {
            open(host: host)
        }
        return .pending
    }

    private func open(host: Int) {
        connecting[host, default: 0] += 1
        cluster.openPastLimit(.connection)
        let settings = Self.settings
        let limit = cluster.config.http2MaxConcurrentStreams
        let lifetime = HTTP2UpstreamConnection.Lifetime(idleTimeout: cluster.config.connectionIdleTimeout, maxDuration: cluster.config.maxConnectionDuration,
                                                        maxRequests: cluster.config.maxRequestsPerConnection ?? Int.max)
        let stats = cluster.stats, prefix = cluster.statPrefix
        let codecStats = self.codecStats
        // Envoy counts a connection once its codec is made, before it connects.
        codecStats.connections.increment()
        pool.connect(host: host, opened: { tcp in
            let connection = HTTP2UpstreamConnection(tcp: tcp, host: host, settings: settings, streamLimit: limit, lifetime: lifetime,
                                                     codecStats: codecStats)
            connection.onLifetimeEnd = { stat in stats.increment(prefix + stat) }
            return connection
        }) { [self] result in
            connecting[host, default: 1] -= 1
            switch result {
            case .success(let connection):
                connection.onRoom = { [weak self, unowned connection] in self?.serveWaiting(on: connection) }
                connection.onClosed = { [weak self, unowned connection] in
                    guard let self else { return }
                    connections.removeAll { $0 === connection }
                    openForWaiting()
                }
                connections.append(connection)
                connection.start()
                serveWaiting(on: connection)
                openForWaiting()
            case .failure(let failure):
                // Envoy fails the requests waiting for the host's connection with its failure.
                let failed = waiting.filter { $0.host == host }
                waiting.removeAll { $0.host == host }
                for waiter in failed { take(waiter).ready(.failure(failure)) }
            }
        }
    }

    /// Hands streams of `connection` to requests waiting for its host while it has room.
    private func serveWaiting(on connection: HTTP2UpstreamConnection) {
        while connection.hasRoom, let index = waiting.firstIndex(where: { $0.host == connection.host }) {
            let waiter = take(waiting.remove(at: index))
            waiter.ready(.success(connection.reserveStream()))
        }
        if connection.isFinished { connection.close() }
    }

    /// Requests still waiting with no connection being made for their host: make one.
    private func openForWaiting() {
        guard !retired else { return }
        for host in Set(waiting.map(\.host)) where connecting[host, default: 0] == 0 {
            if cluster.canOpen(.connection) || pool.connectionCount(host: host) == 0 { open(host: host) }
        }
    }

    /// A waiter leaves the queue: its pending request counts no more.
    private func take(_ waiter: (host: Int, ready: (Result<any UpstreamExchange, UpstreamFailure>) -> Void))
        -> (host: Int, ready: (Result<any UpstreamExchange, UpstreamFailure>) -> Void) {
        cluster.close(.pendingRequest)
        cluster.stats.adjust(cluster.statPrefix + "upstream_rq_pending_active", by: -1)
        return waiter
    }

    /// The cluster was replaced or removed: each connection says GOAWAY, and closes once its streams are done.
    func retire() {
        retired = true
        for connection in connections { connection.drain() }
    }

    /// What this side announces: 1 MiB per stream, 16 MiB per connection (Envoy opens 256 MiB), given back as the
    /// client side takes the bytes.
    static let settings: HTTP2LocalSettings = {
        var settings = HTTP2LocalSettings()
        settings.initialWindowSize = 1 << 20
        settings.connectionWindowSize = 16 << 20
        settings.maxConcurrentStreams = 100
        // Windows reopen as the client side takes the bytes: a slow client slows its stream's host.
        settings.reopensWindowsOnReceipt = false
        return settings
    }()
}

/// One HTTP/2 connection to an upstream host: the sans-IO `HTTP2Connection` over the transport, its streams by id.
final class HTTP2UpstreamConnection {
    let tcp: ProxyTransport
    let host: Int
    /// This end's `ip:port`, looked up once (`%UPSTREAM_LOCAL_ADDRESS%`).
    private(set) lazy var localAddress: String? = tcp.localAddress
    private let codec: HTTP2Connection
    private let streamLimit: Int
    private var streams: [UInt32: HTTP2UpstreamStream] = [:]
    /// Streams handed out whose request has not gone yet.
    private var reserved = 0
    /// The cluster's limits on a connection's life: `idle_timeout`, `max_connection_duration`,
    /// `max_requests_per_connection` (past any of them the connection says GOAWAY and closes once its streams end).
    struct Lifetime {
        var idleTimeout: Double
        var maxDuration: Double?
        var maxRequests: Int
    }
    private let lifetime: Lifetime
    private let openedAt = MonotonicClock.now()
    private var lastActive = MonotonicClock.now()
    private var lifetimeTimer: EventLoop.TimerID?
    /// Streams handed out so far.
    private var handedOut = 0
    /// Counts the stat that ended the connection's life (`upstream_cx_idle_timeout`, `upstream_cx_max_duration_reached`).
    var onLifetimeEnd: (String) -> Void = { _ in }
    /// A stream ended or SETTINGS arrived: waiting requests may fit now.
    var onRoom: () -> Void = {}
    var onClosed: () -> Void = {}

    /// The cluster's `http2.streams_active` and `http2.pending_send_bytes`, and what this connection added to them.
    private let codecStats: HTTP2CodecStats
    private var reportedStreams = 0
    private var reportedPendingBytes = 0
    private var reportedCounters = HTTP2ConnectionCounters()

    init(tcp: ProxyTransport, host: Int, settings: HTTP2LocalSettings, streamLimit: Int, lifetime: Lifetime, codecStats: HTTP2CodecStats) {
        self.codecStats = codecStats
        self.tcp = tcp
        self.host = host
        self.streamLimit = streamLimit
        self.lifetime = lifetime
        codec = HTTP2Connection(role: .client, settings: settings)
        tcp.onData = { [unowned self] bytes in
            withExtendedLifetime(self) {
                handle(codec.receive(bytes))
                flush()
            }
        }
        tcp.onClose = { [unowned self] in
            withExtendedLifetime(self) {
                if let lifetimeTimer { tcp.loop.cancel(lifetimeTimer); self.lifetimeTimer = nil }
                codecStats.streamsActive.adjust(by: -reportedStreams)
                codecStats.pendingSendBytes.adjust(by: -reportedPendingBytes)
                codecStats.report(codec.counters, since: &reportedCounters)
                reportedStreams = 0
                reportedPendingBytes = 0
                let open = streams.values
                streams.removeAll()
                for stream in open { stream.failed(.reset) }
                onClosed()
            }
        }
    }

    func start() {
        flush()
        watchLifetime()
    }

    /// Whether another stream fits: open, no GOAWAY, under both limits and the requests per connection.
    var hasRoom: Bool {
        !tcp.isClosed && codec.canOpenStream && streams.count + reserved < streamLimit && handedOut < lifetime.maxRequests
    }

    /// After a GOAWAY (either way), or its last allowed request, with no stream left.
    var isFinished: Bool {
        reserved == 0 && (codec.isFinished || (handedOut >= lifetime.maxRequests && streams.isEmpty))
    }

    private var isIdle: Bool { streams.isEmpty && reserved == 0 }

    /// One timer for the idle timeout and the maximum duration, set again for what is left when it fires early.
    private func watchLifetime() {
        guard !tcp.isClosed, lifetimeTimer == nil else { return }
        let now = MonotonicClock.now()
        var due = Double.infinity
        if lifetime.idleTimeout > 0 { due = (isIdle ? lastActive : now) + lifetime.idleTimeout }
        if let maximum = lifetime.maxDuration { due = min(due, openedAt + maximum) }
        guard due.isFinite else { return }
        lifetimeTimer = tcp.loop.schedule(after: max(0, due - now)) { [weak self] in
            guard let self else { return }
            lifetimeTimer = nil
            let now = MonotonicClock.now()
            if let maximum = lifetime.maxDuration, now >= openedAt + maximum {
                onLifetimeEnd("upstream_cx_max_duration_reached")
                return drain()
            }
            if lifetime.idleTimeout > 0, isIdle, now - lastActive >= lifetime.idleTimeout {
                onLifetimeEnd("upstream_cx_idle_timeout")
                return drain()
            }
            watchLifetime()
        }
    }

    func reserveStream() -> HTTP2UpstreamStream {
        handedOut += 1
        if handedOut == lifetime.maxRequests { onLifetimeEnd("upstream_cx_max_requests") }
        reserved += 1
        return HTTP2UpstreamStream(connection: self)
    }

    /// Opens the stream for a reserved slot and sends the request.
    /// `endStream` false: more of the body follows (`sendBody`).
    func open(_ stream: HTTP2UpstreamStream, fields: [HeaderField], body: [UInt8], endStream: Bool = true) {
        reserved -= 1
        stream.opened = true
        // A stream that cannot open fails on the next turn of the loop, as a failure read from the socket would:
        // the caller is still inside `send`.
        guard !tcp.isClosed, codec.failed == nil else {
            return tcp.loop.execute { stream.failed(.reset) }
        }
        do {
            let id = try codec.openStream(headers: fields, endStream: body.isEmpty && endStream)
            stream.id = id
            streams[id] = stream
            if !body.isEmpty { try codec.sendData(streamID: id, ByteBuffer(bytes: body), endStream: endStream) }
        } catch {
            // Refused before it went: the host's stream limit or a GOAWAY came first.
            tcp.loop.execute { stream.failed(.remoteReset(refused: true)) }
        }
        flush()
    }

    /// The attempt on `stream` is over: an unfinished stream is reset (CANCEL), its slot freed.
    func release(_ stream: HTTP2UpstreamStream) {
        if !stream.opened {
            reserved -= 1
            return afterStreamEnded()
        }
        if stream.unconsumed > 0 { codec.dataConsumed(stream.unconsumed, on: stream.id ?? 0); stream.unconsumed = 0 }
        guard let id = stream.id else { return afterStreamEnded() }
        stream.id = nil
        if streams.removeValue(forKey: id) != nil, codec.isStreamOpen(id) { codec.resetStream(id, code: .cancel) }
        afterStreamEnded()
    }

    private func afterStreamEnded() {
        lastActive = MonotonicClock.now()
        flush()
        if isFinished { return close() }
        onRoom()
    }

    /// Says GOAWAY: no new streams; the connection closes when its streams are done.
    func drain() {
        codec.goAway()
        flush()
        if isFinished { close() }
    }

    /// Closes once what is queued is written (a GOAWAY, a reset), written now rather than at the turn's end.
    func close() {
        writeOutput()
        tcp.closeWhenDrained()
    }

    private func handle(_ events: [HTTP2Event]) {
        var roomChanged = false
        for event in events {
            switch event {
            case .headers(let id, let fields, let endStream):
                guard let stream = streams[id] else { continue }
                stream.receivedHead(fields, endStream: endStream)
            case .data(let id, let data, let endStream):
                streams[id]?.receivedBody(data, endStream: endStream)
            case .trailers(let id, let fields):
                streams[id]?.receivedTrailers(fields)
            case .streamReset(let id, let code, let byPeer):
                guard let stream = streams.removeValue(forKey: id) else { continue }
                stream.id = nil
                roomChanged = true
                if byPeer {
                    stream.failed(.remoteReset(refused: code == .refusedStream))
                } else {
                    stream.failed(.protocolError("the upstream broke HTTP/2's rules on stream \(id): \(code)"))
                }
            case .streamClosed:
                roomChanged = true
            case .goAway:
                roomChanged = true
            case .connectionError(let error):
                let open = streams.values
                streams.removeAll()
                for stream in open { stream.failed(.protocolError("\(error)")) }
            case .pingAcknowledged:
                break
            }
        }
        if codec.failed != nil || isFinished { flush(); return close() }
        // WINDOW_UPDATEs may have let request bodies go: streams waiting for that hear of it.
        for stream in streams.values where stream.onDrained != nil { stream.checkDrained() }
        if roomChanged { onRoom() }
    }

    /// Writes what the codec queued at the end of the loop's turn, so the requests (and window updates) of every
    /// client read in one turn leave in one write, as the client side's answers do.
    private func flush() {
        guard !writeScheduled else { return }
        writeScheduled = true
        tcp.loop.execute { [self] in
            writeScheduled = false
            writeOutput()
        }
    }

    /// A write is due at the end of this turn of the loop.
    private var writeScheduled = false

    private func writeOutput() {
        if let bytes = codec.takeOutput() { tcp.send(bytes) }
        codecStats.report(codec.counters, since: &reportedCounters)
        guard !tcp.isClosed else { return }
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

    /// More of a streamed request body.
    func sendBody(_ part: ByteBuffer, end: Bool, on stream: HTTP2UpstreamStream) {
        guard let id = stream.id, codec.isStreamOpen(id) else { return }
        try? codec.sendData(streamID: id, part, endStream: end)
        flush()
    }

    /// Request bytes of stream `id` waiting for the host's window.
    func pendingRequestBytes(_ id: UInt32) -> Int { codec.pendingBytes(on: id) }

    /// The client side took `count` bytes of stream `id`'s answer: the host may send that much more.
    func consumed(_ count: Int, on id: UInt32) {
        codec.dataConsumed(count, on: id)
        flush()
    }
}

/// One request's stream on an `HTTP2UpstreamConnection`.
final class HTTP2UpstreamStream: UpstreamExchange {
    private let connection: HTTP2UpstreamConnection
    /// The stream's id once its request went; nil before, and after it failed.
    var id: UInt32?
    /// Its request was sent (or tried): the connection's reserved slot is used.
    var opened = false
    private var released = false
    var onPart: ((Result<UpstreamPart, UpstreamFailure>) -> Void)?
    var host: Int { connection.host }
    var hasBufferedResponseBytes: Bool { false }
    /// While paused: bytes delivered and not given back to the host's window.
    private var paused = false
    var unconsumed = 0
    var localAddress: String? { connection.localAddress }

    init(connection: HTTP2UpstreamConnection) { self.connection = connection }

    func send(_ head: HTTPRequestHead, body: [UInt8]) {
        connection.open(self, fields: fields(head, contentLength: body.isEmpty ? nil : body.count), body: body)
    }

    func sendHead(_ head: HTTPRequestHead, bodySoFar: [UInt8]) {
        connection.open(self, fields: fields(head, contentLength: nil), body: bodySoFar, endStream: false)
    }

    func sendBody(_ part: ByteBuffer, end: Bool) { connection.sendBody(part, end: end, on: self) }

    var requestBacklog: Int { id.map { connection.pendingRequestBytes($0) } ?? 0 }
    /// Runs once the backlog is below `drainedBelow` (now, if it is).
    private(set) var onDrained: (() -> Void)?
    static let drainedBelow = 256 * 1024

    func whenDrained(_ action: @escaping () -> Void) {
        onDrained = action
        checkDrained()
    }

    func checkDrained() {
        guard let action = onDrained, requestBacklog < Self.drainedBelow else { return }
        onDrained = nil
        action()
    }

    /// The request head as HTTP/2 fields: pseudo-headers first, names lowercased, connection-specific ones left out.
    private func fields(_ head: HTTPRequestHead, contentLength: Int?) -> [HeaderField] {
        var fields: [HeaderField] = []
        fields.reserveCapacity(head.headers.count + 4)
        fields.append(HeaderField(name: ":method", value: head.method))
        fields.append(HeaderField(name: ":scheme", value: "http"))
        fields.append(HeaderField(name: ":authority", value: head.header("host") ?? ""))
        fields.append(HeaderField(name: ":path", value: head.target))
        for (name, value) in head.headers {
            let lowered = HTTP2HeaderNames.lowercased(name)
            if lowered == "host" || HTTP2HeaderNames.isConnectionSpecific(lowered) { continue }
            if lowered == "te" && value.lowercased() != "trailers" { continue }
            fields.append(HeaderField(name: lowered, value: value))
        }
        if let contentLength, !fields.contains(where: { $0.name == "content-length" }) {
            fields.append(HeaderField(name: "content-length", value: String(contentLength)))
        }
        return fields
    }

    func endAttempt(reuse: Bool, pool: UpstreamPool) {
        guard !released else { return }
        released = true
        onPart = nil
        if let action = onDrained { onDrained = nil; action() }
        connection.release(self)
    }

    // MARK: From the connection

    func receivedHead(_ fields: [HeaderField], endStream: Bool) {
        let status = Int(fields.first { $0.name == ":status" }?.value ?? "") ?? 0
        guard status >= 200 else { return }
        var headers: [(name: String, value: String)] = []
        headers.reserveCapacity(fields.count)
        for field in fields where !field.name.hasPrefix(":") { headers.append((field.name, field.value)) }
        onPart?(.success(.head(HTTPResponseHead(status: status, reason: "", version: 20, headers: headers))))
        if endStream { ended() }
    }

    func receivedBody(_ data: ByteBuffer, endStream: Bool) {
        if data.readableBytes > 0 {
            if paused { unconsumed += data.readableBytes } else if let id { connection.consumed(data.readableBytes, on: id) }
            onPart?(.success(.body(data)))
        }
        if endStream { ended() }
    }

    func pauseReading() { paused = true }

    func resumeReading() {
        paused = false
        if unconsumed > 0, let id {
            connection.consumed(unconsumed, on: id)
            unconsumed = 0
        }
    }

    func receivedTrailers(_ fields: [HeaderField]) {
        onPart?(.success(.trailers(fields.map { ($0.name, $0.value) })))
        ended()
    }

    private func ended() {
        guard let deliver = onPart else { return }
        onPart = nil
        deliver(.success(.end))
    }

    func failed(_ failure: UpstreamFailure) {
        id = nil
        // Whoever waits for the backlog goes on (its request has ended anyway).
        if let action = onDrained { onDrained = nil; action() }
        guard let deliver = onPart else { return }
        onPart = nil
        deliver(.failure(failure))
    }
}
