import Foundation
@testable import MeshProxy
import MeshTestSupport
import XCTest

/// A cluster's `common_http_protocol_options`: `idle_timeout` closes a pooled connection nobody uses, and
/// `max_connection_duration` closes one that has lived that long; the next request opens a new one.
final class ConnectionLifetimeTests: XCTestCase {
    private func run(options: String, stat: String) throws {
        let upstream = try SampleUpstream(name: "app")
        defer { upstream.stop() }
        let (proxy, port) = try OneRouteProxy.start(cluster: """
            type: STATIC
            typed_extension_protocol_options: {envoy.extensions.upstreams.http.v3.HttpProtocolOptions: {"@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions, common_http_protocol_options: \(options), explicit_http_config: {http_protocol_options: {}}}}
            load_assignment: {cluster_name: c, endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: \(upstream.port)}}}}]}]}
            """)
        defer { proxy.stop() }
        XCTAssertEqual(try TestClient.get(port: port, path: "/one", host: "app").status, 200)
        XCTAssertTrue(eventually { proxy.stats.value("cluster.c.\(stat)") == 1 }, "\(stat) never counted")
        XCTAssertTrue(eventually { proxy.stats.value("cluster.c.upstream_cx_active") == 0 }, "the idle connection stayed open")
        XCTAssertEqual(try TestClient.get(port: port, path: "/two", host: "app").status, 200)
        XCTAssertEqual(proxy.stats.value("cluster.c.upstream_cx_total"), 2, "the second request needed a new connection")
    }

    func testIdleConnectionsCloseAtTheClustersIdleTimeout() throws {
        try run(options: "{idle_timeout: 0.2s}", stat: "upstream_cx_idle_timeout")
    }

    func testConnectionsCloseAtTheirMaximumDuration() throws {
        try run(options: "{max_connection_duration: 0.2s}", stat: "upstream_cx_max_duration_reached")
    }
}
