import XCTest
import MeshNet
@testable import MeshHTTP2

final class HTTP2ConnectionTests: XCTestCase {
    private func fields(_ list: [(String, String)]) -> [HeaderField] { list.map { HeaderField(name: $0.0, value: $0.1) } }

    // MARK: Exchange between a client and a server

    func testPrefaceSettingsAndARequestResponseExchange() throws {
        let pair = ConnectionPair()
        let id = try pair.client.openStream(headers: fields(ServerProbe.get), endStream: true)
        XCTAssertEqual(id, 1)
        pair.pump()
        guard case .headers(1, let request, true)? = pair.serverEvents.first else { return XCTFail("\(pair.serverEvents)") }
        XCTAssertEqual(request.first?.value, "GET")

        try pair.server.sendHeaders(streamID: 1, headers: fields([(":status", "200"), ("content-length", "5")]), endStream: false)
        try pair.server.sendData(streamID: 1, ByteBuffer(string: "hello"), endStream: true)
        pair.pump()
        guard pair.clientEvents.count == 3, case .headers(1, let response, false) = pair.clientEvents[0],
              case .data(1, let body, true) = pair.clientEvents[1], case .streamClosed(1) = pair.clientEvents[2] else {
            return XCTFail("\(pair.clientEvents)")
        }
        XCTAssertEqual(response.map(\.description), [":status: 200", "content-length: 5"])
        XCTAssertEqual(body, ByteBuffer(string: "hello"))
        XCTAssertTrue(pair.serverEvents.contains { if case .streamClosed(1) = $0 { return true }; return false })
        XCTAssertEqual(pair.server.activeStreamCount, 0)
        XCTAssertEqual(pair.client.activeStreamCount, 0)
    }

    func testALargeBodyFlowsThroughWindowUpdates() throws {
        let pair = ConnectionPair()
        let id = try pair.client.openStream(headers: fields(ServerProbe.post(length: 300_000)), endStream: false)
        try pair.client.sendData(streamID: id, ByteBuffer(bytes: [UInt8](repeating: 7, count: 300_000)), endStream: true)
        XCTAssertGreaterThan(pair.client.pendingBytes(on: id), 0, "more than the first window waits")
        pair.pump()
        var received = 0
        var ended = false
        for event in pair.serverEvents { if case .data(_, let data, let end) = event { received += data.readableBytes; ended = ended || end } }
        XCTAssertEqual(received, 300_000)
        XCTAssertTrue(ended)
    }

    func testTrailersEndAStreamAfterItsData() throws {
        let pair = ConnectionPair()
        let id = try pair.client.openStream(headers: fields(ServerProbe.post(length: nil)), endStream: false)
        try pair.client.sendData(streamID: id, ByteBuffer(string: "abc"), endStream: false)
        try pair.client.sendTrailers(streamID: id, fields([("grpc-status", "0")]))
        pair.pump()
        guard case .trailers(1, let trailers)? = pair.serverEvents.last else { return XCTFail("\(pair.serverEvents)") }
        XCTAssertEqual(trailers.first?.description, "grpc-status: 0")
        XCTAssertThrowsError(try pair.client.sendData(streamID: id, ByteBuffer(string: "late"), endStream: true))
    }

    func testPingIsAcknowledgedWithItsPayload() {
        let pair = ConnectionPair()
        pair.client.ping(opaque: 0xfeed)
        pair.pump()
        XCTAssertTrue(pair.clientEvents.contains { if case .pingAcknowledged(0xfeed) = $0 { return true }; return false })
    }

    func testGracefulGoAwayLetsOpenStreamsFinishAndRefusesNewOnes() throws {
        let pair = ConnectionPair()
        _ = try pair.client.openStream(headers: fields(ServerProbe.get), endStream: true)
        pair.pump()
        pair.server.goAway()
        pair.pump()
        XCTAssertFalse(pair.client.canOpenStream)
        XCTAssertFalse(pair.server.isFinished, "stream 1 is still open")
        try pair.server.sendHeaders(streamID: 1, headers: fields([(":status", "204")]), endStream: true)
        pair.pump()
        XCTAssertTrue(pair.server.isFinished)
        XCTAssertTrue(pair.client.isFinished)
    }

