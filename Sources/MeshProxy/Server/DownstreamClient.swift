import MeshNet

/// The client side of one request as `ProxyStream` sees it: an HTTP/1.1 connection serving one request at a time
/// (`DownstreamHTTPConnection`) or one stream of an HTTP/2 connection (`DownstreamHTTP2Stream`). Writes are queued
/// until `flush`, so a head and the body right behind it leave together.
protocol DownstreamClient: AnyObject {
    var info: DownstreamConnectionInfo { get }
    /// The listener is going away: the answer ends the connection (HTTP/1.1) or the connection says GOAWAY (HTTP/2).
    var isDraining: Bool { get }
    /// HTTP/2: no hop-by-hop framing headers on the answer, trailers pass.
    var isHTTP2: Bool { get }
    /// The route timeout's and the stream idle timeout's callbacks for the current stream, made once.
    var routeTimeoutFired: () -> Void { get }
    var streamIdleFired: () -> Void { get }
    var maxDurationFired: () -> Void { get }
    /// Starts the current stream's `kind` timer (its callback above runs at the end), in place of one running.
    func startTimer(_ kind: StreamTimer, after seconds: Double)
    /// Stops the current stream's `kind` timer.
    func stopTimer(_ kind: StreamTimer)
    /// Queues the answer's head; `chunked` (HTTP/1.1): the body goes in chunks.
    func writeResponseHead(status: Int, headers: [(name: String, value: String)], chunked: Bool)
    func writeResponseBody(_ part: ByteBuffer)
    /// Queues the end of the answer, with trailers where the protocol carries them.
    func endResponse(trailers: [(name: String, value: String)])
    func flush()
    /// Sends an answer the proxy made itself, whole.
    func sendLocalReply(_ reply: LocalReply, serverName: String, keepAlive: Bool)
    /// Ends the answer abruptly: the HTTP/1.1 connection closes, the HTTP/2 stream is reset.
    func abort()
    /// The stream is done (its log written): read the next request, or close.
    func streamFinished(keepAlive: Bool)
    /// Whether the client takes the answer as fast as it comes: false while more than the high watermark of it
    /// waits to be written, when the proxy stops reading the upstream.
    var isWritable: Bool { get }
    /// Runs `resume` once, when the client is writable again (below the low watermark).
    func whenWritable(_ resume: @escaping () -> Void)
    /// The most request body a stream keeps for a retry or a shadow, or holds while no attempt takes it, as in
    /// Envoy: the listener's `per_connection_buffer_limit_bytes` for an HTTP/1.1 client, the connection manager's
    /// HTTP/2 `initial_stream_window_size` for an HTTP/2 client.
    var streamBufferLimit: Int { get }
}

extension DownstreamClient {
    /// A client without write flow control (an HTTP/2 stream, for now) is always writable.
    var isWritable: Bool { true }
    func whenWritable(_ resume: @escaping () -> Void) { resume() }
}
