import XCTest
import Foundation
import MeshNet
import MeshTLS
import MeshHTTP1
import MeshTestSupport
import KubeClient
@testable import MeshHTTP2

/// HTTP/2 over TLS: an `HTTPServer` whose TLS context offers `h2` and `http/1.1` hands the connections on which ALPN
/// chose h2 to an `HTTP2Service`, and one handler (written against `HTTPResponding`) answers both protocols. libcurl
/// is the h2 client, as KubeClient uses it.
final class HTTP2OverTLSTests: XCTestCase {
    private var loop: EventLoop!
    private var server: HTTPServer!
    private var authority: CertificateAuthority!
    /// How many streamed answers have ended on the server (finished, reset or cut off).
    private let endedStreams = Counter()

    final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var value = 0
        func add() { lock.lock(); value += 1; lock.unlock() }
        var count: Int { lock.lock(); defer { lock.unlock() }; return value }
    }

    override func setUpWithError() throws {
        authority = try CertificateAuthority()
        var configuration = TLSServerConfiguration(identity: try authority.issueServer(dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"]))
        configuration.applicationProtocols = ["h2", "http/1.1"]
        loop = try EventLoop(name: "h2-tls")
        loop.start()
        let ended = endedStreams
        let handler: @Sendable (HTTPRequest, any HTTPResponding) -> Void = { request, responder in
            switch request.path {
            case "/follow":
                // An open-ended answer, as a watch: a part now, then one per tick until the client goes.
                let stream = responder.respondStreaming(status: 200, headers: [("Content-Type", "text/plain")], contentLength: nil)
                stream.send(Array("first\n".utf8))
                let loop = stream.loop
                var ticks: [EventLoop.TimerID] = []
                func tick() { ticks.append(loop.schedule(after: 0.05) { stream.send(Array("tick\n".utf8)); tick() }) }
                loop.execute {
                    tick()
                    stream.onEnd = {
                        for timer in ticks { loop.cancel(timer) }
                        ended.add()
                    }
                }
            case "/parts":
                let stream = responder.respondStreaming(status: 200, headers: [("Content-Type", "text/plain")], contentLength: nil)
                for part in ["one ", "two ", "three"] { stream.send(Array(part.utf8)) }
                stream.finish()
            default:
                let version = request.version == 20 ? "HTTP/2" : "HTTP/1.1"
                responder.respond(HTTPResponse(status: 200, contentType: "text/plain", text: "\(version) \(request.method) \(request.path) \(request.body.count)"))
            }
        }
        let h2 = HTTP2Service(handler: { handler($0, $1) })
        server = try HTTPServer(host: "127.0.0.1", port: 0, loops: [loop], tls: try TLSServerContext(configuration),
                                handoffs: ["h2": { h2.connectionHandler() }]) { handler($0, $1) }
        server.start()
    }

    override func tearDown() {
        server?.stop()
        loop?.stop()
    }

    private func curl() throws -> CurlClient { try CurlClient(certificateAuthorities: try authority.certificate.pem(), timeoutSeconds: 10) }

    func testCurlNegotiatesH2AndTheHandlerAnswersOverIt() throws {
        let client = try curl()
        let url = "https://127.0.0.1:\(server.port)"
        XCTAssertEqual(String(decoding: try client.perform(HTTPClientRequest(url: url + "/hello")).body, as: UTF8.self), "HTTP/2 GET /hello 0")
        let posted = try client.perform(HTTPClientRequest(method: "POST", url: url + "/upload", body: Array(repeating: 7, count: 100_000)))
        XCTAssertEqual(String(decoding: posted.body, as: UTF8.self), "HTTP/2 POST /upload 100000")
        let parts = try client.perform(HTTPClientRequest(url: url + "/parts"))
        XCTAssertEqual(parts.status, 200)
        XCTAssertEqual(String(decoding: parts.body, as: UTF8.self), "one two three")
        XCTAssertEqual(server.connectionsByProtocol, ["h2": 1], "three requests on one kept connection")
    }

    func testAClientThatOffersOnlyHTTP1GetsHTTP1() throws {
        let trust = try TLSClientContext(trusting: [authority.certificate])
        let stream = BlockingTLSStream(fd: try LoopbackSocket.connect(port: server.port),
                                       engine: try TLSEngine(client: trust, serverName: nil, verifyHost: "127.0.0.1"))
        try stream.handshake()
        XCTAssertEqual(stream.engine.negotiatedProtocol, "http/1.1")
        try stream.write(Array("GET /plain HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8))
        var answer = ""
        while let more = try stream.read() { answer += String(decoding: more, as: UTF8.self) }
        XCTAssertTrue(answer.hasPrefix("HTTP/1.1 200 OK\r\n") && answer.hasSuffix("\r\n\r\nHTTP/1.1 GET /plain 0"), answer)
        XCTAssertTrue(eventually { server.connectionsByProtocol == ["http/1.1": 1] }, "\(server.connectionsByProtocol)")
    }

    /// A streamed answer flows part by part (the client sees the first before the answer ends), and a client that
    /// stops reading it resets the stream: the answer's end runs on the server, and the connection serves on.
    /// (libcurl sends the reset when its connection is next used: the request after the stream.)
    func testAStreamFlowsAndEndsWhenTheClientStops() throws {
        let client = try curl()
        let url = "https://127.0.0.1:\(server.port)"
        var received: [UInt8] = []
        let response = try client.performStreaming(HTTPClientRequest(url: url + "/follow")) { piece in
            received += piece
            return received.count < "first\ntick\ntick\n".utf8.count
        }
        XCTAssertEqual(response.status, 200)
        XCTAssertTrue(String(decoding: received, as: UTF8.self).hasPrefix("first\ntick\ntick\n"), String(decoding: received, as: UTF8.self))
        XCTAssertEqual(String(decoding: try client.perform(HTTPClientRequest(url: url + "/after")).body, as: UTF8.self), "HTTP/2 GET /after 0")
        XCTAssertTrue(eventually(timeout: 20) { endedStreams.count == 1 }, "the server's stream ended when the client stopped")
        XCTAssertEqual(server.connectionsByProtocol, ["h2": 1], "the stream's connection served the next request")
    }

    /// A streamed answer whose connection goes away ends too (kubectl killed during a watch).
    func testAStreamEndsWhenItsConnectionCloses() throws {
        do {
            let client = try curl()
            var received = 0
            _ = try client.performStreaming(HTTPClientRequest(url: "https://127.0.0.1:\(server.port)/follow")) { piece in
                received += piece.count
                return false
            }
            XCTAssertGreaterThan(received, 0)
        }
        // The client (and its connection) is gone here, whether or not it reset the stream first.
        XCTAssertTrue(eventually(timeout: 20) { endedStreams.count == 1 }, "the server's stream ended")
    }
}
