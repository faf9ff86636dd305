import MeshNet

/// What happened on a connection, in the order the peer's frames said it.
public enum HTTP2Event: Sendable {
    /// A request head (server) or response head (client; informational 1xx heads come this way too).
    case headers(streamID: UInt32, fields: [HeaderField], endStream: Bool)
    case data(streamID: UInt32, data: ByteBuffer, endStream: Bool)
    case trailers(streamID: UInt32, fields: [HeaderField])
    /// The stream ended abnormally: reset by the peer (`byPeer`), or by this side for the error given.
    case streamReset(streamID: UInt32, code: HTTP2ErrorCode, byPeer: Bool)
    /// Both sides ended the stream normally.
    case streamClosed(streamID: UInt32)
    case pingAcknowledged(opaque: UInt64)
    /// The peer will take no stream above `lastStreamID`; streams this side opened above it were refused.
    case goAway(lastStreamID: UInt32, code: HTTP2ErrorCode, debugData: String)
    /// The connection failed; this side queued a GOAWAY saying why. Write the output, then close.
    case connectionError(HTTP2Error)
}

/// RFC 9113 section 5.1's states for a stream that exists (idle and closed streams are not kept).
enum StreamState: Equatable {
    case open, halfClosedLocal, halfClosedRemote

    var remoteEnded: Bool { self == .halfClosedRemote }
    var localEnded: Bool { self == .halfClosedLocal }
}

/// One stream's state on a connection: its state, both windows, what waits to be sent, and the checks on what
/// arrives.
struct StreamRecord {
    var state: StreamState
    let locallyInitiated: Bool
    /// Bytes the peer lets this side send.
    var sendWindow: Int
    /// Bytes this side lets the peer send.
    var receiveWindow: Int
    /// Received bytes taken by this side and not yet given back with a WINDOW_UPDATE.
    var unreturned = 0
    /// Data waiting for window, then whether END_STREAM (or trailers) follows it.
    var pending: [ByteBuffer] = []
    var pendingBytes = 0
    var endQueued = false
    var trailersQueued: [HeaderField]?
    /// The peer's head has arrived (the next header block is trailers). A client sees 1xx heads before it.
    var receivedHead = false
    var expectedContentLength: Int?
    var receivedDataBytes = 0
    /// A client's request was HEAD (its response's content-length says nothing about DATA).
    var requestWasHEAD = false

    init(state: StreamState, locallyInitiated: Bool, sendWindow: Int, receiveWindow: Int) {
        self.state = state
        self.locallyInitiated = locallyInitiated
        self.sendWindow = sendWindow
        self.receiveWindow = receiveWindow
    }
}
