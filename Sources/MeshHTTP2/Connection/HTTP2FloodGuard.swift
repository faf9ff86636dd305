/// Limits on frames a peer may send that cost this side work and carry nothing (Envoy's `http2_protocol_options`
/// defaults): past one, the connection ends with ENHANCE_YOUR_CALM.
public struct HTTP2FloodLimits: Sendable {
    /// HEADERS, CONTINUATION or DATA frames in a row with an empty payload and no END_STREAM
    /// (`max_consecutive_inbound_frames_with_empty_payload`).
    public var maxConsecutiveEmptyFrames = 1
    /// PRIORITY frames per stream opened, plus one stream's worth (`max_inbound_priority_frames_per_stream`).
    public var maxPriorityFramesPerStream = 100
    /// WINDOW_UPDATE frames per DATA frame sent (`max_inbound_window_update_frames_per_data_frame_sent`): at most
    /// 5 + 2 x (streams opened + this x DATA frames sent), as Envoy counts them.
    public var maxWindowUpdatesPerDataFrameSent = 10

    public init() {}
}

/// Which flood limit a peer passed.
public enum HTTP2Flood: Sendable {
    case emptyFrames, priorityFrames, windowUpdateFrames
}

/// Counts the peer's frames against `HTTP2FloodLimits`.
struct HTTP2FloodGuard {
    let limits: HTTP2FloodLimits
    private var consecutiveEmptyFrames = 0
    private var priorityFrames = 0
    private var windowUpdateFrames = 0
    /// Streams opened (by the peer on a server, by a response head on a client) and DATA frames this side sent.
    var openedStreams = 0
    var dataFramesSent = 0

    init(limits: HTTP2FloodLimits) { self.limits = limits }

    /// Counts a received frame; the limit it passed, if any.
    mutating func track(_ frame: HTTP2Frame) -> HTTP2Flood? {
        switch frame.payload {
        case .data(let data, let endStream, _):
            countPayload(empty: data.readableBytes == 0 && !endStream)
        case .headers(let headers):
            countPayload(empty: headers.fragment.readableBytes == 0 && !headers.endStream)
        case .continuation(let fragment, _):
            countPayload(empty: fragment.readableBytes == 0)
        case .priority:
            priorityFrames += 1
        case .windowUpdate:
            windowUpdateFrames += 1
        default:
            return nil
        }
        if consecutiveEmptyFrames > limits.maxConsecutiveEmptyFrames { return .emptyFrames }
        if priorityFrames > limits.maxPriorityFramesPerStream * (1 + openedStreams) { return .priorityFrames }
        if windowUpdateFrames > 5 + 2 * (openedStreams + limits.maxWindowUpdatesPerDataFrameSent * dataFramesSent) { return .windowUpdateFrames }
        return nil
    }

    private mutating func countPayload(empty: Bool) {
        consecutiveEmptyFrames = empty ? consecutiveEmptyFrames + 1 : 0
    }
}

/// What happened on a connection, by Envoy's `http2.*` counter names, for the owner to report.
public struct HTTP2ConnectionCounters: Equatable, Sendable {
    /// RST_STREAM frames received on streams this side kept (`rx_reset`).
    public var resetsReceived = 0
    /// RST_STREAM frames sent (`tx_reset`).
    public var resetsSent = 0
    /// The peer's streams refused past the concurrent stream limit (`stream_refused_errors`).
    public var refusedStreams = 0
    /// Streams reset for breaking HTTP messaging rules (`rx_messaging_error`): invalid header fields, a body that
    /// does not match its content-length.
    public var messagingErrors = 0
    /// Request trailers received (`trailers`; a server's only, as Envoy counts them).
    public var trailersReceived = 0
    /// Connections ended by a flood limit (`inbound_empty_frames_flood`, `inbound_priority_frames_flood`,
    /// `inbound_window_update_frames_flood`).
    public var emptyFramesFloods = 0
    public var priorityFramesFloods = 0
    public var windowUpdateFramesFloods = 0

    public init() {}
}
