import Foundation
import MeshNet
import MeshTLS
@testable import MeshProxy
import MeshTestSupport
import XCTest

/// The proxy's TLS transport on real sockets: how the end of a peer's stream reads. A FIN after close_notify is an
/// orderly end; a FIN without one is a stream cut off, which must not pass for the end of a body read to the close.
final class TLSTransportTests: XCTestCase {
    private var loop: EventLoop!
    private var listener: TCPListener?
    private var authority: CertificateAuthority!

    override func setUpWithError() throws {
        authority = try CertificateAuthority()
        loop = try EventLoop(name: "tls-transport")
        loop.start()
    }

    override func tearDown() {
        loop.execute { [listener] in listener?.close() }
        loop?.stop()
    }

    /// A server that answers its first plaintext with `answer` and then ends: with close_notify (`closeNotify`),
    /// or with a bare FIN.
    private func startServer(answer: String, closeNotify: Bool) throws -> Int {
        let identity = try authority.issueWorkload(namespace: "default", serviceAccount: "app")
        let context = try TLSServerContext(TLSServerConfiguration(identity: identity))
        let loop = self.loop!
        let listener = try TCPListener(host: "127.0.0.1", port: 0, loop: loop)
        self.listener = listener
        listener.start { fd in
            let tcp = TCPConnection(fd: fd, loop: loop)
            guard let engine = try? TLSEngine(server: context) else { return tcp.close() }
            let transport = TLSTransport(tcp: tcp, engine: engine)
            transport.onData = { _ in
                transport.send(ByteBuffer(string: answer))
                if closeNotify {
                    transport.closeWhenDrained()
                } else {
                    tcp.finishWhenDrained()  // FIN, no close_notify
                }
                transport.onData = { _ in }
            }
            try? transport.start()
        }
        return listener.port
    }

    /// Connects a client transport, sends one request, and returns what it read and the close's reason.
    private func exchange(port: Int) throws -> (received: String, reason: NetworkError?) {
        let client = try TLSClientContext(TLSClientConfiguration(trusting: [authority.certificate]))
        let lock = NSLock()
        var received = "", reason: NetworkError?, closed = false
        var kept: TLSTransport?
        TCPConnection.connect(host: "127.0.0.1", port: port, loop: loop) { result in
            guard case .success(let tcp) = result, let engine = try? TLSEngine(client: client, serverName: nil) else {
                lock.lock(); closed = true; lock.unlock(); return
            }
            let transport = TLSTransport(tcp: tcp, engine: engine)
            kept = transport
            transport.onData = { bytes in lock.lock(); received += String(decoding: bytes.readableArray, as: UTF8.self); lock.unlock() }
            transport.onClose = { lock.lock(); reason = transport.closeReason; closed = true; lock.unlock() }
            try? transport.start()
            transport.send(ByteBuffer(string: "GET / HTTP/1.1\r\n\r\n"))
        }
        XCTAssertTrue(eventually { lock.lock(); defer { lock.unlock() }; return closed })
        lock.lock(); defer { lock.unlock() }
        _ = kept
        return (received, reason)
    }

    func testAFINAfterCloseNotifyIsAnOrderlyEnd() throws {
        let port = try startServer(answer: "HTTP/1.1 200 OK\r\n\r\nwhole body", closeNotify: true)
        let (received, reason) = try exchange(port: port)
        XCTAssertEqual(received, "HTTP/1.1 200 OK\r\n\r\nwhole body")
        XCTAssertNil(reason)
    }

    func testAFINWithoutCloseNotifyIsATruncation() throws {
        let port = try startServer(answer: "HTTP/1.1 200 OK\r\n\r\ncut sh", closeNotify: false)
        let (received, reason) = try exchange(port: port)
        XCTAssertEqual(received, "HTTP/1.1 200 OK\r\n\r\ncut sh", "what arrived before the FIN is still passed on")
        guard case .tls(let text)? = reason else { return XCTFail("the close should carry a TLS reason, got \(String(describing: reason))") }
        XCTAssertTrue(text.contains("unexpected eof"), text)
    }
}
