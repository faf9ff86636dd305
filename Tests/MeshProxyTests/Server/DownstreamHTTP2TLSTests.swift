import Foundation
import MeshHTTP2
import MeshNet
import MeshTLS
@testable import MeshProxy
import MeshTestSupport
import XCTest

/// An AUTO connection manager under TLS follows ALPN: a client of the sidecar-shaped mTLS inbound listener (ALPN
/// `h2, http/1.1`) that also offers `h2` gets HTTP/2.
final class DownstreamHTTP2TLSTests: XCTestCase {
    func testAnMTLSClientOfferingH2GetsHTTP2() throws {
        let app = try SampleUpstream(name: "app")
        defer { app.stop() }
        let handoff = try SampleUpstream(name: "handoff")
        defer { handoff.stop() }
        let setup = try MeshTLSBootstrap(appPort: app.port, handOffUpstreamPort: handoff.port)
        defer { setup.remove() }
        let proxy = try ProxyServer(configuration: try ProxyConfiguration.load(file: setup.file.path), concurrency: 1,
                                    log: ProxyLog(level: .error) { FileHandle.standardError.write(Data($0.utf8)) })
        proxy.start()
        defer { proxy.stop() }

        let identity = try setup.authority.issueWorkload(namespace: "default", serviceAccount: "reviews")
        var settings = TLSClientConfiguration(trusting: [setup.authority.certificate], identity: identity)
        settings.applicationProtocols = ["istio-peer-exchange", "istio", "h2"]
        let engine = try TLSEngine(client: try TLSClientContext(settings), serverName: nil, peerNames: [.spiffe(MeshTLSBootstrap.identity)])
        var stream: BlockingTLSStream?
        XCTAssertTrue(eventually(timeout: 20) {
            guard let fd = try? LoopbackSocket.connect(port: setup.inboundPort) else { return false }
            stream = BlockingTLSStream(fd: fd, engine: engine, receiveTimeout: 5)
            return true
        })
        let tls = try XCTUnwrap(stream)
        defer { tls.close() }
        try tls.handshake()
        let codec = HTTP2Connection(role: .client)
        let id = try codec.openStream(headers: [HeaderField(name: ":method", value: "GET"), HeaderField(name: ":scheme", value: "https"),
                                                HeaderField(name: ":authority", value: "app"), HeaderField(name: ":path", value: "/over-h2")],
                                      endStream: true)
        var status = 0, body: [UInt8] = [], ended = false
        while !ended {
            if let out = codec.takeOutput() { try tls.write(out.readableArray) }
            guard let bytes = try tls.read() else { break }
            for event in codec.receive(ByteBuffer(bytes: bytes)) {
                switch event {
                case .headers(id, let fields, let endStream):
                    status = Int(fields.first { $0.name == ":status" }?.value ?? "") ?? 0
                    ended = endStream
                case .data(id, let data, let endStream):
                    body += data.readableArray
                    ended = ended || endStream
                default: break
                }
            }
        }
        XCTAssertEqual(status, 200)
        XCTAssertEqual(String(decoding: body, as: UTF8.self), "app GET /over-h2\n")
        XCTAssertEqual(proxy.stats.value("http.inbound.downstream_cx_http2_total"), 1)
    }
}
