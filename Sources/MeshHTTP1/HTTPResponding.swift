import MeshNet

/// What a handler answers one request through, whichever protocol carried it: HTTP/1.1 (`HTTPResponder`) or an
/// HTTP/2 stream (MeshHTTP2's `HTTP2Responder`), so one handler serves both. Any thread.
public protocol HTTPResponding: AnyObject, Sendable {
    associatedtype BodyStream: HTTPResponseStream
    /// The loop the connection runs on.
    var loop: EventLoop { get }
    /// Answers with a whole response.
    func respond(_ response: HTTPResponse)
    /// Sends the head now; the body follows through the stream (an open-ended one for a watch or a log follow).
    func respondStreaming(status: Int, headers: [(name: String, value: String)], contentLength: Int?) -> BodyStream
}

/// The body of a streamed response, sent as it comes; each part goes out at once. Any thread unless noted.
public protocol HTTPResponseStream: AnyObject {
    var loop: EventLoop { get }
    /// Sends one part without copying it (nothing when empty).
    func send(_ part: ByteBuffer)
    /// Ends the response.
    func finish()
    /// Called once, on the loop, when the stream ends for any reason (finish, the client gone or cancelling).
    /// Set it on the loop; set after the end, it runs at once.
    var onEnd: () -> Void { get set }
    /// Bytes queued for a slow client; callers may drop the stream when it grows too much. Loop only.
    var pendingOutput: Int { get }
}

extension HTTPResponseStream {
    /// Sends one part (nothing when empty). Any thread.
    public func send(_ bytes: [UInt8]) {
        guard !bytes.isEmpty else { return }
        send(ByteBuffer(bytes: bytes))
    }
}

/// A streamed response's end as its producer hears of it: `onEnd` runs once, when the stream ends, or at once when
/// it is set after the end. Loop thread only.
public final class StreamEnd {
    private var callback: () -> Void = {}
    public private(set) var hasEnded = false

    public init() {}

    public var onEnd: () -> Void {
        get { callback }
        set { if hasEnded { newValue() } else { callback = newValue } }
    }

    /// Marks the end and runs `onEnd`; false when the stream had ended already.
    @discardableResult
    public func end() -> Bool {
        guard !hasEnded else { return false }
        hasEnded = true
        let run = callback
        callback = {}
        run()
        return true
    }
}

extension HTTPResponder: HTTPResponding {
    public func respondStreaming(status: Int, headers: [(name: String, value: String)], contentLength: Int?) -> HTTPStream {
        startStream(status: status, headers: headers, contentLength: contentLength)
    }
}

extension HTTPStream: HTTPResponseStream {}
