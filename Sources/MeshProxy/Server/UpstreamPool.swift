import Foundation
import MeshNet
import MeshTLS
import MeshHTTP1

/// Why an upstream attempt ended without a complete answer.
enum UpstreamFailure: Error, Equatable {
    /// The connection could not be made; the text is Envoy's transport failure reason (`delayed_connect_error: Connection refused`).
    case connectFailure(String)
    case connectTimeout
    /// The connection closed or broke before the answer was complete.
    case reset
    /// The answer could not be read (HTTP/1.1), or broke HTTP/2's rules.
    case protocolError(String)
    /// An HTTP/2 upstream reset the stream (`RST_STREAM`); `refused`: with REFUSED_STREAM, or above a GOAWAY's
    /// last stream, so the request was not processed.
    case remoteReset(refused: Bool)
}

/// One HTTP/1.1 connection to an upstream host (plain or TLS), used for one request at a time (keep-alive between them).
final class UpstreamConnection: UpstreamExchange {
    let tcp: ProxyTransport
    let host: Int
    private var decoder = HTTP1ResponseDecoder()
    private var encoder = HTTP1RequestEncoder()
    /// The last request's bytes; the next request reuses the storage when the socket no longer holds it.
    private var spareRequestBuffer = ByteBuffer()
    /// Receives the answer's parts, or the failure that cut it short; nil between requests.
    var onPart: ((Result<UpstreamPart, UpstreamFailure>) -> Void)?
    var onIdleClose: () -> Void = {}
    private(set) var requestsSent = 0
    let openedAt = MonotonicClock.now()
    /// This end's `ip:port`, looked up once (`%UPSTREAM_LOCAL_ADDRESS%`).
    private(set) lazy var localAddress: String? = tcp.localAddress
    /// Closes the connection at the cluster's idle timeout or maximum duration while it is idle (`ConnectionLifetime`).
    var idleTimer: EventLoop.TimerID?
    /// When it last went back to the pool; nil while it carries a request.
    var idleSince: Double?
    /// Whether the last answer allows another request on this connection.
    private(set) var reusable = true
    /// Whether bytes of the answer are read and not yet delivered (a body part follows the head at once).
    var hasBufferedResponseBytes: Bool { decoder.bufferedBytes > 0 }

    /// What the idle timer and a backed-up request's wait hold: no weak reference to the connection, whose side
    /// table would make each of its retains and releases a slow one.
    let handle: ConnectionHandle<UpstreamConnection>

    init(tcp: ProxyTransport, host: Int) {
        self.tcp = tcp
        self.host = host
        handle = ConnectionHandle(tcp: tcp)
        // Delivering a part may let go of this connection (closed after its last answer): keep it to the end of each call.
        tcp.onData = { [unowned self] bytes in
            withExtendedLifetime(self) {
                decoder.feed(bytes)
                drain()
            }
        }
        tcp.onClose = { [unowned self] in
            withExtendedLifetime(self) {
                reusable = false
                guard let deliver = onPart else { onIdleClose(); return }
                onPart = nil
                // A body that runs to the close is whole only if the close was orderly (a TLS stream cut off without
                // close_notify, or a reset, is not).
                if tcp.closeReason == nil, let part = try? decoder.finishAtClose(), part == .end { deliver(.success(.end)) } else { deliver(.failure(.reset)) }
            }
        }
        handle.attach(self)
    }

    deinit { handle.detach() }

    private func drain() {
        while let deliver = onPart {
            let event: HTTP1ResponseDecoder.Event
            do { event = try decoder.nextEvent() } catch {
                onPart = nil
                reusable = false
                tcp.close()
                deliver(.failure(.protocolError("\(error)")))
                return
            }
            switch event {
            case .needMore:
                return
            case .head:
                let head = decoder.takeHead()
                if head.status >= 100 && head.status < 200 && head.status != 101 { continue }
                if decoder.headClosesConnection { reusable = false }
                deliver(.success(.head(head)))
            case .body(let bytes):
                deliver(.success(.body(bytes)))
            case .end:
                onPart = nil
                deliver(.success(.end))
            }
        }
    }

