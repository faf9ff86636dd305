import MeshNet
import MeshTLS
@testable import MeshProxy
import XCTest

/// The PROXY protocol reader and the TLS and HTTP inspectors on bytes (a real ClientHello from MeshNet's engine).
final class ListenerFiltersTests: XCTestCase {
    func testProxyProtocolV1() {
        let line = Array("PROXY TCP4 127.10.0.9 127.96.0.12 40000 9080\r\nGET / HTTP/1.1\r\n".utf8)
        XCTAssertEqual(ProxyProtocolHeader.parse(line), .addresses(source: "127.10.0.9:40000", destination: "127.96.0.12:9080", length: 46))
        XCTAssertEqual(ProxyProtocolHeader.parse(Array("PROXY TCP4 127.10".utf8)), .needMore)
        XCTAssertEqual(ProxyProtocolHeader.parse(Array("PROXY UNKNOWN\r\n".utf8)), .local(length: 15))
        XCTAssertEqual(ProxyProtocolHeader.parse(Array("PROXY TCP6 ::1 ::2 1 2\r\n".utf8)), .addresses(source: "[::1]:1", destination: "[::2]:2", length: 24))
        guard case .invalid = ProxyProtocolHeader.parse(Array("GET / HTTP/1.1\r\n".utf8)) else { return XCTFail("plain HTTP is not a PROXY header") }
        guard case .invalid = ProxyProtocolHeader.parse(Array("PROXY TCP4 nope 1.2.3.4 1 2\r\n".utf8)) else { return XCTFail("bad address") }
    }

    func testProxyProtocolV2() {
        var header = ProxyProtocolHeader.v2Signature + [0x21, 0x11, 0, 12]
        header += [127, 10, 0, 9, 127, 96, 0, 12, 0x9C, 0x40, 0x23, 0x78]
        XCTAssertEqual(ProxyProtocolHeader.parse(header + [1, 2, 3]), .addresses(source: "127.10.0.9:40000", destination: "127.96.0.12:9080", length: 28))
        XCTAssertEqual(ProxyProtocolHeader.parse(Array(header.prefix(20))), .needMore)
        XCTAssertEqual(ProxyProtocolHeader.parse(ProxyProtocolHeader.v2Signature + [0x20, 0x00, 0, 0]), .local(length: 16))
    }

    func testClientHelloGivesServerNameAndALPN() throws {
        let authority = try CertificateAuthority()
        var settings = TLSClientConfiguration(trusting: [authority.certificate])
        settings.applicationProtocols = ["istio-peer-exchange", "istio", "h2"]
        let engine = try TLSEngine(client: try TLSClientContext(settings), serverName: "outbound_.9080_._.reviews.default.svc.cluster.local")
        _ = try? engine.handshake()
        var hello = ByteBuffer()
        engine.takeOutput(appendingTo: &hello)
        let bytes = hello.readableArray
        XCTAssertEqual(ClientHelloInspection.inspect(bytes),
                       .hello(serverName: "outbound_.9080_._.reviews.default.svc.cluster.local", applicationProtocols: ["istio-peer-exchange", "istio", "h2"]))
        XCTAssertEqual(ClientHelloInspection.inspect(Array(bytes.prefix(40))), .needMore)
        XCTAssertEqual(ClientHelloInspection.inspect(Array("GET / HTTP/1.1\r\n".utf8)), .notTLS)
    }

    func testHTTPInspector() {
        XCTAssertEqual(HTTPInspection.inspect(Array("GET /x HTTP/1.1\r\nhost: a\r\n".utf8)), .detected("http/1.1"))
        XCTAssertEqual(HTTPInspection.inspect(Array("POST / HTTP/1.0\r\n".utf8)), .detected("http/1.0"))
        XCTAssertEqual(HTTPInspection.inspect(HTTPInspection.h2Preface), .detected("h2c"))
        XCTAssertEqual(HTTPInspection.inspect(Array("PRI * HTTP".utf8)), .needMore)
        XCTAssertEqual(HTTPInspection.inspect(Array("GET /long".utf8)), .needMore)
        XCTAssertEqual(HTTPInspection.inspect([0x00, 0x01, 0x02]), .unknown)
        XCTAssertEqual(HTTPInspection.inspect(Array("SSH-2.0-OpenSSH\r\n".utf8)), .unknown)
    }
}
