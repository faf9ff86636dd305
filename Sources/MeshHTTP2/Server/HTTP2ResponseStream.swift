import MeshNet
import MeshHTTP1

/// A response body sent as it comes on one HTTP/2 stream, for a handler written against `HTTPResponding` (a
/// Kubernetes watch): each part is a DATA frame written at once, `finish` ends the stream, and a client that resets
/// the stream (or closes the connection) ends it too, so `onEnd` always runs once.
public final class HTTP2ResponseStream: HTTPResponseStream, @unchecked Sendable {
    private let responder: HTTP2Responder
    private let end = StreamEnd()
    /// Runs once on the loop when the stream ends; set after the end, it runs at once.
    public var onEnd: () -> Void {
        get { end.onEnd }
        set { end.onEnd = newValue }
    }
    /// The connection's queued output crossed a watermark. Loop only.
    public var onWritabilityChanged: (Bool) -> Void = { _ in }

    init(responder: HTTP2Responder) { self.responder = responder }

    public var loop: EventLoop { responder.loop }

    public func send(_ part: ByteBuffer) {
        guard part.readableBytes > 0 else { return }
        responder.onLoop { [self] in
            guard !end.hasEnded else { return }
            responder.sendBody(part)
        }
    }

    /// Bytes waiting for the client: in the socket's queue and held back by HTTP/2 flow control. Loop only.
    public var pendingOutput: Int { responder.pendingOutput }

    public func finish() {
        responder.onLoop { [self] in
            guard !end.hasEnded else { return }
            responder.finish()
            responder.forget()
            ended()
        }
    }

    /// The stream is over (finished, reset, or the connection gone). Loop thread.
    func ended() {
        onWritabilityChanged = { _ in }
        end.end()
    }
}

extension HTTP2Responder: HTTPResponding {
    /// Sends the head now (a `content-length` when given); the body follows through the stream.
    public func respondStreaming(status: Int, headers: [(name: String, value: String)], contentLength: Int?) -> HTTP2ResponseStream {
        let stream = HTTP2ResponseStream(responder: self)
        onLoop { [self] in
            guard connection.watch(stream, on: streamID) else { stream.ended(); return }
            startStream(status: status, headers: headers + (contentLength.map { [("content-length", String($0))] } ?? []))
        }
        return stream
    }

    var pendingOutput: Int { connection.pendingOutput(on: streamID) }

    /// The stream's answer is done: the connection stops telling it about resets.
    func forget() { connection.unwatch(streamID) }
}
