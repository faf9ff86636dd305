import Foundation
import XCTest
@testable import MeshNet
@testable import MeshTLS
@testable import MeshHTTP1

/// `TLSHandler` at the bottom of real channels: an HTTP server that requires SPIFFE client certificates, and
/// clients that connect with `Channel.connect`; both sides see ALPN's choice and the other's identity.
final class TLSHandlerTests: XCTestCase {
    private var loops: [EventLoop] = []
    private var server: HTTPServer?

    override func tearDown() {
        server?.stop()
        for loop in loops { loop.stop() }
    }

    func testAnMTLSServerSeesTheClientsIdentityAndRefusesOtherNamespaces() throws {
        let authority = try CertificateAuthority()
        loops = try (0..<2).map { try EventLoop(name: "tls-handler-\($0)") }
        for loop in loops { loop.start() }
        var configuration = TLSServerConfiguration(identity: try authority.issueWorkload(namespace: "default", serviceAccount: "api"))
        configuration.trustedClientAuthorities = [authority.certificate]
        configuration.clientNames = [.spiffePrefix("spiffe://cluster.local/ns/default/")]
        let server = try HTTPServer(host: "127.0.0.1", port: 0, loops: [loops[1]], tls: try TLSServerContext(configuration)) { _, responder in
            let peer = responder.tls?.peerIdentity.map { "\($0)" } ?? "none"
            responder.respond(HTTPResponse(status: 200, contentType: "text/plain", text: "peer \(peer) alpn \(responder.tls?.negotiatedProtocol ?? "none")"))
        }
        server.start()
        self.server = server
        let api: [SubjectAltNameMatcher] = [.spiffe("spiffe://cluster.local/ns/default/sa/api")]

        func client(namespace: String) throws -> TLSClientContext {
            try TLSClientContext(TLSClientConfiguration(trusting: [authority.certificate],
                                                        identity: try authority.issueWorkload(namespace: namespace, serviceAccount: "sleep")))
        }
        let accepted = try TLSExchange.run(port: server.port, loop: loops[0], client: try client(namespace: "default"),
                                           serverName: "api.default.svc.cluster.local", peerNames: api)
        XCTAssertNil(accepted.failure)
        XCTAssertTrue(accepted.reply.hasSuffix("peer spiffe://cluster.local/ns/default/sa/sleep alpn http/1.1"), accepted.reply)
        XCTAssertEqual(accepted.alpn, "http/1.1")
        XCTAssertEqual(accepted.serverIdentity, authority.identity(namespace: "default", serviceAccount: "api"))

        let otherNamespace = try TLSExchange.run(port: server.port, loop: loops[0], client: try client(namespace: "other"),
                                                 serverName: "api.default.svc.cluster.local", peerNames: api)
        XCTAssertEqual(otherNamespace.reply, "", "no answer reaches a client the server refused")
        XCTAssertTrue(otherNamespace.failure?.contains("alert handshake failure") == true,
                      "the server's alert closes the client's connection with OpenSSL's reason: \(otherNamespace.failure ?? "none")")

        let wrongServer = try TLSExchange.run(port: server.port, loop: loops[0], client: try client(namespace: "default"),
                                              serverName: "api.default.svc.cluster.local", peerNames: [.spiffe("spiffe://cluster.local/ns/default/sa/db")])
        XCTAssertEqual(wrongServer.reply, "")
        XCTAssertTrue(wrongServer.failure?.contains("sa/db") == true, "the SAN mismatch is named: \(wrongServer.failure ?? "none")")
    }

    /// A server that closes after its answer (`Connection: close`) sends close_notify first, so the client can tell
    /// the end from a truncation.
    func testAnOrderlyCloseSendsCloseNotify() throws {
        let authority = try CertificateAuthority()
        loops = [try EventLoop(name: "tls-handler-close")]
        loops[0].start()
        let context = try TLSServerContext(TLSServerConfiguration(identity: try authority.issueServer(dnsNames: ["api.mesh.local"])))
        let server = try HTTPServer(host: "127.0.0.1", port: 0, loops: loops, tls: context) { _, responder in
            responder.respond(HTTPResponse(status: 200, contentType: "text/plain", text: "bye"))
        }
        server.start()
        self.server = server
        let stream = BlockingTLSStream(fd: try LoopbackSocket.connect(port: server.port),
                                       engine: try TLSEngine(client: TLSClientContext(trusting: [authority.certificate]), serverName: "api.mesh.local"))
        defer { stream.close() }
        try stream.handshake()
        try stream.write(Array("GET / HTTP/1.1\r\nHost: api.mesh.local\r\nConnection: close\r\n\r\n".utf8))
        var received: [UInt8] = []
        while let part = try stream.read() { received += part }
        XCTAssertTrue(String(decoding: received, as: UTF8.self).hasSuffix("bye"))
        XCTAssertTrue(stream.engine.receivedCloseNotify)
    }
}
