import Foundation
import MeshTestSupport
import XCTest
@testable import MeshNet
@testable import MeshTLS

/// TLS as a layer over plain TCP connections on real event loops and sockets: the way it sits in a connection's
/// stack, with the transport knowing nothing of TLS.
final class TLSLayerTests: XCTestCase {
    private var loops: [EventLoop] = []
    private var listener: TCPListener?

    override func tearDown() {
        listener?.close()
        for loop in loops { loop.stop() }
    }

    /// An echo server: every plaintext buffer goes back; the client's close_notify is answered with one.
    private func startEchoServer(_ context: TLSServerContext, identities: @escaping (SPIFFEIdentity?, String?) -> Void) throws -> Int {
        let loop = loops[1]
        let listener = try TCPListener(host: "127.0.0.1", port: 0, loop: loop)
        self.listener = listener
        listener.start { fd in
            let connection = TCPConnection(fd: fd, loop: loop)
            guard let engine = try? TLSEngine(server: context) else { connection.close(); return }
            let layer = TLSLayer(engine: engine)
            layer.onHandshake = { identities($0.peerIdentity, $0.negotiatedProtocol) }
            let down: (ByteBuffer) -> Void = { connection.send($0) }
            connection.onData = { ciphertext in
                do {
                    let open = try layer.receive(ciphertext, up: { plaintext in try? layer.send(plaintext, down: down) }, down: down)
                    if !open {
                        layer.close(down: down)
                        connection.closeWhenDrained()
                    }
                } catch {
                    connection.closeWhenDrained()
                }
            }
            try? connection.start()
        }
        return listener.port
    }

    func testALayerOverPlainConnectionsEchoesAMebibyteWrittenBeforeTheHandshake() throws {
        let authority = try CertificateAuthority()
        loops = try (0..<2).map { try EventLoop(name: "tls-layer-\($0)") }
        for loop in loops { loop.start() }
        var serverConfiguration = TLSServerConfiguration(identity: try authority.issueWorkload(namespace: "default", serviceAccount: "echo"))
        serverConfiguration.applicationProtocols = ApplicationProtocols.mesh
        serverConfiguration.trustedClientAuthorities = [authority.certificate]
        serverConfiguration.clientNames = [.spiffePrefix("spiffe://cluster.local/ns/default/")]
        let lock = NSLock()
        var serverSaw: (SPIFFEIdentity?, String?)?
        let port = try startEchoServer(TLSServerContext(serverConfiguration)) { identity, alpn in lock.lock(); serverSaw = (identity, alpn); lock.unlock() }

        var clientConfiguration = TLSClientConfiguration(trusting: [authority.certificate],
                                                         identity: try authority.issueWorkload(namespace: "default", serviceAccount: "sleep"))
        clientConfiguration.applicationProtocols = ["istio-peer-exchange", "h2"]
        let engine = try TLSEngine(client: TLSClientContext(clientConfiguration), serverName: "echo.default.svc.cluster.local",
                                   peerNames: [.spiffe("spiffe://cluster.local/ns/default/sa/echo")])
        let layer = TLSLayer(engine: engine)
        let message = (0..<(1024 * 1024)).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        var echoed: [UInt8] = []
        var ended = false, failure: String?
        var connection: TCPConnection?
        TCPConnection.connect(host: "127.0.0.1", port: port, loop: loops[0]) { result in
            guard case .success(let opened) = result else { lock.lock(); failure = "connect failed"; lock.unlock(); return }
            connection = opened
            let down: (ByteBuffer) -> Void = { opened.send($0) }
            opened.onData = { ciphertext in
                do {
                    let open = try layer.receive(ciphertext, up: { plaintext in
                        lock.lock(); echoed += plaintext.readableArray; let all = echoed.count == message.count; lock.unlock()
                        if all { layer.close(down: down) }
                    }, down: down)
                    if !open { lock.lock(); ended = true; lock.unlock(); opened.close() }
                } catch {
                    lock.lock(); failure = "\(error)"; lock.unlock()
                    opened.close()
                }
            }
            do {
                // Written before the handshake: the layer keeps it until the handshake completes.
                for start in stride(from: 0, to: message.count, by: 64 * 1024) {
                    try layer.send(ByteBuffer(bytes: message[start..<min(start + 64 * 1024, message.count)]), down: down)
                }
                try layer.start(down: down)
            } catch {
                lock.lock(); failure = "\(error)"; lock.unlock()
            }
        }
        XCTAssertTrue(eventually(timeout: 30) { lock.lock(); defer { lock.unlock() }; return ended || failure != nil })
        lock.lock(); defer { lock.unlock() }
        XCTAssertNil(failure)
        XCTAssertTrue(ended, "the server answered our close_notify with its own")
        XCTAssertTrue(echoed == message, "\(echoed.count) of \(message.count) bytes came back, in order")
        XCTAssertEqual(serverSaw?.0?.serviceAccount, "sleep")
        XCTAssertEqual(serverSaw?.1, "istio-peer-exchange")
        XCTAssertEqual(engine.negotiatedProtocol, "istio-peer-exchange")
        _ = connection
    }

