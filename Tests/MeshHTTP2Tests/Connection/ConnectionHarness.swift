import XCTest
import MeshNet
@testable import MeshHTTP2

/// A client and a server connection joined in memory: `pump` carries each side's output to the other until both
/// are quiet, collecting the events each saw.
final class ConnectionPair {
    let client: HTTP2Connection
    let server: HTTP2Connection
    var clientEvents: [HTTP2Event] = []
    var serverEvents: [HTTP2Event] = []

    init(client: HTTP2LocalSettings = HTTP2LocalSettings(), server: HTTP2LocalSettings = HTTP2LocalSettings()) {
        self.client = HTTP2Connection(role: .client, settings: client)
        self.server = HTTP2Connection(role: .server, settings: server)
    }

    func pump() {
        var moved = true
        while moved {
            moved = false
            if let bytes = client.takeOutput() { serverEvents += server.receive(bytes); moved = true }
            if let bytes = server.takeOutput() { clientEvents += client.receive(bytes); moved = true }
            clientEvents += client.takeEvents()
            serverEvents += server.takeEvents()
        }
    }
}

/// Feeds hand-made frames to one server connection and reads back the frames it answers with.
final class ServerProbe {
    let server: HTTP2Connection
    var events: [HTTP2Event] = []
    private var encoder = HPACKEncoder()
    private var decoder = HTTP2FrameDecoder(maximumFrameSize: 1 << 24 - 1)
    private var responseDecoder = HPACKDecoder()

    init(settings: HTTP2LocalSettings = HTTP2LocalSettings(), peerSettings: [HTTP2Setting] = []) {
        server = HTTP2Connection(role: .server, settings: settings)
        var start = ByteBuffer(bytes: HTTP2Preface.bytes)
        HTTP2FrameEncoder.encode(HTTP2Frame(streamID: 0, payload: .settings(peerSettings, ack: false)), into: &start)
        events += server.receive(start)
        _ = answers()
    }

    /// Sends frames; returns the frames the server wrote back.
    @discardableResult
    func send(_ frames: [HTTP2Frame]) -> [HTTP2Frame] {
        var bytes = ByteBuffer()
        for frame in frames { HTTP2FrameEncoder.encode(frame, into: &bytes) }
        return send(bytes: bytes)
    }

    @discardableResult
    func send(bytes: ByteBuffer) -> [HTTP2Frame] {
        events += server.receive(bytes)
        return answers()
    }

    func answers() -> [HTTP2Frame] {
        events += server.takeEvents()
        guard let out = server.takeOutput() else { return [] }
        decoder.feed(out)
        var frames: [HTTP2Frame] = []
        while let frame = try? decoder.next() { frames.append(frame) }
        return frames
    }

    func block(_ fields: [(String, String)]) -> ByteBuffer {
        ByteBuffer(bytes: encoder.encode(fields.map { HeaderField(name: $0.0, value: $0.1) }))
    }

    func headers(_ stream: UInt32, _ fields: [(String, String)], endStream: Bool) -> HTTP2Frame {
        HTTP2Frame(streamID: stream, payload: .headers(HTTP2Frame.HeadersPayload(fragment: block(fields), endStream: endStream)))
    }

    func decodeResponse(_ frame: HTTP2Frame) -> [HeaderField]? {
        guard case .headers(let headers) = frame.payload else { return nil }
        return try? responseDecoder.decode(headers.fragment)
    }

    static let get = [(":method", "GET"), (":scheme", "http"), (":path", "/"), (":authority", "test")]
    static func post(length: Int?) -> [(String, String)] {
        [(":method", "POST"), (":scheme", "http"), (":path", "/upload"), (":authority", "test")] + (length.map { [("content-length", String($0))] } ?? [])
    }
}

extension HTTP2Frame {
    var resetCode: HTTP2ErrorCode? { if case .rstStream(let code) = payload { return code }; return nil }
    var goAwayCode: HTTP2ErrorCode? { if case .goAway(_, let code, _) = payload { return code }; return nil }
}
