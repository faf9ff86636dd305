import Foundation
import MeshNet
import MeshTLS
@testable import MeshProxy
import MeshTestSupport
import XCTest

/// TLS both ways and Istio's capture shapes on real sockets: mTLS between the proxy's own outbound and inbound
/// listeners, refused clients, a wrong SAN, auto mTLS by endpoint metadata, PROXY protocol hand-off and passthrough.
final class TLSDataPathTests: XCTestCase {
    private var app: SampleUpstream!
    private var handoff: SampleUpstream!
    private var setup: MeshTLSBootstrap!
    private var proxy: ProxyServer!

    override func setUpWithError() throws {
        app = try SampleUpstream(name: "app")
        handoff = try SampleUpstream(name: "handoff")
        setup = try MeshTLSBootstrap(appPort: app.port, handOffUpstreamPort: handoff.port)
        let configuration = try ProxyConfiguration.load(file: setup.file.path)
        proxy = try ProxyServer(configuration: configuration, concurrency: 2, log: ProxyLog(level: .warning) { FileHandle.standardError.write(Data($0.utf8)) })
        proxy.start()
    }

    override func tearDown() {
        proxy?.stop()
        app?.stop()
        handoff?.stop()
        setup?.remove()
    }

    private func accessLog() -> String { (try? String(contentsOf: setup.accessLog, encoding: .utf8)) ?? "" }

    func testMutualTLSBetweenOutboundAndInbound() throws {
        let response = try TestClient.get(port: setup.outboundPort, path: "/hello", host: "app")
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.body, "app GET /hello\n")
        let auto = try TestClient.get(port: setup.outboundPort, path: "/auto", host: "app")
        XCTAssertEqual(auto.status, 200, auto.body)
        XCTAssertTrue(eventually { accessLog().components(separatedBy: "inbound 200 - \"-\" peer=\(MeshTLSBootstrap.identity) sni=outbound_.9080_._.app.default.svc.cluster.local").count == 3 },
                      accessLog())
        XCTAssertEqual(proxy.stats.value("cluster.mtls.ssl.handshake"), 1)
        XCTAssertEqual(proxy.stats.value("cluster.auto-mtls.ssl.handshake"), 1)
        XCTAssertEqual(proxy.stats.value("listener.127.0.0.1_\(setup.inboundPort).ssl.handshake"), 2)
    }

    func testWrongSANIsATransportFailure() throws {
        let response = try TestClient.get(port: setup.outboundPort, path: "/wrong-san", host: "app")
        XCTAssertEqual(response.status, 503)
        // Envoy 1.40 names the TLS error in the access log, not in the body.
        XCTAssertEqual(response.body, "upstream connect error or disconnect/reset before headers. reset reason: remote connection failure")
        XCTAssertTrue(eventually { accessLog().contains("outbound 503 UF \"TLS_error:") }, accessLog())
        XCTAssertEqual(proxy.stats.value("cluster.mtls-wrong-san.ssl.fail_verify_san"), 1)
    }

    func testInboundAcceptsOnlyClientsWithAMeshCertificate() throws {
        let good = try setup.authority.issueWorkload(namespace: "default", serviceAccount: "reviews")
        XCTAssertTrue(try setup.inboundRequest(identity: good, roots: [setup.authority.certificate]).hasPrefix("HTTP/1.1 200 OK"))
        XCTAssertTrue(eventually { accessLog().contains("inbound 200 - \"-\" peer=spiffe://cluster.local/ns/default/sa/reviews sni=-") }, accessLog())

        // No client certificate, or one from another authority: the handshake (or the first read, in TLS 1.3) fails.
        XCTAssertFalse(((try? setup.inboundRequest(identity: nil, roots: [setup.authority.certificate])) ?? "").contains("200"))
        let stranger = try CertificateAuthority(trustDomain: "cluster.local").issueWorkload(namespace: "default", serviceAccount: "reviews")
        XCTAssertFalse(((try? setup.inboundRequest(identity: stranger, roots: [setup.authority.certificate])) ?? "").contains("200"))
        // Without Istio's ALPN no chain matches.
        XCTAssertFalse(((try? setup.inboundRequest(identity: good, roots: [setup.authority.certificate], alpn: ["http/1.1"])) ?? "").contains("200"))
        XCTAssertTrue(eventually { proxy.stats.value("listener.127.0.0.1_\(setup.inboundPort).no_filter_chain_match") == 1 })
        XCTAssertGreaterThanOrEqual(proxy.stats.value("listener.127.0.0.1_\(setup.inboundPort).ssl.connection_error"), 1)
    }

    func testPlaintextClientOfATLSOnlyListenerIsClosed() throws {
        let answer = try TestClient.exchange(port: setup.inboundPort, bytes: Array("GET / HTTP/1.1\r\nhost: app\r\n\r\n".utf8))
        XCTAssertEqual(answer, [])
        XCTAssertEqual(proxy.stats.value("listener.127.0.0.1_\(setup.inboundPort).no_filter_chain_match"), 1)
    }

    func testProxyProtocolHandsOffByOriginalDestinationOrPassesThrough() throws {
        // 127.0.0.1:HANDOFF has no listener of its own: the bind_to_port:false listener on 0.0.0.0:HANDOFF takes it.
        let handedOff = try setup.viaCapture("127.0.0.1", setup.handOffPort)
        XCTAssertTrue(handedOff.hasPrefix("HTTP/1.1 200 OK") && handedOff.hasSuffix("handoff GET /captured\n"), handedOff)
        // No listener for the app's port: virtualOutbound's own chain passes the bytes through to it.
        let passedThrough = try setup.viaCapture("127.0.0.1", app.port)
        XCTAssertTrue(passedThrough.hasPrefix("HTTP/1.1 200 OK") && passedThrough.hasSuffix("app GET /captured\n"), passedThrough)
        // Without a PROXY header the connection is refused.
        XCTAssertEqual(try TestClient.exchange(port: setup.virtualOutboundPort, bytes: Array("GET / HTTP/1.1\r\n\r\n".utf8)), [])
        XCTAssertEqual(proxy.stats.value("listener.127.0.0.1_\(setup.virtualOutboundPort).downstream_cx_proxy_proto_error"), 1)
    }
}
