import XCTest
import MeshNet
@testable import MeshHTTP2

/// Random and mutated bytes into the frame decoder, HPACK and both connection roles, from fixed seeds: nothing
/// may trap or hang, and a connection that fails must have queued a GOAWAY saying why.
final class HTTP2FuzzTests: XCTestCase {
    /// A realistic client session: preface, SETTINGS, requests with bodies and trailers, PING, WINDOW_UPDATE, RST_STREAM.
    private static let clientSession: [UInt8] = {
        var encoder = HPACKEncoder()
        var out = ByteBuffer(bytes: HTTP2Preface.bytes)
        func frame(_ id: UInt32, _ payload: HTTP2Frame.Payload) { HTTP2FrameEncoder.encode(HTTP2Frame(streamID: id, payload: payload), into: &out) }
        func block(_ list: [(String, String)]) -> ByteBuffer { ByteBuffer(bytes: encoder.encode(list.map { HeaderField(name: $0.0, value: $0.1) })) }
        frame(0, .settings([HTTP2Setting(.initialWindowSize, 1 << 20), HTTP2Setting(.headerTableSize, 1024)], ack: false))
        frame(0, .settings([], ack: true))
        frame(1, .headers(HTTP2Frame.HeadersPayload(fragment: block([(":method", "GET"), (":scheme", "http"), (":path", "/"), (":authority", "a")]),
                                                   endStream: true)))
        frame(3, .headers(HTTP2Frame.HeadersPayload(fragment: block([(":method", "POST"), (":scheme", "http"), (":path", "/p"), (":authority", "a"),
                                                                     ("content-length", "10")]), endStream: false, endHeaders: false,
                                                   priority: HTTP2Frame.Priority(exclusive: false, dependency: 1, weight: 3), paddingLength: 4)))
        frame(3, .continuation(fragment: block([("x-more", "yes")]), endHeaders: true))
        frame(3, .data(ByteBuffer(string: "01234"), endStream: false, paddingLength: 7))
        frame(0, .ping(opaque: 99, ack: false))
        frame(3, .windowUpdate(increment: 5000))
        frame(3, .data(ByteBuffer(string: "56789"), endStream: true))
        frame(5, .headers(HTTP2Frame.HeadersPayload(fragment: block([(":method", "PUT"), (":scheme", "http"), (":path", "/t"), (":authority", "a")]),
                                                   endStream: false)))
        frame(5, .headers(HTTP2Frame.HeadersPayload(fragment: block([("x-trailer", "1")]), endStream: true)))
        frame(7, .headers(HTTP2Frame.HeadersPayload(fragment: block([(":method", "GET"), (":scheme", "http"), (":path", "/x"), (":authority", "a")]),
                                                   endStream: false)))
        frame(7, .rstStream(.cancel))
        frame(0, .windowUpdate(increment: 100))
        frame(0, .goAway(lastStreamID: 0, code: .noError, debugData: ByteBuffer(string: "bye")))
        return out.readableArray
    }()

    private func mutate(_ bytes: [UInt8], using random: inout SeededRandom) -> [UInt8] {
        var bytes = bytes
        for _ in 0..<Int.random(in: 1...6, using: &random) {
            guard !bytes.isEmpty else { break }
            let at = Int.random(in: 0..<bytes.count, using: &random)
            switch Int.random(in: 0..<6, using: &random) {
            case 0: bytes[at] ^= UInt8(1 << Int.random(in: 0..<8, using: &random))
            case 1: bytes[at] = UInt8.random(in: 0...255, using: &random)
            case 2: bytes.insert(UInt8.random(in: 0...255, using: &random), at: at)
            case 3: bytes.remove(at: at)
            case 4: bytes = Array(bytes.prefix(at))
            default: bytes[at] = [0x00, 0xff, 0x7f, 0x80, 0x01][Int.random(in: 0..<5, using: &random)]
            }
        }
        return bytes
    }

    /// Feeds `bytes` in random pieces; checks the failure contract.
    private func feed(_ connection: HTTP2Connection, _ bytes: [UInt8], using random: inout SeededRandom) {
        var rest = bytes[...]
        var sawError = false
        while !rest.isEmpty {
            let size = Int.random(in: 1...max(1, rest.count), using: &random)
            for event in connection.receive(ByteBuffer(bytes: rest.prefix(size))) { if case .connectionError = event { sawError = true } }
            rest = rest.dropFirst(size)
            _ = connection.takeOutput()
        }
        XCTAssertEqual(sawError, connection.failed != nil)
    }

    func testMutatedSessionsNeverTrapAndFailWithGoAway() {
        var random = SeededRandom(seed: 2026)
        let start = Date()
        var failures = 0
        for _ in 0..<3000 {
            let input = mutate(Self.clientSession, using: &random)
            let server = HTTP2Connection(role: .server)
            _ = server.takeOutput()
            // Everything at once, so the GOAWAY, if any, is the last frame written.
            let events = server.receive(ByteBuffer(bytes: input))
            if let error = server.failed {
                failures += 1
                guard case .connectionError(error)? = events.last else { return XCTFail("no connectionError event for \(error)") }
                var decoder = HTTP2FrameDecoder(maximumFrameSize: 1 << 24 - 1)
                decoder.feed(server.takeOutput() ?? ByteBuffer())
                var last: HTTP2Frame?
                while let frame = try? decoder.next() { last = frame }
                XCTAssertEqual(last?.goAwayCode, error.code, "GOAWAY carries the error")
                XCTAssertTrue(server.receive(ByteBuffer(bytes: Self.clientSession)).isEmpty, "input after a failure is ignored")
            }
            let split = HTTP2Connection(role: .server)
            feed(split, input, using: &random)
        }
        XCTAssertGreaterThan(failures, 100, "mutations do break sessions")
        XCTAssertLessThan(Date().timeIntervalSince(start), 60)
    }

    func testRandomBytesIntoTheDecoderAndBothRoles() throws {
        var random = SeededRandom(seed: 9113)
        for round in 0..<3000 {
            let length = Int.random(in: 0...600, using: &random)
            let noise = (0..<length).map { _ in UInt8.random(in: 0...255, using: &random) }
            var decoder = HTTP2FrameDecoder()
            decoder.feed(noise)
            var frames = 0
            while frames <= noise.count / 9 + 1, let _ = try? decoder.next() { frames += 1 }
            XCTAssertLessThanOrEqual(frames, noise.count / 9, "every frame takes at least its 9-byte header")

            // After a valid start, so the noise reaches the frame handling rather than the preface check.
            let server = HTTP2Connection(role: .server)
            feed(server, Array(Self.clientSession.prefix(24 + 9)) + noise, using: &random)
            let client = HTTP2Connection(role: .client)
            _ = try? client.openStream(headers: [HeaderField(name: ":method", value: "GET"), HeaderField(name: ":scheme", value: "http"),
                                                 HeaderField(name: ":path", value: "/"), HeaderField(name: ":authority", value: "a")], endStream: round % 2 == 0)
            feed(client, [0, 0, 0, 4, 0, 0, 0, 0, 0] + noise, using: &random)
        }
    }

    func testRandomHPACKBlocksOnlyThrowHPACKErrors() {
        var random = SeededRandom(seed: 7541)
        var decoded = 0
        for _ in 0..<5000 {
            let noise = (0..<Int.random(in: 0...200, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
            var decoder = HPACKDecoder(tableSizeLimit: 256)
            if (try? decoder.decode(noise)) != nil { decoded += 1 }
            XCTAssertLessThanOrEqual(decoder.dynamicTableSize, 256)
        }
        XCTAssertGreaterThan(decoded, 0)
    }
}
