import Foundation
@testable import MeshProxy
import MeshHTTP2
import MeshNet
import XCTest

/// An HTTP/2 host's connection writes once per turn of the loop: the requests opened in one turn (as the streams of
/// one client read are) leave in one write, not one write each.
final class HTTP2UpstreamWriteBatchingTests: XCTestCase {
    /// A transport that records what is sent, on a real loop.
    private final class RecordingTransport: ProxyTransport {
        let loop: EventLoop
        var onData: (ByteBuffer) -> Void = { _ in }
        var onClose: () -> Void = {}
        var onPeerClosedWrite: () -> Void = {}
        var isWritable: Bool { true }
        var onWritabilityChanged: (Bool) -> Void = { _ in }
        private(set) var isClosed = false
        var closeReason: NetworkError? { nil }
        var localAddress: String? { "127.0.0.1:1" }
        private(set) var writes: [Int] = []

        init(loop: EventLoop) { self.loop = loop }
        func start() throws(NetworkError) {}
        func send(_ buffer: ByteBuffer) { writes.append(buffer.readableBytes) }
        func enqueue(_ buffer: ByteBuffer) { writes.append(buffer.readableBytes) }
        func flush() {}
        func pauseReading() {}
        func resumeReading() {}
        func close() { isClosed = true }
        func closeWhenDrained(because reason: NetworkError?) { isClosed = true }
    }

    private func onLoop<T>(_ loop: EventLoop, _ work: @escaping () -> T) -> T {
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var result: T?
        loop.execute { result = work(); done.signal() }
        done.wait()
        return result!
    }

    func testRequestsOpenedInOneTurnLeaveInOneWrite() throws {
        let loop = try EventLoop(name: "h2-upstream-batching")
        loop.start()
        defer { loop.stop() }
        let transport = RecordingTransport(loop: loop)
        let stats = ProxyStats()
        let connection = onLoop(loop) {
            let made = HTTP2UpstreamConnection(tcp: transport, host: 0, settings: HTTP2UpstreamHosts.settings, streamLimit: 100,
                                               lifetime: .init(idleTimeout: 0, maxDuration: nil, maxRequests: .max),
                                               codecStats: HTTP2CodecStats(prefix: "cluster.up.http2.", stats: stats, downstream: false))
            made.start()
            return made
        }
        // The host's SETTINGS (its preface), then the connection's preface and SETTINGS ACK are out.
        var hostPreface = ByteBuffer()
        HTTP2FrameEncoder.encode(HTTP2Frame(streamID: 0, payload: .settings([], ack: false)), into: &hostPreface)
        onLoop(loop) { transport.onData(hostPreface) }
        onLoop(loop) {}
        let before = onLoop(loop) { transport.writes.count }
        XCTAssertGreaterThan(before, 0, "the preface was not written")
        onLoop(loop) {
            for index in 0..<3 {
                let stream = connection.reserveStream()
                connection.open(stream, fields: [HeaderField(name: ":method", value: "GET"), HeaderField(name: ":scheme", value: "http"),
                                                 HeaderField(name: ":authority", value: "app"), HeaderField(name: ":path", value: "/\(index)")],
                                body: [])
            }
        }
        onLoop(loop) {}  // the end-of-turn write has run
        XCTAssertEqual(onLoop(loop) { transport.writes.count } - before, 1, "three requests in one turn: \(transport.writes)")
        withExtendedLifetime(connection) {}
    }
}
