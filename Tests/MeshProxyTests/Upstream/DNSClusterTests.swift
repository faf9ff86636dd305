import Foundation
@testable import MeshProxy
import MeshTestSupport
import XCTest

/// STRICT_DNS and LOGICAL_DNS clusters (a ServiceEntry with `resolution: DNS`): endpoints name hosts, looked up with
/// the system resolver when connecting; STATIC and EDS clusters keep taking only IP addresses.
final class DNSClusterTests: XCTestCase {
    private func bootstrap(type: String, host: String, upstreamPort: Int, listenerPort: Int) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("dns-\(UUID().uuidString).yaml").path
        try """
            static_resources:
              listeners:
              - name: dns_test
                address: {socket_address: {address: 127.0.0.1, port_value: \(listenerPort)}}
                filter_chains:
                - filters:
                  - name: envoy.filters.network.http_connection_manager
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                      stat_prefix: dns_test
                      route_config:
                        virtual_hosts:
                        - {name: all, domains: ["*"], routes: [{match: {prefix: /}, route: {cluster: external}}]}
                      http_filters:
                      - {name: envoy.filters.http.router, typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}}
              clusters:
              - name: external
                type: \(type)
                connect_timeout: 1s
                dns_lookup_family: V4_ONLY
                dns_refresh_rate: 5s
                load_assignment:
                  cluster_name: external
                  endpoints:
                  - lb_endpoints:
                    - endpoint: {address: {socket_address: {address: \(host), port_value: \(upstreamPort)}}}

            """.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func testDNSClustersLookUpTheirHosts() throws {
        let upstream = try SampleUpstream(name: "external")
        defer { upstream.stop() }
        for type in ["STRICT_DNS", "LOGICAL_DNS"] {
            let port = freeLocalPort()
            let configuration = try ProxyConfiguration.load(file: try bootstrap(type: type, host: "localhost", upstreamPort: upstream.port, listenerPort: port))
            XCTAssertEqual(configuration.cluster(named: "external")?.kind.rawValue, type)
            let proxy = try ProxyServer(configuration: configuration, log: ProxyLog(level: .error) { _ in })
            proxy.start()
            defer { proxy.stop() }
            let response = try TestClient.get(port: port, path: "/dns", host: "external.example")
            XCTAssertEqual(response.status, 200, "\(type): \(response.body)")
            XCTAssertEqual(response.header("x-upstream"), "external")
        }
    }

    func testAnUnknownHostIsAConnectFailure() throws {
        let port = freeLocalPort()
        let configuration = try ProxyConfiguration.load(file: try bootstrap(type: "STRICT_DNS", host: "no-such-host.invalid", upstreamPort: 80, listenerPort: port))
        let proxy = try ProxyServer(configuration: configuration, log: ProxyLog(level: .error) { _ in })
        proxy.start()
        defer { proxy.stop() }
        let response = try TestClient.get(port: port, path: "/", host: "external.example")
        XCTAssertEqual(response.status, 503)
    }

    func testStaticClustersRefuseHostNames() throws {
        let path = try bootstrap(type: "STATIC", host: "localhost", upstreamPort: 80, listenerPort: 1)
        XCTAssertThrowsError(try ProxyConfiguration.load(file: path)) { error in
            XCTAssertTrue("\(error)".contains("use type STRICT_DNS or LOGICAL_DNS"), "\(error)")
        }
    }
}
