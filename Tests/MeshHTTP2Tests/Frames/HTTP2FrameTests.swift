import XCTest
import MeshNet
@testable import MeshHTTP2

final class HTTP2FrameTests: XCTestCase {
    /// One frame of each of the ten types (and an unknown one), padded where the type allows it.
    static let everyType: [HTTP2Frame] = [
        HTTP2Frame(streamID: 1, payload: .data(ByteBuffer(string: "hello"), endStream: true, paddingLength: 3)),
        HTTP2Frame(streamID: 3, payload: .data(ByteBuffer(string: "plain"), endStream: false)),
        HTTP2Frame(streamID: 1, payload: .headers(HTTP2Frame.HeadersPayload(fragment: ByteBuffer(bytes: [0x82, 0x86]), endStream: false,
                                                                             endHeaders: false, priority: HTTP2Frame.Priority(exclusive: true, dependency: 0, weight: 15),
                                                                             paddingLength: 2))),
        HTTP2Frame(streamID: 1, payload: .continuation(fragment: ByteBuffer(bytes: [0x84]), endHeaders: true)),
        HTTP2Frame(streamID: 5, payload: .priority(HTTP2Frame.Priority(exclusive: false, dependency: 3, weight: 200))),
        HTTP2Frame(streamID: 5, payload: .rstStream(.cancel)),
        HTTP2Frame(streamID: 0, payload: .settings([HTTP2Setting(.initialWindowSize, 1 << 20), HTTP2Setting(.maxFrameSize, 32_768)], ack: false)),
        HTTP2Frame(streamID: 0, payload: .settings([], ack: true)),
        HTTP2Frame(streamID: 7, payload: .pushPromise(promisedStreamID: 2, fragment: ByteBuffer(bytes: [0x82]), endHeaders: true, paddingLength: 1)),
        HTTP2Frame(streamID: 0, payload: .ping(opaque: 0x0102_0304_0506_0708, ack: false)),
        HTTP2Frame(streamID: 0, payload: .goAway(lastStreamID: 7, code: .enhanceYourCalm, debugData: ByteBuffer(string: "calm"))),
        HTTP2Frame(streamID: 0, payload: .windowUpdate(increment: 1000)),
        HTTP2Frame(streamID: 9, payload: .windowUpdate(increment: 0x7fff_ffff)),
        HTTP2Frame(streamID: 9, payload: .unknown(type: 0xfa, flags: 0x3, payload: ByteBuffer(string: "extension"))),
    ]

    private func wire(_ frames: [HTTP2Frame]) -> [UInt8] {
        var out = ByteBuffer()
        for frame in frames { HTTP2FrameEncoder.encode(frame, into: &out) }
        return out.readableArray
    }

    private func decodeAll(_ pieces: [[UInt8]], maximumFrameSize: Int = 16_384) throws -> [HTTP2Frame] {
        var decoder = HTTP2FrameDecoder(maximumFrameSize: maximumFrameSize)
        var frames: [HTTP2Frame] = []
        for piece in pieces {
            decoder.feed(ByteBuffer(bytes: piece))
            while let frame = try decoder.next() { frames.append(frame) }
        }
        XCTAssertEqual(decoder.bufferedBytes, 0)
        return frames
    }

    func testEveryFrameTypeRoundTrips() throws {
        XCTAssertEqual(try decodeAll([wire(Self.everyType)]), Self.everyType)
    }

    func testAnySplitOfTheBytesGivesTheSameFrames() throws {
        let bytes = wire(Self.everyType)
        // Every single split point, then byte by byte, then random cuts.
        for cut in 0...bytes.count {
            XCTAssertEqual(try decodeAll([Array(bytes[..<cut]), Array(bytes[cut...])]), Self.everyType, "split at \(cut)")
        }
        XCTAssertEqual(try decodeAll(bytes.map { [$0] }), Self.everyType)
        var random = SeededRandom(seed: 42)
        for _ in 0..<200 {
            var pieces: [[UInt8]] = []
            var rest = bytes[...]
            while !rest.isEmpty {
                let size = Int.random(in: 1...max(1, rest.count), using: &random)
                pieces.append(Array(rest.prefix(size)))
                rest = rest.dropFirst(size)
            }
            XCTAssertEqual(try decodeAll(pieces), Self.everyType)
        }
    }

    func testKnownBytesOfASettingsFrameAndAPing() {
        XCTAssertEqual(wire([HTTP2Frame(streamID: 0, payload: .settings([HTTP2Setting(.maxConcurrentStreams, 100)], ack: false))]),
                       [0, 0, 6, 4, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 100])
        XCTAssertEqual(wire([HTTP2Frame(streamID: 0, payload: .ping(opaque: 1, ack: true))]), [0, 0, 8, 6, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1])
    }

    func testPaddingCountsAgainstFlowControl() {
        let frame = HTTP2Frame(streamID: 1, payload: .data(ByteBuffer(string: "hello"), endStream: false, paddingLength: 10))
        XCTAssertEqual(frame.flowControlledLength, 16)
    }

    /// Raw frame bytes: header fields and payload.
    private func raw(type: UInt8, flags: UInt8 = 0, stream: UInt32, _ payload: [UInt8]) -> [UInt8] {
        var out = ByteBuffer()
        HTTP2FrameEncoder.writeHeader(length: payload.count, type: type, flags: flags, streamID: stream, into: &out)
        out.writeBytes(payload)
        return out.readableArray
    }