    func testAGoAwayRefusesTheClientsStreamsAboveItsLastStream() throws {
        let pair = ConnectionPair()
        _ = try pair.client.openStream(headers: fields(ServerProbe.get), endStream: true)
        pair.pump()
        _ = try pair.client.openStream(headers: fields(ServerProbe.get), endStream: true)
        pair.server.goAway()
        // The GOAWAY (last stream 1) reaches the client before the server has read stream 3.
        pair.clientEvents += pair.client.receive(pair.server.takeOutput()!)
        XCTAssertTrue(pair.clientEvents.contains { if case .streamReset(3, .refusedStream, true) = $0 { return true }; return false })
    }

    // MARK: Flow control, driven by hand

    func testDataWaitsForTheWindowAndSettingsChangesApplyToOpenStreams() throws {
        let probe = ServerProbe(peerSettings: [HTTP2Setting(.initialWindowSize, 10)])
        probe.send([probe.headers(1, ServerProbe.get, endStream: true)])
        try probe.server.sendHeaders(streamID: 1, headers: fields([(":status", "200")]), endStream: false)
        try probe.server.sendData(streamID: 1, ByteBuffer(bytes: [UInt8](repeating: 1, count: 100)), endStream: true)
        func dataLengths(_ frames: [HTTP2Frame]) -> [Int] {
            frames.compactMap { if case .data(let data, _, _) = $0.payload { return data.readableBytes }; return nil }
        }
        XCTAssertEqual(dataLengths(probe.answers()), [10], "only the 10-byte window went")
        XCTAssertEqual(probe.server.pendingBytes(on: 1), 90)
        XCTAssertEqual(dataLengths(probe.send([HTTP2Frame(streamID: 1, payload: .windowUpdate(increment: 30))])), [30])
        // Raising the initial window by 50 opens the stream by 50 as well.
        let frames = probe.send([HTTP2Frame(streamID: 0, payload: .settings([HTTP2Setting(.initialWindowSize, 60)], ack: false))])
        XCTAssertEqual(dataLengths(frames), [50])
        XCTAssertEqual(probe.server.sendWindow(on: 1)?.stream, 0)
        // The connection window is the other limit: 65,535 - 90 bytes left, so the last 10 go at once with END_STREAM.
        let last = probe.send([HTTP2Frame(streamID: 1, payload: .windowUpdate(increment: 1000))])
        XCTAssertEqual(dataLengths(last), [10])
        guard case .data(_, true, _)? = last.last?.payload else { return XCTFail("no END_STREAM: \(last)") }
    }

    func testConnectionWindowLimitsEveryStream() throws {
        let probe = ServerProbe(peerSettings: [HTTP2Setting(.initialWindowSize, 1 << 20)])
        probe.send([probe.headers(1, ServerProbe.get, endStream: true)])
        try probe.server.sendHeaders(streamID: 1, headers: fields([(":status", "200")]), endStream: false)
        try probe.server.sendData(streamID: 1, ByteBuffer(bytes: [UInt8](repeating: 1, count: 100_000)), endStream: true)
        let sent = probe.answers().reduce(0) { $0 + $1.flowControlledLength }
        XCTAssertEqual(sent, 65_535, "the connection's initial window")
        XCTAssertEqual(probe.send([HTTP2Frame(streamID: 0, payload: .windowUpdate(increment: 40_000))]).reduce(0) { $0 + $1.flowControlledLength },
                       100_000 - 65_535)
    }

