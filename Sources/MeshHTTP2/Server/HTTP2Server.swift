import Foundation
import MeshNet

/// Answers one HTTP/2 request, once: with a whole response, or a head then body parts (`startStream`). Safe from
/// any thread; the work happens on the connection's loop.
public final class HTTP2Responder: @unchecked Sendable {
    private let connection: HTTP2ServerConnection
    let streamID: UInt32

    init(connection: HTTP2ServerConnection, streamID: UInt32) {
        self.connection = connection
        self.streamID = streamID
    }

    public var loop: EventLoop { connection.tcp.loop }

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

    private func onLoop(_ work: @escaping () -> Void) {
        if loop.inLoop { work() } else { loop.execute(work) }
    }
}

/// A request handler: called on a loop thread with the whole request (body included); it must answer through
/// the responder, now or later.
public typealias HTTP2Handler = @Sendable (HTTPRequest, HTTP2Responder) -> Void

/// HTTP/2 over cleartext TCP (h2c with prior knowledge, RFC 9113 section 3.3) on a few event loops. Requests
/// reach the handler as MeshNet's `HTTPRequest` (version 20, `:authority` as a `host` header).
public final class HTTP2Server: @unchecked Sendable {
    public let port: Int
    let loops: [EventLoop]
    private let listener: TCPListener
    let settings: HTTP2LocalSettings
    let maxBodyBytes: Int
    private let handler: HTTP2Handler
    private let counter = NSLock()
    private var nextLoop = 0

    public init(host: String, port: Int, loops: [EventLoop], settings: HTTP2LocalSettings = HTTP2LocalSettings(),
                maxBodyBytes: Int = 16 * 1024 * 1024, handler: @escaping HTTP2Handler) throws(NetworkError) {
        precondition(!loops.isEmpty, "an HTTP/2 server needs at least one loop")
        self.loops = loops
        self.settings = settings
        self.maxBodyBytes = maxBodyBytes
        self.handler = handler
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
                guard let tcp = try? TCPConnection(fd: fd, loop: loop, tls: nil) else { close(fd); return }
                HTTP2ServerConnection(tcp: tcp, server: self).begin()
            }
        }
    }

    /// Stops accepting; open connections end when their loops stop.
    public func stop() { listener.close() }

    func handle(_ request: HTTPRequest, _ responder: HTTP2Responder) { handler(request, responder) }
}

/// One client connection: bytes between the socket and the HTTP/2 state machine, requests gathered per stream.
final class HTTP2ServerConnection {
    let tcp: TCPConnection
    private unowned let server: HTTP2Server
    private let connection: HTTP2Connection
    /// Requests whose body is still arriving.
    private var requests: [UInt32: HTTPRequest] = [:]
    /// Streams answering a HEAD request: their response keeps its content-length and sends no body.
    private var headStreams: Set<UInt32> = []
    /// Kept alive by the loop's handler table through `tcp`'s callbacks.
    private var retainSelf: HTTP2ServerConnection?
    /// Set while a read is handled: answers given meanwhile go out in one write at its end.
    private var reading = false

    init(tcp: TCPConnection, server: HTTP2Server) {
        self.tcp = tcp
        self.server = server
        connection = HTTP2Connection(role: .server, settings: server.settings)
    }

    func begin() {
        retainSelf = self
        tcp.onData = { [unowned self] bytes in
            reading = true
            handle(connection.receive(bytes))
            reading = false
            flush()
        }
        tcp.onClose = { [unowned self] in
            requests.removeAll()
            retainSelf = nil
        }
        do { try tcp.start() } catch { tcp.close() }
        flush()
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
                if endStream { dispatch(id, request) } else { requests[id] = request }
            case .data(let id, let data, let endStream):
                guard var request = requests[id] else { continue }
                if request.body.count + data.readableBytes > server.maxBodyBytes {
                    requests[id] = nil
                    respond(id, HTTPResponse(status: 413, contentType: "text/plain", text: "request body larger than \(server.maxBodyBytes) bytes\n"))
                    continue
                }
                data.withUnsafeReadableBytes { request.body.append(contentsOf: $0) }
                if endStream { requests[id] = nil; dispatch(id, request) } else { requests[id] = request }
            case .trailers(let id, _):
                if let request = requests.removeValue(forKey: id) { dispatch(id, request) }
            case .streamReset(let id, _, _):
                requests[id] = nil
                headStreams.remove(id)
            case .connectionError:
                requests.removeAll()
                headStreams.removeAll()
            case .streamClosed, .pingAcknowledged, .goAway:
                break
            }
        }
    }

    private func dispatch(_ id: UInt32, _ request: HTTPRequest) {
        if request.method == "HEAD" { headStreams.insert(id) }
        server.handle(request, HTTP2Responder(connection: self, streamID: id))
    }

    /// Writes what the state machine queued, unless a read is being handled (its end writes); closes once the
    /// connection is finished.
    private func flush() {
        guard !reading else { return }
        handle(connection.takeEvents())
        if let bytes = connection.takeOutput() { tcp.send(bytes) }
        if connection.isFinished { tcp.closeWhenDrained() }
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
            let lowered = name.lowercased()
            if HeaderValidation.connectionSpecific.contains(lowered) { continue }
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

    func reset(_ id: UInt32, _ code: HTTP2ErrorCode) {
        connection.resetStream(id, code: code)
        flush()
    }
}