    /// Stops reading HTTP after a 101: bytes already read past its head, then every later read, go to `raw`;
    /// `closed` runs when the connection ends. The connection is not reused.
    func switchProtocols(raw: @escaping (ByteBuffer) -> Void, closed: @escaping () -> Void) {
        onPart = nil
        reusable = false
        onIdleClose = closed
        tcp.onData = raw
        let early = decoder.takeBuffered()
        if early.readableBytes > 0 { raw(early) }
    }

    func send(_ head: HTTPRequestHead, body: [UInt8]) {
        requestsSent += 1
        decoder.requestSent(method: head.method)
        let sendsLength = !body.isEmpty || head.method == "POST" || head.method == "PUT" || head.method == "PATCH"
        // Written into the connection's own buffer: once the socket took the last request, its storage is free again.
        encoder.encodeHead(head, hasBody: false, contentLength: sendsLength ? body.count : nil, into: &spareRequestBuffer, reservingBody: body.count)
        spareRequestBuffer.writeBytes(body)
        _ = encoder.end()
        tcp.send(spareRequestBuffer)
    }

    /// The head (with the client's Content-Length, or chunked) and the body so far; parts follow with `sendBody`.
    func sendHead(_ head: HTTPRequestHead, bodySoFar: [UInt8]) {
        requestsSent += 1
        decoder.requestSent(method: head.method)
        tcp.enqueue(encoder.head(head, hasBody: true))
        if !bodySoFar.isEmpty { for buffer in encoder.body(ByteBuffer(bytes: bodySoFar)) { tcp.enqueue(buffer) } }
        tcp.flush()
    }

    func sendBody(_ part: ByteBuffer, end: Bool) {
        for buffer in encoder.body(part) { tcp.enqueue(buffer) }
        if end, let last = encoder.end() { tcp.enqueue(last) }
        tcp.flush()
    }

    /// Not counted: `isRequestBackedUp` says whether the socket's queue is past its high watermark.
    var requestBacklog: Int { 0 }
    var isRequestBackedUp: Bool { !tcp.isWritable }

    /// Runs `action` once the queued request bytes fall below the low watermark.
    func whenDrained(_ action: @escaping () -> Void) {
        guard !tcp.isWritable else { return action() }
        tcp.onWritabilityChanged = { [handle] writable in
            guard writable, let connection = handle.connection else { return }
            connection.tcp.onWritabilityChanged = { _ in }
            action()
        }
    }

    func endAttempt(reuse: Bool, pool: UpstreamPool) {
        if paused { resumeReading() }
        tcp.onWritabilityChanged = { _ in }
        if reuse { pool.release(self) } else { tcp.close() }
    }

    private var paused = false
    func pauseReading() { paused = true; tcp.pauseReading() }
    func resumeReading() { paused = false; tcp.resumeReading() }
}

/// A loop's connections to one cluster's hosts: idle ones to reuse, and requests waiting for a connection when
/// the cluster's connection limit is reached. Loop thread only.
final class UpstreamPool {
    let cluster: UpstreamCluster
    let loop: EventLoop
    /// Idle connections by host index (an array: a dictionary's in-place update allocated on every request).
    private var idle: [[UpstreamConnection]] = []
    private var waiting: [(host: Int, ready: (Result<any UpstreamExchange, UpstreamFailure>) -> Void)] = []
    /// The HTTP/2 connections, for a cluster that wants HTTP/2 to its hosts.
    private(set) lazy var http2 = HTTP2UpstreamHosts(pool: self)
    /// Connections of this pool, open or being made, by host.
    private var ownConnections: [Int: Int] = [:]
    /// Set when a configuration update replaced or removed the cluster: connections close instead of idling.
    private(set) var retired = false