    func testTheServerSendsWindowUpdatesAsItReceives() {
        let probe = ServerProbe()
        probe.send([probe.headers(1, ServerProbe.post(length: nil), endStream: false)])
        let chunk = ByteBuffer(bytes: [UInt8](repeating: 0, count: 16_000))
        var updates: [UInt32: Int] = [:]
        for _ in 0..<3 {
            for frame in probe.send([HTTP2Frame(streamID: 1, payload: .data(chunk, endStream: false))]) {
                if case .windowUpdate(let increment) = frame.payload { updates[frame.streamID, default: 0] += Int(increment) }
            }
        }
        XCTAssertEqual(updates[0], 48_000)
        XCTAssertEqual(updates[1], 48_000)
    }

    func testWindowsReopenOnlyAsTheApplicationConsumesWhenAskedTo() {
        var settings = HTTP2LocalSettings()
        settings.reopensWindowsOnReceipt = false
        let probe = ServerProbe(settings: settings)
        probe.send([probe.headers(1, ServerProbe.post(length: nil), endStream: false)])
        func updates(_ frames: [HTTP2Frame]) -> [UInt32: Int] {
            var result: [UInt32: Int] = [:]
            for frame in frames { if case .windowUpdate(let increment) = frame.payload { result[frame.streamID, default: 0] += Int(increment) } }
            return result
        }
        let chunk = ByteBuffer(bytes: [UInt8](repeating: 0, count: 16_000))
        var sent: [HTTP2Frame] = []
        for _ in 0..<4 { sent += probe.send([HTTP2Frame(streamID: 1, payload: .data(chunk, endStream: false))]) }
        XCTAssertEqual(updates(sent), [:], "64,000 bytes delivered, none consumed: the windows stay nearly shut")
        probe.server.dataConsumed(40_000, on: 1)
        XCTAssertEqual(updates(probe.answers()), [0: 40_000, 1: 40_000])
        probe.server.dataConsumed(10_000, on: 1)
        XCTAssertEqual(updates(probe.answers()), [:], "10,000 is less than half a window: kept until more is consumed")
        XCTAssertNil(probe.server.failed)
        // 41,535 bytes of window are open: a peer that sends 48,000 breaks flow control.
        var last: [HTTP2Frame] = []
        for _ in 0..<3 { last += probe.send([HTTP2Frame(streamID: 1, payload: .data(chunk, endStream: false))]) }
        XCTAssertEqual(last.compactMap(\.goAwayCode), [.flowControlError])
    }

    // MARK: Errors

