import MeshNet
import MeshTLS

/// Answers one request: once with `respond`, or with a stream (`startStream`) for long or open-ended responses
/// such as watches. Safe to use from any thread; the work happens on the connection's loop.
public final class HTTPResponder: @unchecked Sendable {
    let connection: HTTPServerConnection
    private(set) var keepAlive: Bool
    private var answered = false

    init(connection: HTTPServerConnection, keepAlive: Bool) {
        self.connection = connection
        self.keepAlive = keepAlive
    }

    /// Readies a responder nobody else holds any more for the connection's next request.
    func reset(keepAlive: Bool) {
        self.keepAlive = keepAlive
        answered = false
    }

    public var loop: EventLoop { connection.tcp.loop }

    /// The connection's TLS (ALPN's choice, the client's SPIFFE identity under mTLS), nil over plain TCP. Loop thread only.
    public var tls: TLSHandler? { connection.channel?.tls }

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
        guard connection.channel != nil else { return }
        // 64 more than the status line and headers: Content-Length (up to 20 digits) and the Connection line.
        let size = HTTPResponse.sizeOfStatusAndHeaders(headers: response.headers) + 64 + response.body.count
        var out = connection.outputBuffer(capacity: size)
        // One reservation, then every part copied at a cursor: no capacity check per part.
        out.write(reserving: size) { cursor in
            HTTPResponse.writeStatusAndHeaders(status: response.status, headers: response.headers, into: &cursor)
            cursor.write("Content-Length: ")
            cursor.writeDecimal(response.body.count)
            cursor.write(keepAlive ? "\r\n\r\n" : "\r\nConnection: close\r\n\r\n")
            cursor.write(response.body)
        }
        connection.sendAnswer(consume out)
        connection.finished(keepAlive: keepAlive)
    }

    /// Starts a streamed response: chunked, or with `contentLength` when the size is known (then exactly that many
    /// bytes must be sent). The stream ends with `HTTPStream.finish` or when the client goes away.
    public func startStream(status: Int, headers: [(name: String, value: String)], contentLength: Int? = nil) -> HTTPStream {
        let stream = HTTPStream(responder: self, contentLength: contentLength)
        onLoop { [self] in
            guard !answered else { return }
            answered = true
            // The client may be gone already, or go with the head's write: either way the stream ends, so its onEnd runs.
            guard let channel = connection.channel, !connection.tcp.isClosed else { stream.ended(clientGone: true); return }
            connection.stream = stream
            let framing = contentLength.map { ("Content-Length", String($0)) } ?? ("Transfer-Encoding", "chunked")
            channel.writeAndFlush(ByteBuffer(bytes: HTTPResponse.head(status: status, headers: headers + [framing])))
        }
        return stream
    }

    func onLoop(_ work: @escaping () -> Void) {
        if loop.inLoop { work() } else { loop.execute(work) }
    }
}

/// The body of a streamed response, written as it comes: as chunks, or as raw bytes under a Content-Length.
public final class HTTPStream: @unchecked Sendable {
    private let responder: HTTPResponder
    private let contentLength: Int?
    private var sent = 0
    private let end = StreamEnd()
    /// Called once, on the loop, when the stream ends for any reason (finish, client gone, server stopping). Set it on the
    /// loop; set after the stream has already ended (a first write that failed), it runs at once.
    public var onEnd: () -> Void {
        get { end.onEnd }
        set { end.onEnd = newValue }
    }
    /// The connection's queued output crossed a watermark: stop producing while false (see `WriteWatermarks`). Loop only.
    public var onWritabilityChanged: (Bool) -> Void = { _ in }

    private static let crlf = ByteBuffer(string: "\r\n")
    private static let lastChunk = ByteBuffer(string: "0\r\n\r\n")

    init(responder: HTTPResponder, contentLength: Int?) {
        self.responder = responder
        self.contentLength = contentLength
    }

    public var loop: EventLoop { responder.loop }

    /// Sends one part without copying it. Any thread.
    public func send(_ part: ByteBuffer) {
        guard part.readableBytes > 0 else { return }
        responder.onLoop { [self] in
            guard !end.hasEnded, let channel = responder.connection.channel else { return }
            sent += part.readableBytes
            if contentLength == nil {
                channel.write(ByteBuffer(string: String(part.readableBytes, radix: 16) + "\r\n"))
                channel.write(part)
                channel.write(Self.crlf)
            } else {
                channel.write(part)
            }
            channel.flush()
        }
    }

    /// Bytes queued for a slow client; callers may drop the stream when it grows too much.
    public var pendingOutput: Int { responder.connection.tcp.pendingOutput }

    /// Whether the client keeps up (queued output under the high watermark). Loop only.
    public var isWritable: Bool { responder.connection.tcp.isWritable }

    /// Ends the response. Any thread. A length-framed stream that sent fewer bytes than it announced closes the
    /// connection instead (the client would otherwise wait for the rest).
    public func finish() {
        responder.onLoop { [self] in
            guard !end.hasEnded else { return }
            if let contentLength, sent != contentLength {
                responder.connection.tcp.close()
                return
            }
            if contentLength == nil { responder.connection.channel?.writeAndFlush(Self.lastChunk) }
            ended(clientGone: false)
        }
    }

    func writabilityChanged(_ isWritable: Bool) { onWritabilityChanged(isWritable) }

    func ended(clientGone: Bool) {
        guard end.end() else { return }
        onWritabilityChanged = { _ in }
        if !clientGone { responder.connection.finished(keepAlive: responder.keepAlive) }
    }
}
