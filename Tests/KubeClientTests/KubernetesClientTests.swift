import XCTest
@testable import KubeClient
import Manifests

/// A transport that answers only the requests a test scripted, in order, and fails the test on any other.
final class ScriptedTransport: HTTPTransport {
    var script: [(method: String, path: String, response: HTTPClientResponse)]
    var seen: [HTTPClientRequest] = []
    init(_ script: [(String, String, HTTPClientResponse)]) { self.script = script.map { ($0.0, $0.1, $0.2) } }

    func perform(_ request: HTTPClientRequest) throws -> HTTPClientResponse {
        seen.append(request)
        guard let next = script.first else {
            XCTFail("unexpected request \(request.method) \(request.url)")
            throw TransportError(request: "\(request.method) \(request.url)", reason: "not in the script")
        }
        guard request.method == next.method, request.url.hasSuffix(next.path) else {
            XCTFail("expected \(next.method) \(next.path), got \(request.method) \(request.url)")
            throw TransportError(request: "\(request.method) \(request.url)", reason: "out of order")
        }
        script.removeFirst()
        return next.response
    }
}

final class KubernetesClientTests: XCTestCase {
    private let access = ClusterAccess(contextName: "test", server: "https://k8s.example:6443", namespace: "default", certificateAuthority: nil,
                                       insecureSkipTLSVerify: false, tlsServerName: nil, proxyURL: nil, credentials: .token("secret-token"), source: "test")

    private func json(_ status: Int, _ text: String, headers: [(String, String)] = []) -> HTTPClientResponse {
        HTTPClientResponse(status: status, headers: headers.map { (name: $0.0, value: $0.1) }, body: Array(text.utf8))
    }

    func testPagesStatusErrorsAndRetries() throws {
        let transport = ScriptedTransport([
            ("GET", "/api/v1/pods?limit=2", json(200, #"{"items":[{"a":1},{"a":2}],"metadata":{"continue":"next/token"}}"#)),
            ("GET", "/api/v1/pods?limit=2&continue=next%2Ftoken", json(200, #"{"items":[{"a":3}],"metadata":{}}"#)),
            ("GET", "/api/v1/namespaces/x", json(429, "", headers: [("Retry-After", "0")])),
            ("GET", "/api/v1/namespaces/x", json(404, #"{"kind":"Status","reason":"NotFound","message":"namespaces \"x\" not found","code":404}"#)),
        ])
        var lines: [String] = []
        let client = KubernetesClient(access: access, transport: transport, verbosity: 8) { lines.append($0) }
        XCTAssertEqual(try client.list("/api/v1/pods", limit: 2).count, 3)
        XCTAssertThrowsError(try client.get("/api/v1/namespaces/x")) { error in
            XCTAssertEqual("\(error)", "Error from server (NotFound): namespaces \"x\" not found")
        }
        XCTAssertTrue(transport.script.isEmpty)
        XCTAssertEqual(transport.seen.first?.headers.first { $0.name == "Authorization" }?.value, "Bearer secret-token")
        XCTAssertFalse(lines.joined().contains("secret-token"), "-v 8 never shows the token")
        XCTAssertTrue(lines.contains { $0.hasPrefix("GET https://k8s.example:6443/api/v1/pods?limit=2 200 in ") }, "\(lines)")
    }

    func testDiscoveryLocatesKindsOnce() throws {
        let api = #"{"kind":"APIGroupDiscoveryList","items":[{"metadata":{},"versions":[{"version":"v1","resources":[{"resource":"pods","responseKind":{"kind":"Pod"},"scope":"Namespaced"},{"resource":"namespaces","responseKind":{"kind":"Namespace"},"scope":"Cluster"}]}]}]}"#
        let apis = #"{"kind":"APIGroupDiscoveryList","items":[{"metadata":{"name":"networking.istio.io"},"versions":[{"version":"v1","resources":[{"resource":"virtualservices","responseKind":{"kind":"VirtualService"},"scope":"Namespaced"}]}]}]}"#
        let transport = ScriptedTransport([("GET", "/api", json(200, api)), ("GET", "/apis", json(200, apis))])
        let client = KubernetesClient(access: access, transport: transport)
        let vs = try XCTUnwrap(try client.locate(apiVersion: "networking.istio.io/v1", kind: "VirtualService"))
        XCTAssertEqual(vs.collection(namespace: "shop"), "/apis/networking.istio.io/v1/namespaces/shop/virtualservices")
        XCTAssertEqual(vs.displayKind, "virtualservice.networking.istio.io")
        XCTAssertEqual(try client.locate(apiVersion: "v1", kind: "Namespace")?.collection(namespace: "x"), "/api/v1/namespaces")
        XCTAssertNil(try client.locate(apiVersion: "v1", kind: "Nope"), "asked of the cached discovery, no new request")
    }
}