    func testStreamAndConnectionErrors() {
        typealias Case = (name: String, frames: (ServerProbe) -> [HTTP2Frame], reset: HTTP2ErrorCode?, goAway: HTTP2ErrorCode?)
        let cases: [Case] = [
            ("DATA on an idle stream", { _ in [HTTP2Frame(streamID: 1, payload: .data(ByteBuffer(string: "x"), endStream: false))] }, nil, .protocolError),
            ("DATA after END_STREAM", { p in [p.headers(1, ServerProbe.get, endStream: true),
                                               HTTP2Frame(streamID: 1, payload: .data(ByteBuffer(string: "x"), endStream: false))] }, .streamClosed, nil),
            ("RST_STREAM on an idle stream", { _ in [HTTP2Frame(streamID: 1, payload: .rstStream(.cancel))] }, nil, .protocolError),
            ("WINDOW_UPDATE on an idle stream", { _ in [HTTP2Frame(streamID: 1, payload: .windowUpdate(increment: 1))] }, nil, .protocolError),
            ("stream id going backwards", { p in [p.headers(5, ServerProbe.get, endStream: true), p.headers(3, ServerProbe.get, endStream: true)] },
             nil, .streamClosed),
            ("even stream from a client", { p in [p.headers(2, ServerProbe.get, endStream: true)] }, nil, .protocolError),
            ("PUSH_PROMISE from a client", { p in [HTTP2Frame(streamID: 1, payload: .pushPromise(promisedStreamID: 2, fragment: p.block([]), endHeaders: true))] },
             nil, .protocolError),
            ("stream window overflow", { p in [p.headers(1, ServerProbe.get, endStream: true),
                                                HTTP2Frame(streamID: 1, payload: .windowUpdate(increment: 0x7fff_ffff))] }, .flowControlError, nil),
            ("connection window overflow", { _ in [HTTP2Frame(streamID: 0, payload: .windowUpdate(increment: 0x7fff_ffff))] }, nil, .flowControlError),
            ("initial window overflow on an open stream", { p in [p.headers(1, ServerProbe.get, endStream: true),
                                                                   HTTP2Frame(streamID: 1, payload: .windowUpdate(increment: 0x7fff_0000)),
                                                                   HTTP2Frame(streamID: 0, payload: .settings([HTTP2Setting(.initialWindowSize, 0x7fff_ffff)], ack: false))] },
             nil, .flowControlError),
            ("HPACK garbage", { _ in [HTTP2Frame(streamID: 1, payload: .headers(HTTP2Frame.HeadersPayload(fragment: ByteBuffer(bytes: [0x80]), endStream: true)))] },
             nil, .compressionError),
            ("endless empty CONTINUATION frames", { p in [HTTP2Frame(streamID: 1, payload: .headers(HTTP2Frame.HeadersPayload(
                fragment: p.block(ServerProbe.get), endStream: true, endHeaders: false)))]
                + (0..<200).map { _ in HTTP2Frame(streamID: 1, payload: .continuation(fragment: ByteBuffer(), endHeaders: false)) } },
             nil, .enhanceYourCalm),
            ("HEADERS depending on itself", { p in [HTTP2Frame(streamID: 1, payload: .headers(HTTP2Frame.HeadersPayload(
                fragment: p.block(ServerProbe.get), endStream: true, priority: HTTP2Frame.Priority(exclusive: false, dependency: 1, weight: 1))))] },
             .protocolError, nil),
        ]
        for test in cases {
            let probe = ServerProbe()
            let frames = probe.send(test.frames(probe))
            XCTAssertEqual(frames.compactMap(\.resetCode).last, test.reset, "\(test.name): \(frames)")
            XCTAssertEqual(frames.compactMap(\.goAwayCode).last, test.goAway, "\(test.name): \(frames)")
            XCTAssertEqual(probe.server.failed != nil, test.goAway != nil, test.name)
        }
    }

    func testAClientThatResetsMostOfItsStreamsIsCutOff() {
        var settings = HTTP2LocalSettings()
        settings.maxConcurrentStreams = 1000
        let probe = ServerProbe(settings: settings)
        var frames: [HTTP2Frame] = []
        for index in 0..<150 {
            let id = UInt32(index * 2 + 1)
            frames += probe.send([probe.headers(id, ServerProbe.get, endStream: false), HTTP2Frame(streamID: id, payload: .rstStream(.cancel))])
        }
        XCTAssertEqual(frames.compactMap(\.goAwayCode), [.enhanceYourCalm])
        XCTAssertEqual(probe.server.failed?.reason, "the client reset 101 of its 101 streams")

        // Resets among many completed streams are fine.
        let mostlyReset = ServerProbe(settings: settings)
        for index in 0..<400 {
            let id = UInt32(index * 2 + 1)
            mostlyReset.send([mostlyReset.headers(id, ServerProbe.get, endStream: index % 3 != 0)] + (index % 3 != 0 ? [HTTP2Frame(streamID: id, payload: .rstStream(.cancel))] : []))
            if index % 3 == 0 { try? mostlyReset.server.sendHeaders(streamID: id, headers: [HeaderField(name: ":status", value: "204")], endStream: true) }
        }
        XCTAssertNotNil(mostlyReset.server.failed, "two thirds reset is more than half")
        let fine = ServerProbe(settings: settings)
        for index in 0..<400 {
            let id = UInt32(index * 2 + 1)
            let resets = index % 3 == 0
            fine.send([fine.headers(id, ServerProbe.get, endStream: !resets)] + (resets ? [HTTP2Frame(streamID: id, payload: .rstStream(.cancel))] : []))
            if !resets { try? fine.server.sendHeaders(streamID: id, headers: [HeaderField(name: ":status", value: "204")], endStream: true) }
        }
        XCTAssertNil(fine.server.failed, "a third reset is allowed")
    }

