import MeshNet
import MeshHTTP1

/// A part of an upstream's answer, whatever the protocol that carried it.
enum UpstreamPart {
    case head(HTTPResponseHead)
    case body(ByteBuffer)
    /// Trailers (HTTP/2 only); `end` follows.
    case trailers([(name: String, value: String)])
    /// The answer is complete.
    case end
}

extension UpstreamExchange {
    /// Past `ProxyStream.requestBacklogLimit` bytes waiting for the host's window (HTTP/2).
    var isRequestBackedUp: Bool { requestBacklog >= ProxyStream.requestBacklogLimit }
}

/// What carries one attempt of a request to an upstream host: an HTTP/1.1 connection (`UpstreamConnection`, one
/// request at a time) or a stream of an HTTP/2 connection (`HTTP2UpstreamStream`). The stream sends the request
/// once and reads the answer's parts through `onPart`, then hands the exchange back with `endAttempt`.
protocol UpstreamExchange: AnyObject {
    /// The cluster's host index.
    var host: Int { get }
    /// Receives the answer's parts, or the failure that cut it short; nil between attempts.
    var onPart: ((Result<UpstreamPart, UpstreamFailure>) -> Void)? { get set }
    /// Whether more of the answer is already read and follows at once (the head waits to leave with the body).
    var hasBufferedResponseBytes: Bool { get }
    /// Sends the request: its head and its whole body.
    func send(_ head: HTTPRequestHead, body: [UInt8])
    /// The attempt is over. `reuse`: the answer was read whole and the carrier may serve another request; else
    /// it is abandoned (an HTTP/1 connection closes, an HTTP/2 stream is reset).
    func endAttempt(reuse: Bool, pool: UpstreamPool)
    /// Sends the head and the body so far; more follows through `sendBody` as it arrives.
    func sendHead(_ head: HTTPRequestHead, bodySoFar: [UInt8])
    func sendBody(_ part: ByteBuffer, end: Bool)
    /// Request bytes sent but still waiting for the host's window (HTTP/2), or queued on the connection.
    var requestBacklog: Int { get }
    /// Whether the host has not taken enough of the request body for the client to send more.
    var isRequestBackedUp: Bool { get }
    /// Runs `action` once the host has taken the backlog (once `isRequestBackedUp` is false again).
    func whenDrained(_ action: @escaping () -> Void)
    /// Stops taking the answer's bytes (the client reads slowly), and starts again: backpressure to the host.
    func pauseReading()
    func resumeReading()
    /// `ip:port` of the proxy's end of the connection (`%UPSTREAM_LOCAL_ADDRESS%`).
    var localAddress: String? { get }
}
