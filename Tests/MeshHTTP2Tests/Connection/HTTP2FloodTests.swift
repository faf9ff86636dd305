import XCTest
import MeshNet
@testable import MeshHTTP2

/// Envoy's default inbound flood limits and the counters a proxy reports by Envoy's `http2.*` names.
final class HTTP2FloodTests: XCTestCase {
    private func emptyData(_ stream: UInt32) -> HTTP2Frame { HTTP2Frame(streamID: stream, payload: .data(ByteBuffer(), endStream: false)) }

    func testTwoEmptyFramesInARowEndTheConnection() {
        let probe = ServerProbe()
        probe.send([probe.headers(1, ServerProbe.post(length: nil), endStream: false), emptyData(1)])
        XCTAssertNil(probe.server.failed, "one empty frame is allowed")
        // A frame with a payload starts the count again.
        probe.send([HTTP2Frame(streamID: 1, payload: .data(ByteBuffer(string: "x"), endStream: false)), emptyData(1)])
        XCTAssertNil(probe.server.failed)
        let frames = probe.send([emptyData(1)])
        XCTAssertEqual(frames.compactMap(\.goAwayCode), [.enhanceYourCalm])
        XCTAssertEqual(probe.server.counters.emptyFramesFloods, 1)
        XCTAssertNotNil(probe.server.failed)
    }

    func testPriorityFramesPastAHundredPerStreamEndTheConnection() {
        let probe = ServerProbe()
        probe.send([probe.headers(1, ServerProbe.get, endStream: true)])
        let priority = HTTP2Frame(streamID: 3, payload: .priority(HTTP2Frame.Priority(exclusive: false, dependency: 0, weight: 16)))
        // One stream opened: 100 x (1 + 1) allowed.
        probe.send(Array(repeating: priority, count: 200))
        XCTAssertNil(probe.server.failed)
        XCTAssertEqual(probe.send([priority]).compactMap(\.goAwayCode), [.enhanceYourCalm])
        XCTAssertEqual(probe.server.counters.priorityFramesFloods, 1)
    }

    func testWindowUpdatesPastTheLimitForTheDataSentEndTheConnection() {
        let probe = ServerProbe()
        let update = HTTP2Frame(streamID: 0, payload: .windowUpdate(increment: 1))
        // No stream and no DATA yet: 5 allowed.
        probe.send(Array(repeating: update, count: 5))
        XCTAssertNil(probe.server.failed)
        XCTAssertEqual(probe.send([update]).compactMap(\.goAwayCode), [.enhanceYourCalm])
        XCTAssertEqual(probe.server.counters.windowUpdateFramesFloods, 1)

        // One stream and one DATA frame sent: 5 + 2 x (1 + 10) = 27.
        let busy = ServerProbe()
        busy.send([busy.headers(1, ServerProbe.get, endStream: true)])
        try? busy.server.sendHeaders(streamID: 1, headers: [HeaderField(name: ":status", value: "200")], endStream: false)
        try? busy.server.sendData(streamID: 1, ByteBuffer(string: "x"), endStream: true)
        _ = busy.answers()
        busy.send(Array(repeating: update, count: 27))
        XCTAssertNil(busy.server.failed)
        XCTAssertEqual(busy.send([update]).compactMap(\.goAwayCode), [.enhanceYourCalm])
    }

    func testResetsRefusalsMessagingErrorsAndTrailersAreCounted() {
        var settings = HTTP2LocalSettings()
        settings.maxConcurrentStreams = 1
        let probe = ServerProbe(settings: settings)
        probe.send([probe.headers(1, ServerProbe.post(length: nil), endStream: false),
                    probe.headers(3, ServerProbe.get, endStream: true)])  // past the limit: refused
        probe.send([HTTP2Frame(streamID: 1, payload: .rstStream(.cancel))])
        probe.send([probe.headers(5, ServerProbe.get + [("X-Upper", "1")], endStream: true)])  // invalid header name
        probe.send([probe.headers(7, ServerProbe.post(length: nil), endStream: false), probe.headers(7, [("x-sum", "1")], endStream: true)])
        var expected = HTTP2ConnectionCounters()
        expected.resetsReceived = 1
        expected.resetsSent = 2
        expected.refusedStreams = 1
        expected.messagingErrors = 1
        expected.trailersReceived = 1
        XCTAssertEqual(probe.server.counters, expected)
    }
}