    init(cluster: UpstreamCluster, loop: EventLoop) {
        self.cluster = cluster
        self.loop = loop
    }

    enum Acquired {
        case connection(any UpstreamExchange)
        /// A new connection is being made, or the request waits for one; `ready` runs later.
        case pending
        case overflow
    }

    /// What carries a request to `host` now, if anything: an idle HTTP/1.1 connection, or a stream on an HTTP/2
    /// connection with room for one.
    func takeIdle(host: Int) -> (any UpstreamExchange)? {
        if cluster.config.wantsHTTP2Upstream { return http2.stream(host: host) }
        return takeIdleConnection(host: host)
    }

    private func takeIdleConnection(host: Int) -> UpstreamConnection? {
        guard host < idle.count else { return nil }
        while let connection = idle[host].popLast() {
            ConnectionLifetime.inUse(connection)
            if !connection.tcp.isClosed { return connection }
        }
        return nil
    }

    /// A connection to `host`: an idle one now, a new one later, or overflow when the circuit breakers say no.
    func acquire(host: Int, ready: @escaping (Result<any UpstreamExchange, UpstreamFailure>) -> Void) -> Acquired {
        if cluster.config.wantsHTTP2Upstream { return http2.acquire(host: host, ready: ready) }
        if let connection = takeIdleConnection(host: host) { return .connection(connection) }
        // Past the cluster's connection limit (other loops hold the connections) a pool with none to the host still
        // makes one, as Envoy does, so its requests cannot wait for a connection that never comes.
        if cluster.canOpen(.connection) || ownConnections[host, default: 0] == 0 {
            guard cluster.open(.pendingRequest) else { return .overflow }
            cluster.openPastLimit(.connection)
            connect(host: host) { [self] result in
                cluster.close(.pendingRequest)
                ready(result.map { $0 })
            }
            return .pending
        }
        guard cluster.open(.pendingRequest) else { return .overflow }
        cluster.stats.adjust(cluster.statPrefix + "upstream_rq_pending_active", by: 1)
        waiting.append((host, { [self] result in
            cluster.close(.pendingRequest)
            cluster.stats.adjust(cluster.statPrefix + "upstream_rq_pending_active", by: -1)
            ready(result)
        }))
        return .pending
    }

    /// The cluster was replaced or removed: idle connections close now, busy ones when their answer is done.
    func retire() {
        retired = true
        let lists = idle
        idle = []
        for connection in lists.joined() { connection.tcp.close() }
        if cluster.config.wantsHTTP2Upstream { http2.retire() }
    }

    /// Takes back a connection after a complete answer: to a waiting request, to the idle list, or closed.
    func release(_ connection: UpstreamConnection) {
        let limit = cluster.config.maxRequestsPerConnection ?? Int.max
        let tooOld = cluster.config.maxConnectionDuration.map { MonotonicClock.now() - connection.openedAt >= $0 } ?? false
        if tooOld { cluster.stats.increment(cluster.statPrefix + "upstream_cx_max_duration_reached") }
        guard !retired, connection.reusable, !connection.tcp.isClosed, connection.requestsSent < limit, !tooOld else {
            connection.tcp.close()
            startWaiting()
            return
        }
        if let index = waiting.firstIndex(where: { $0.host == connection.host }) {
            let waiter = waiting.remove(at: index)
            waiter.ready(.success(connection))
            return
        }
        if idle.count <= connection.host { idle += Array(repeating: [], count: connection.host + 1 - idle.count) }
        idle[connection.host].append(connection)
        ConnectionLifetime.watchIdle(connection, cluster: cluster, loop: loop)
    }

    /// A connection closed: a waiting request may now make its own.
    func startWaiting() {
        guard let index = waiting.firstIndex(where: { cluster.canOpen(.connection) || ownConnections[$0.host, default: 0] == 0 }) else { return }
        let waiter = waiting.remove(at: index)
        cluster.openPastLimit(.connection)
        connect(host: waiter.host) { result in waiter.ready(result.map { $0 }) }
    }