    func testDataBeyondTheStreamWindowResetsTheStream() {
        var settings = HTTP2LocalSettings()
        settings.initialWindowSize = 1000
        let probe = ServerProbe(settings: settings)
        let frames = probe.send([probe.headers(1, ServerProbe.post(length: nil), endStream: false),
                                 HTTP2Frame(streamID: 1, payload: .data(ByteBuffer(bytes: [UInt8](repeating: 0, count: 990)), endStream: false, paddingLength: 20))])
        XCTAssertEqual(frames.compactMap(\.resetCode), [.flowControlError], "990 bytes and 21 of padding exceed 1000")
        XCTAssertNil(probe.server.failed)
    }

    func testMalformedHeaderListsResetOnlyTheirStream() {
        let cases: [(String, [(String, String)], Bool)] = [
            ("uppercase name", ServerProbe.get + [("X-Upper", "1")], true),
            ("connection header", ServerProbe.get + [("connection", "keep-alive")], true),
            ("transfer-encoding", ServerProbe.get + [("transfer-encoding", "chunked")], true),
            ("keep-alive", ServerProbe.get + [("keep-alive", "timeout=5")], true),
            ("proxy-connection", ServerProbe.get + [("proxy-connection", "close")], true),
            ("upgrade", ServerProbe.get + [("upgrade", "websocket")], true),
            ("names as long as connection-specific ones", ServerProbe.get + [("upgradex", "1"), ("connectio2", "1"), ("x-keep-alive", "1")], false),
            ("a pseudo-header twice after another", [(":method", "GET"), (":scheme", "http"), (":path", "/"), (":authority", "a"), (":method", "GET")], true),
            ("te other than trailers", ServerProbe.get + [("te", "gzip")], true),
            ("pseudo-header after a regular one", [(":method", "GET"), (":scheme", "http"), ("accept", "*/*"), (":path", "/")], true),
            ("pseudo-header twice", [(":method", "GET"), (":scheme", "http"), (":path", "/"), (":path", "/again"), (":authority", "test")], true),
            ("unknown pseudo-header", ServerProbe.get.map { $0.0 == ":authority" ? (":host", $0.1) : $0 }, true),
            ("response pseudo-header in a request", ServerProbe.get + [(":status", "200")], true),
            ("no :path", ServerProbe.get.filter { $0.0 != ":path" }, true),
            ("no :method", ServerProbe.get.filter { $0.0 != ":method" }, true),
            ("empty :path", ServerProbe.get.map { $0.0 == ":path" ? (":path", "") : $0 }, true),
            ("value with a newline", ServerProbe.get + [("x-a", "1\nx")], true),
            ("content-length not a number", ServerProbe.get + [("content-length", "ten")], true),
            ("END_STREAM with content-length 4", ServerProbe.post(length: 4), true),
            ("te trailers", ServerProbe.get + [("te", "trailers")], false),
        ]
        for (index, (name, list, malformed)) in cases.enumerated() {
            let probe = ServerProbe()
            let frames = probe.send([probe.headers(1, list, endStream: true)])
            XCTAssertEqual(frames.compactMap(\.resetCode), malformed ? [.protocolError] : [], "case \(index) \(name)")
            XCTAssertNil(probe.server.failed, name)
            // The connection goes on.
            probe.send([probe.headers(3, ServerProbe.get, endStream: true)])
            XCTAssertTrue(probe.events.contains { if case .headers(3, _, _) = $0 { return true }; return false }, name)
        }
    }

