import MeshPilot
import XCTest

final class ProxyNodeTests: XCTestCase {
    func testReadsIstioNodeIDs() throws {
        let node = try XCTUnwrap(ProxyNode(id: "sidecar~10.244.0.7~productpage-v1-7d4cbb7f94-x2k4n.default~default.svc.cluster.local"))
        XCTAssertEqual(node.kind, .sidecar)
        XCTAssertEqual(node.ip, "10.244.0.7")
        XCTAssertEqual(node.podName, "productpage-v1-7d4cbb7f94-x2k4n")
        XCTAssertEqual(node.namespace, "default")
        XCTAssertEqual(node.proxyID, "productpage-v1-7d4cbb7f94-x2k4n.default")
        XCTAssertEqual(node.id, "sidecar~10.244.0.7~productpage-v1-7d4cbb7f94-x2k4n.default~default.svc.cluster.local")
    }

    func testRefusesOtherIDs() {
        XCTAssertNil(ProxyNode(id: "envoy-test"))
        XCTAssertNil(ProxyNode(id: "waypoint~1.2.3.4~a.b~b.svc.cluster.local"))
        XCTAssertNil(ProxyNode(id: "sidecar~~a.b~b.svc.cluster.local"))
        XCTAssertNil(ProxyNode(id: "sidecar~1.2.3.4~nodot~b.svc.cluster.local"))
    }
}
