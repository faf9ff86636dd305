import XCTest
import MeshNet
import MeshHTTP1
@testable import MeshHTTP2
#if canImport(Glibc)
import Glibc
#endif

/// The server's idle timeout on a manual clock: no sleeping.
final class HTTP2IdleTimeoutTests: XCTestCase {
    /// Reads what the server sends until it closes (or 10 s pass), as frames.
    private func readUntilClosed(_ fd: Int32) -> [HTTP2Frame] {
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var decoder = HTTP2FrameDecoder(maximumFrameSize: 1 << 24 - 1)
        var buffer = [UInt8](repeating: 0, count: 4096)
        var frames: [HTTP2Frame] = []
        while true {
            let count = recv(fd, &buffer, buffer.count, 0)
            guard count > 0 else { break }
            decoder.feed(Array(buffer[0..<count]))
            while let frame = try? decoder.next() { frames.append(frame) }
        }
        return frames
    }

    func testAConnectionWithoutStreamsOrReadsForAPeriodGetsAGoAwayAndIsClosed() throws {
        let clock = ManualClock()
        let loop = try EventLoop(name: "h2-idle", clock: clock)
        loop.start()
        defer { loop.stop() }
        let server = try HTTP2Server(host: "127.0.0.1", port: 0, loops: [loop], idleTimeout: 60) { _, responder in
            responder.respond(HTTPResponse(status: 204))
        }
        server.start()
        defer { server.stop() }

        let fd = try LoopbackSocket.connect(port: server.port)
        defer { close(fd) }
        var start = ByteBuffer(bytes: HTTP2Preface.bytes)
        HTTP2FrameEncoder.encode(HTTP2Frame(streamID: 0, payload: .settings([], ack: false)), into: &start)
        XCTAssertEqual(start.withUnsafeReadableBytes { send(fd, $0.baseAddress, $0.count, 0) }, start.readableBytes)
        // The server has read the preface once its SETTINGS arrive.
        var first = [UInt8](repeating: 0, count: 9)
        XCTAssertEqual(recv(fd, &first, 9, Int32(MSG_WAITALL | MSG_PEEK)), 9)
        XCTAssertEqual(first[3], 0x4, "SETTINGS first")

        // It read within the first period, so only the second one without reads closes it.
        clock.advance(by: 61)
        var poller = pollfd(fd: fd, events: Int16(0x2000), revents: 0)  // POLLRDHUP: the server closed its side
        XCTAssertEqual(poll(&poller, 1, 0), 0, "still open after a period with reads")
        clock.advance(by: 61)
        let frames = readUntilClosed(fd)
        guard case .goAway(0, .noError, let debug)? = frames.last?.payload else { return XCTFail("no GOAWAY: \(frames)") }
        XCTAssertEqual(String(decoding: debug.readableArray, as: UTF8.self), "idle")
    }
}