    func testConnectionSpecificNamesAndLowercasing() {
        for name in ["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"] {
            XCTAssertTrue(HTTP2HeaderNames.isConnectionSpecific(name), name)
        }
        for name in ["", "te", "upgradex", "connectiom", "keep_alive", "proxy-connectionx", "transfer-encodinx", "content-length"] {
            XCTAssertFalse(HTTP2HeaderNames.isConnectionSpecific(name), name)
        }
        XCTAssertEqual(HTTP2HeaderNames.lowercased("X-Envoy-Upstream"), "x-envoy-upstream")
        XCTAssertEqual(HTTP2HeaderNames.lowercased("content-type"), "content-type")
        XCTAssertEqual(HTTP2HeaderNames.lowercased("ÄB"), "äb")
    }

    func testContentLengthMustMatchTheData() {
        for (sent, length) in [(3, 5), (7, 5)] {
            let probe = ServerProbe()
            probe.send([probe.headers(1, ServerProbe.post(length: length), endStream: false)])
            let frames = probe.send([HTTP2Frame(streamID: 1, payload: .data(ByteBuffer(bytes: [UInt8](repeating: 0, count: sent)), endStream: true))])
            XCTAssertEqual(frames.compactMap(\.resetCode), [.protocolError], "\(sent) bytes for content-length \(length)")
        }
    }

    func testTrailersNeedEndStreamAndNoPseudoHeaders() {
        for (trailers, end) in [([("x-t", "1")], false), ([(":path", "/")], true)] {
            let probe = ServerProbe()
            probe.send([probe.headers(1, ServerProbe.post(length: nil), endStream: false)])
            let frames = probe.send([probe.headers(1, trailers, endStream: end)])
            XCTAssertEqual(frames.compactMap(\.resetCode), [.protocolError], "\(trailers)")
        }
    }

    func testTheConcurrentStreamLimitRefusesExtraStreams() {
        var settings = HTTP2LocalSettings()
        settings.maxConcurrentStreams = 2
        let probe = ServerProbe(settings: settings)
        let frames = probe.send([1, 3, 5].map { probe.headers($0, ServerProbe.get, endStream: true) })
        XCTAssertEqual(frames.filter { $0.streamID == 5 }.compactMap(\.resetCode), [.refusedStream])
        XCTAssertEqual(probe.server.activeStreamCount, 2)
    }

    func testABadPrefaceAndAFirstFrameOtherThanSettingsAreConnectionErrors() {
        let server = HTTP2Connection(role: .server)
        _ = server.takeOutput()
        let events = server.receive(ByteBuffer(string: "GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
        guard case .connectionError(let error)? = events.last else { return XCTFail("\(events)") }
        XCTAssertEqual(error.code, .protocolError)

        let other = HTTP2Connection(role: .server)
        var bytes = ByteBuffer(bytes: HTTP2Preface.bytes)
        HTTP2FrameEncoder.encode(HTTP2Frame(streamID: 0, payload: .ping(opaque: 0, ack: false)), into: &bytes)
        guard case .connectionError(let second)? = other.receive(bytes).last else { return XCTFail("no error") }
        XCTAssertEqual(second.code, .protocolError)
    }

    func testFramesForAStreamThisSideResetAreIgnored() {
        let probe = ServerProbe()
        probe.send([probe.headers(1, ServerProbe.post(length: nil), endStream: false)])
        probe.server.resetStream(1, code: .cancel)
        XCTAssertEqual(probe.answers().compactMap(\.resetCode), [.cancel])
        let frames = probe.send([HTTP2Frame(streamID: 1, payload: .data(ByteBuffer(string: "in flight"), endStream: true))])
        XCTAssertEqual(frames.compactMap(\.resetCode), [])
        XCTAssertNil(probe.server.failed)
    }

    func testLargeHeaderBlocksAreSplitIntoContinuationFrames() throws {
        let pair = ConnectionPair()
        let big = String(repeating: "v", count: 40_000)
        _ = try pair.client.openStream(headers: fields(ServerProbe.get + [("x-big", big)]), endStream: true)
        pair.pump()
        guard case .headers(1, let list, true)? = pair.serverEvents.first else { return XCTFail("\(pair.serverEvents)") }
        XCTAssertEqual(list.last?.value.count, 40_000)
    }
}