    func testFramesThatAreErrors() {
        let settingsAck = FrameFlag.ack
        let cases: [(name: String, bytes: [UInt8], code: HTTP2ErrorCode, stream: UInt32?)] = [
            ("DATA on stream 0", raw(type: 0, stream: 0, [1]), .protocolError, nil),
            ("HEADERS on stream 0", raw(type: 1, flags: 4, stream: 0, [0x82]), .protocolError, nil),
            ("PRIORITY on stream 0", raw(type: 2, stream: 0, [0, 0, 0, 1, 16]), .protocolError, nil),
            ("PRIORITY of 4 bytes", raw(type: 2, stream: 3, [0, 0, 0, 1]), .frameSizeError, 3),
            ("PRIORITY on itself", raw(type: 2, stream: 3, [0, 0, 0, 3, 16]), .protocolError, 3),
            ("RST_STREAM on stream 0", raw(type: 3, stream: 0, [0, 0, 0, 8]), .protocolError, nil),
            ("RST_STREAM of 3 bytes", raw(type: 3, stream: 1, [0, 0, 8]), .frameSizeError, nil),
            ("SETTINGS on stream 1", raw(type: 4, stream: 1, []), .protocolError, nil),
            ("SETTINGS ack with payload", raw(type: 4, flags: settingsAck, stream: 0, [0, 3, 0, 0, 0, 1]), .frameSizeError, nil),
            ("SETTINGS of 5 bytes", raw(type: 4, stream: 0, [0, 3, 0, 0, 0]), .frameSizeError, nil),
            ("SETTINGS_ENABLE_PUSH 2", raw(type: 4, stream: 0, [0, 2, 0, 0, 0, 2]), .protocolError, nil),
            ("SETTINGS_INITIAL_WINDOW_SIZE 2^31", raw(type: 4, stream: 0, [0, 4, 0x80, 0, 0, 0]), .flowControlError, nil),
            ("SETTINGS_MAX_FRAME_SIZE 16383", raw(type: 4, stream: 0, [0, 5, 0, 0, 0x3f, 0xff]), .protocolError, nil),
            ("SETTINGS_MAX_FRAME_SIZE 2^24", raw(type: 4, stream: 0, [0, 5, 1, 0, 0, 0]), .protocolError, nil),
            ("PUSH_PROMISE on stream 0", raw(type: 5, flags: 4, stream: 0, [0, 0, 0, 2]), .protocolError, nil),
            ("PING on stream 1", raw(type: 6, stream: 1, [0, 0, 0, 0, 0, 0, 0, 0]), .protocolError, nil),
            ("PING of 7 bytes", raw(type: 6, stream: 0, [0, 0, 0, 0, 0, 0, 0]), .frameSizeError, nil),
            ("GOAWAY on stream 1", raw(type: 7, stream: 1, [0, 0, 0, 0, 0, 0, 0, 0]), .protocolError, nil),
            ("GOAWAY of 7 bytes", raw(type: 7, stream: 0, [0, 0, 0, 0, 0, 0, 0]), .frameSizeError, nil),
            ("WINDOW_UPDATE of 0 on the connection", raw(type: 8, stream: 0, [0, 0, 0, 0]), .protocolError, nil),
            ("WINDOW_UPDATE of 0 on a stream", raw(type: 8, stream: 1, [0, 0, 0, 0]), .protocolError, 1),
            ("WINDOW_UPDATE of 3 bytes", raw(type: 8, stream: 0, [0, 0, 1]), .frameSizeError, nil),
            ("CONTINUATION without HEADERS", raw(type: 9, flags: 4, stream: 1, [0x82]), .protocolError, nil),
            ("HEADERS then DATA", raw(type: 1, stream: 1, [0x82]) + raw(type: 0, stream: 1, [1]), .protocolError, nil),
            ("HEADERS then CONTINUATION on another stream", raw(type: 1, stream: 1, [0x82]) + raw(type: 9, flags: 4, stream: 3, [0x84]), .protocolError, nil),
            ("HEADERS then PING", raw(type: 1, stream: 1, [0x82]) + raw(type: 6, stream: 0, [0, 0, 0, 0, 0, 0, 0, 0]), .protocolError, nil),
            ("padding as long as the payload", raw(type: 0, flags: FrameFlag.padded, stream: 1, [5, 1, 2, 3, 4]), .protocolError, nil),
            ("padded without its length", raw(type: 0, flags: FrameFlag.padded, stream: 1, []), .frameSizeError, nil),
            ("frame larger than the maximum", [0x01, 0x00, 0x00, 0, 0, 0, 0, 0, 1], .frameSizeError, nil),
        ]
        for test in cases {
            XCTAssertThrowsError(try decodeAll([test.bytes]), test.name) { error in
                guard let error = error as? HTTP2Error else { return XCTFail("\(test.name): \(error)") }
                XCTAssertEqual(error.code, test.code, "\(test.name): \(error)")
                XCTAssertEqual(error.streamID, test.stream, "\(test.name): \(error)")
            }
        }
    }

    func testAFrameTooLargeIsRefusedBeforeItsPayloadArrives() {
        var decoder = HTTP2FrameDecoder(maximumFrameSize: 16_384)
        decoder.feed([0x01, 0x00, 0x00, 0, 0, 0, 0, 0, 1])
        XCTAssertThrowsError(try decoder.next()) { XCTAssertEqual(($0 as? HTTP2Error)?.code, .frameSizeError) }
    }

    func testUnknownTypesAndSettingsAreKeptNotRefused() throws {
        let frames = try decodeAll([raw(type: 4, stream: 0, [0x12, 0x34, 0, 0, 0, 9]) + raw(type: 0x20, stream: 0, [1, 2])])
        XCTAssertEqual(frames.count, 2)
        XCTAssertEqual(frames[0].payload, .settings([HTTP2Setting(HTTP2Setting.Identifier(rawValue: 0x1234), 9)], ack: false))
    }
}