    func testAFailedHandshakeSendsItsAlertDown() throws {
        let authority = try CertificateAuthority()
        var serverConfiguration = TLSServerConfiguration(identity: try authority.issueServer(dnsNames: ["api.mesh.local"]))
        serverConfiguration.trustedClientAuthorities = [authority.certificate]
        let server = TLSLayer(engine: try TLSEngine(server: TLSServerContext(serverConfiguration)))
        let client = TLSLayer(engine: try TLSEngine(client: TLSClientContext(trusting: [authority.certificate]), serverName: "api.mesh.local"))
        var toServer: [ByteBuffer] = [], toClient: [ByteBuffer] = []
        try client.start { toServer.append($0) }
        for bytes in toServer { try server.receive(bytes, up: { _ in }, down: { toClient.append($0) }) }
        toServer = []
        for bytes in toClient { try client.receive(bytes, up: { _ in }, down: { toServer.append($0) }) }
        toClient = []
        var serverError: TLSError?
        do { for bytes in toServer { try server.receive(bytes, up: { _ in }, down: { toClient.append($0) }) } } catch { serverError = error }
        XCTAssertEqual(serverError?.reasons, ["peer did not return a certificate"])
        XCTAssertFalse(toClient.isEmpty, "the alert went down")
        XCTAssertThrowsError(try toClient.forEach { try client.receive($0, up: { _ in }, down: { _ in }) }) {
            XCTAssertTrue("\($0)".contains("alert certificate required"), "\($0)")
        }
    }

    func testPlainHTTPToATLSServerIsRecognised() throws {
        let authority = try CertificateAuthority()
        let context = try TLSServerContext(TLSServerConfiguration(identity: try authority.issueServer(dnsNames: ["api.mesh.local"])))
        let plain = TLSLayer(engine: try TLSEngine(server: context))
        var sent: [ByteBuffer] = []
        XCTAssertThrowsError(try plain.receive(ByteBuffer(string: "GET /api HTTP/1.1\r\n"), up: { _ in }, down: { sent.append($0) })) {
            XCTAssertEqual(($0 as? TLSError)?.reasons, ["the client sent plain HTTP to a TLS port"])
        }
        XCTAssertTrue(plain.receivedPlainHTTP)
        XCTAssertTrue(sent.isEmpty, "the stack answers with plainHTTPAnswer, not an alert")
        XCTAssertTrue(String(decoding: TLSLayer.plainHTTPAnswer.readableArray, as: UTF8.self).hasPrefix("HTTP/1.0 400 Bad Request\r\n"))

        // A ClientHello is not mistaken for one.
        let client = TLSLayer(engine: try TLSEngine(client: TLSClientContext(trusting: [authority.certificate]), serverName: "api.mesh.local"))
        var hello: [ByteBuffer] = []
        try client.start { hello.append($0) }
        let tls = TLSLayer(engine: try TLSEngine(server: context))
        var answer: [ByteBuffer] = []
        for bytes in hello { try tls.receive(bytes, up: { _ in }, down: { answer.append($0) }) }
        XCTAssertFalse(tls.receivedPlainHTTP)
        XCTAssertFalse(answer.isEmpty, "the server answered the hello")
    }
}
