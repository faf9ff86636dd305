import ConfigValues
@testable import MeshPilot
import XCTest

/// The sidecar's HTTP proxy port (mesh config `proxyHttpPort`): a listener that takes absolute-form requests and
/// the `http_proxy` route configuration naming every HTTP service port with its port.
final class HTTPProxyListenerTests: XCTestCase {
    func testNoListenerWithoutProxyHTTPPort() throws {
        let out = Pilot(authority: nil).resources(for: PilotFixtures.productpage, in: try PilotFixtures.snapshot(fixture: "bookinfo.yaml"))
        XCTAssertFalse(out.listeners.names.contains { $0.hasPrefix("127.0.0.1_") })
        XCTAssertNil(out.routes.named("http_proxy"))
    }

    func testTheListenerTakesAbsoluteURLsAndRoutesByHostAndPort() throws {
        let extra = """
        apiVersion: v1
        kind: Service
        metadata: {name: multi, namespace: default}
        spec:
          clusterIP: 127.96.0.50
          selector: {app: multi}
          ports: [{name: http, port: 80, targetPort: 8080}, {name: http-admin, port: 9000}]
        """
        let snapshot = try PilotFixtures.snapshot(fixture: "bookinfo.yaml", adding: extra, meshConfig: .object([("proxyHttpPort", .int(15080))]))
        let out = Pilot(authority: nil).resources(for: PilotFixtures.productpage, in: snapshot)
        let listener = try XCTUnwrap(out.listeners.named("127.0.0.1_15080"))
        XCTAssertEqual(listener[path: "address", "socket_address", "address"], .string(PilotFixtures.productpage.ip), "bound to the pod IP in local mode")
        XCTAssertEqual(listener[path: "address", "socket_address", "port_value"], .int(15080))
        XCTAssertNil(listener["bind_to_port"])
        let manager = try XCTUnwrap(listener[path: "filter_chains", 0, "filters", 0, "typed_config"])
        XCTAssertEqual(manager[path: "http_protocol_options", "allow_absolute_url"], .bool(true))
        XCTAssertEqual(manager[path: "rds", "route_config_name"], .string("http_proxy"))
        let routes = try XCTUnwrap(out.routes.named("http_proxy"))
        XCTAssertEqual(routes["ignore_port_in_host_matching"], .bool(false))
        let hosts = try XCTUnwrap(routes["virtual_hosts"]?.array)
        let multi80 = try XCTUnwrap(hosts.named("multi.default.svc.cluster.local:80"))
        let multi9000 = try XCTUnwrap(hosts.named("multi.default.svc.cluster.local:9000"))
        let domains80 = multi80["domains"]?.array?.compactMap(\.string) ?? []
        let domains9000 = multi9000["domains"]?.array?.compactMap(\.string) ?? []
        // Port 80 takes the bare names too; other ports only `name:port`.
        XCTAssertTrue(domains80.contains("multi") && domains80.contains("multi:80") && domains80.contains("127.96.0.50"), "\(domains80)")
        XCTAssertTrue(domains9000.contains("multi:9000") && domains9000.contains("multi.default.svc.cluster.local:9000"), "\(domains9000)")
        XCTAssertFalse(domains9000.contains("multi"), "\(domains9000)")
        XCTAssertEqual(multi9000[path: "routes", 0, "route", "cluster"], .string("outbound|9000||multi.default.svc.cluster.local"))
        // VirtualServices apply as on the port's own route configuration (the fixture's reviews rule starts with a fault).
        let reviews = try XCTUnwrap(hosts.named("reviews.default.svc.cluster.local:9080"))
        XCTAssertEqual(reviews[path: "routes", 0, "name"], .string("fault-abort"))
        XCTAssertEqual(hosts.last?["name"], .string("allow_any"))
        // Every domain appears once in the configuration (Envoy refuses duplicates).
        let all = hosts.flatMap { $0["domains"]?.array?.compactMap(\.string) ?? [] }
        XCTAssertEqual(all.count, Set(all).count)
    }

    func testRoutersGetNoHTTPProxyListener() throws {
        let snapshot = try PilotFixtures.snapshot(fixture: "bookinfo.yaml", adding: GatewayConfigTests.ingress, meshConfig: .object([("proxyHttpPort", .int(15080))]))
        let out = Pilot(authority: nil).resources(for: GatewayConfigTests.node, in: snapshot)
        XCTAssertNil(out.listeners.named("127.0.0.1_15080"))
    }
}