    /// Forgets a waiting request (its client went away).
    func cancelWaiting() {}

    /// Opens a connection to `host` for an HTTP/1.1 request: `completion` gets it once it can carry bytes.
    private func connect(host: Int, completion: @escaping (Result<UpstreamConnection, UpstreamFailure>) -> Void) {
        connect(host: host, opened: { [self] tcp in
            let connection = UpstreamConnection(tcp: tcp, host: host)
            // Set once: a connection that closes while idle leaves the idle list.
            connection.onIdleClose = { [weak self, unowned connection] in
                guard let self else { return }
                if let timer = connection.idleTimer { loop.cancel(timer); connection.idleTimer = nil }
                if connection.host < idle.count { idle[connection.host].removeAll { $0 === connection } }
            }
            return connection
        }, completion: completion)
    }

    /// Opens a connection to `host` under the cluster's connect timeout, counted in its stats and circuit breakers;
    /// `opened` makes the protocol's connection over the transport (setting its handlers) before the pool's close
    /// accounting wraps them.
    func connect<Connection>(host: Int, opened: @escaping (ProxyTransport) -> Connection,
                             completion: @escaping (Result<Connection, UpstreamFailure>) -> Void) {
        let endpoint = cluster.endpoint(host)
        let prefix = cluster.statPrefix
        cluster.stats.increment(prefix + "upstream_cx_total")
        if cluster.config.wantsHTTP2Upstream { cluster.stats.increment(prefix + "upstream_cx_http2_total") }
        cluster.updateHost(host) { $0.totalConnections += 1 }
        ownConnections[host, default: 0] += 1
        var finished = false
        let timer = loop.schedule(after: cluster.config.connectTimeout) { [self] in
            guard !finished else { return }
            finished = true
            ownConnections[host, default: 1] -= 1
            cluster.stats.increment(prefix + "upstream_cx_connect_timeout")
            cluster.updateHost(host) { $0.connectFailures += 1 }
            cluster.close(.connection)
            completion(.failure(.connectTimeout))
        }
        UpstreamConnector.connect(to: endpoint.address, tls: cluster.config.tls(for: endpoint), cluster: cluster, loop: loop) { [self] result in
            switch result {
            case .success(let tcp):
                guard !finished else { tcp.close(); return }
                finished = true
                loop.cancel(timer)
                let connection = opened(tcp)
                cluster.stats.adjust(prefix + "upstream_cx_active", by: 1)
                cluster.updateHost(host) { $0.activeConnections += 1 }
                let previousClose = tcp.onClose
                tcp.onClose = { [self] in
                    cluster.stats.adjust(prefix + "upstream_cx_active", by: -1)
                    cluster.stats.increment(prefix + "upstream_cx_destroy")
                    cluster.updateHost(host) { $0.activeConnections -= 1 }
                    ownConnections[host, default: 1] -= 1
                    cluster.close(.connection)
                    previousClose()
                    startWaiting()
                }
                completion(.success(connection))
            case .failure(let failure):
                guard !finished else { return }
                finished = true
                loop.cancel(timer)
                ownConnections[host, default: 1] -= 1
                cluster.stats.increment(prefix + "upstream_cx_connect_fail")
                cluster.updateHost(host) { $0.connectFailures += 1 }
                cluster.close(.connection)
                completion(.failure(failure))
            }
        }
    }

    /// Connections of this pool to `host`, open or being made.
    func connectionCount(host: Int) -> Int { ownConnections[host, default: 0] }

    /// Envoy's words for a failed connect: `delayed_connect_error: Connection refused`.
    static func transportFailureReason(_ error: NetworkError) -> String {
        switch error {
        case .system(_, let code): return "delayed_connect_error: \(String(cString: strerror(code)))"
        case .address(let text): return "bad address \(text)"
        case .tls(let text): return "TLS error: \(text)"
        }
    }
}
