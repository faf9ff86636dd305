import Foundation
import XCTest
@testable import MeshNet

/// MeshNet's TLS client against MeshNet's TLS server, both on event loops: verification of the authority and of
/// the name, and ALPN.
final class TLSClientTests: XCTestCase {
    private var loops: [EventLoop] = []
    private var server: HTTPServer?

    override func tearDown() {
        server?.stop()
        for loop in loops { loop.stop() }
    }

    private func exchange(port: Int, trusting authority: Certificate, serverName: String?) throws -> (reply: String, alpn: String?) {
        let client = try TLSClientContext(trusting: [authority])
        let done = expectation(description: "exchange")
        let lock = NSLock()
        var received: [UInt8] = [], alpn: String?
        var connection: TCPConnection?
        TCPConnection.connect(host: "127.0.0.1", port: port, loop: loops[0], tls: client, serverName: serverName) { result in
            guard case .success(let opened) = result else { done.fulfill(); return }
            connection = opened
            opened.onData = { bytes in
                lock.lock(); received += bytes; alpn = opened.session?.negotiatedProtocol; lock.unlock()
            }
            opened.onClose = { done.fulfill() }
            opened.send(Array("GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8))
        }
        wait(for: [done], timeout: 10)
        _ = connection
        lock.lock(); defer { lock.unlock() }
        return (String(decoding: received, as: UTF8.self), alpn)
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

        XCTAssertEqual(try exchange(port: server.port, trusting: authority, serverName: "other.local").reply, "", "a name the certificate lacks")
        let strangerKey = try PrivateKey.generateP256()
        let stranger = try Certificate.issue(CertificateRequest(commonName: "other CA", isAuthority: true, lifetimeSeconds: 3600), for: strangerKey)
        XCTAssertEqual(try exchange(port: server.port, trusting: stranger, serverName: nil).reply, "", "an authority not trusted")
    }
}
