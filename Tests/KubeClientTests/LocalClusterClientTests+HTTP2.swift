import Foundation
import XCTest
@testable import KubeClient
import Manifests
import MeshControlPlane

/// libcurl offers h2 in its TLS handshake (CURL_HTTP_VERSION_2TLS) and the local API server takes it.
extension LocalClusterClientTests {
    func testListGetApplyAndWatchGoOverHTTP2() throws {
        let client = try KubernetesClient(access: access())
        try client.send("POST", "/api/v1/namespaces/default/configmaps", body: configMap("a"))
        XCTAssertEqual(try client.get("/api/v1/namespaces/default/configmaps/a")["data"]?["k"]?.string, "v")
        var applied = configMap("b")
        applied["apiVersion"] = .string("v1")
        applied["kind"] = .string("ConfigMap")
        let answer = try client.send("PATCH", "/api/v1/namespaces/default/configmaps/b?fieldManager=test", body: applied,
                                     contentType: "application/apply-patch+yaml")
        XCTAssertEqual(answer["metadata"]?["name"]?.string, "b", "server-side apply created b")
        XCTAssertEqual(try client.list("/api/v1/namespaces/default/configmaps").compactMap { $0["metadata"]?["name"]?.string }, ["a", "b"])

        // A watch streams its events as they come, one DATA frame each; the client stops it after two, which resets
        // its stream, and the connection goes on serving.
        var seen: [String] = []
        try client.watch("/api/v1/namespaces/default/configmaps") { event in
            seen.append("\(event.type) \(event.object["metadata"]?["name"]?.string ?? "")")
            return seen.count < 2
        }
        XCTAssertEqual(seen, ["ADDED a", "ADDED b"])
        XCTAssertEqual(try client.get("/api/v1/namespaces/default/configmaps/b")["metadata"]?["name"]?.string, "b")

        let protocols = plane.connectionsByProtocol
        XCTAssertGreaterThanOrEqual(protocols["h2"] ?? 0, 1, "\(protocols)")
        XCTAssertEqual(protocols["http/1.1"], nil, "every request went over HTTP/2: \(protocols)")
    }
}
