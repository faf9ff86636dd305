import Foundation
import XCTest
@testable import MeshNet
@testable import MeshTLS
@testable import MeshHTTP1

/// MeshNet's TLS client against MeshNet's TLS server, both on event loops as `TLSHandler`s at the bottom of their
/// channels: verification of the authority and of the name, ALPN, and a slow reader.
final class TLSClientTests: XCTestCase {
    private var loops: [EventLoop] = []
    private var server: HTTPServer?

    override func tearDown() {
        server?.stop()
        for loop in loops { loop.stop() }
    }

    private func exchange(port: Int, trusting authority: Certificate, serverName: String?) throws -> TLSExchange {
        try TLSExchange.run(port: port, loop: loops[0], client: TLSClientContext(trusting: [authority]), serverName: serverName)
    }

    func testVerifiedExchangeAndRefusals() throws {
        let authorityKey = try PrivateKey.generateP256()
        let authority = try Certificate.issue(CertificateRequest(commonName: "test CA", isAuthority: true, lifetimeSeconds: 3600), for: authorityKey)
        let key = try PrivateKey.generateP256()
        let leaf = try Certificate.issue(CertificateRequest(commonName: "server", dnsNames: ["mesh.local"], ipAddresses: ["127.0.0.1"],
                                                            lifetimeSeconds: 3600), for: key, signedBy: (authority, authorityKey))
        loops = try (0..<2).map { try EventLoop(name: "tls-\($0)") }
        for loop in loops { loop.start() }
        let server = try HTTPServer(host: "127.0.0.1", port: 0, loops: [loops[1]], tls: try TLSServerContext(certificateChain: [leaf], key: key)) {
            request, responder in responder.respond(HTTPResponse(status: 200, contentType: "text/plain", text: "hi from \(request.path)"))
        }
        server.start()
        self.server = server

        let byAddress = try exchange(port: server.port, trusting: authority, serverName: nil)
        XCTAssertTrue(byAddress.reply.hasPrefix("HTTP/1.1 200 OK") && byAddress.reply.hasSuffix("hi from /hello"), byAddress.reply)
        XCTAssertEqual(byAddress.alpn, "http/1.1")
        XCTAssertTrue(try exchange(port: server.port, trusting: authority, serverName: "mesh.local").reply.hasSuffix("hi from /hello"))

        let wrongName = try exchange(port: server.port, trusting: authority, serverName: "other.local")
        XCTAssertEqual(wrongName.reply, "", "a name the certificate lacks")
        XCTAssertTrue(wrongName.failure?.contains("certificate verify failed") == true, "OpenSSL's reason is kept: \(wrongName.failure ?? "none")")
        let strangerKey = try PrivateKey.generateP256()
        let stranger = try Certificate.issue(CertificateRequest(commonName: "other CA", isAuthority: true, lifetimeSeconds: 3600), for: strangerKey)
        let untrusted = try exchange(port: server.port, trusting: stranger, serverName: nil)
        XCTAssertEqual(untrusted.reply, "", "an authority not trusted")
        XCTAssertTrue(untrusted.failure?.contains("certificate verify failed") == true, "OpenSSL's reason is kept: \(untrusted.failure ?? "none")")
    }

    /// A response streamed in chunks faster than the client reads: the server's TLS writes stall (want-write) while
    /// more chunks queue up behind them, and the retried write must still succeed, to the last byte.
    func testAStreamedResponseToASlowReaderArrivesWhole() throws {
        let key = try PrivateKey.generateP256()
        let leaf = try Certificate.issue(CertificateRequest(commonName: "server", ipAddresses: ["127.0.0.1"], lifetimeSeconds: 3600), for: key)
        loops = try (0..<2).map { try EventLoop(name: "slow-\($0)") }
        for loop in loops { loop.start() }
        let chunk = [UInt8](repeating: 0x61, count: 256 * 1024)
        let chunks = 128  // 32 MiB, well past what the socket buffers hold
        let queued = expectation(description: "all chunks queued")
        let server = try HTTPServer(host: "127.0.0.1", port: 0, loops: [loops[1]], tls: try TLSServerContext(certificateChain: [leaf], key: key)) {
            _, responder in
            let stream = responder.startStream(status: 200, headers: [("Content-Type", "application/octet-stream")])
            for _ in 0..<chunks { stream.send(chunk) }
            stream.finish()
            queued.fulfill()
        }
        server.start()
        self.server = server

        let finished = expectation(description: "response read or connection closed")
        let lock = NSLock()
        var total = 0, tail: [UInt8] = []
        var channel: Channel?
        Channel.connect(host: "127.0.0.1", port: server.port, loop: loops[0], tls: try TLSClientContext(trusting: [leaf]), handlers: {
            [CallbackHandler(onRead: { bytes in
                lock.lock(); defer { lock.unlock() }
                total += bytes.readableBytes
                tail = Array((tail + bytes.readableArray).suffix(5))
                if tail == Array("0\r\n\r\n".utf8) { channel?.close() }
            }, onInactive: { finished.fulfill() })]
        }) { result in
            guard case .success(let opened) = result else { finished.fulfill(); return }
            lock.lock(); channel = opened; lock.unlock()
            // Once the request is out (it is held until the handshake completes, then leaves with the client's
            // last flight), stop reading until the server has queued the whole response.
            opened.connection.onDrained = {
                guard opened.tls?.engine.isHandshakeComplete == true else { return }
                opened.pauseReading()
                opened.connection.onDrained = {}
            }
            opened.writeAndFlush(ByteBuffer(string: "GET /big HTTP/1.1\r\nHost: x\r\n\r\n"))
        }
        wait(for: [queued], timeout: 60)
        loops[0].execute { channel?.resumeReading() }
        wait(for: [finished], timeout: 120)
        lock.lock(); defer { lock.unlock() }
        let framing = String(chunk.count, radix: 16).utf8.count + 4
        XCTAssertEqual(tail, Array("0\r\n\r\n".utf8), "the response ends with its last chunk, after \(total) bytes")
        XCTAssertGreaterThan(total, chunks * (chunk.count + framing), "every chunk arrived")
    }
}
