import Foundation
@testable import MeshProxy
import MeshTestSupport
import XCTest

/// STRICT_DNS and LOGICAL_DNS clusters (a ServiceEntry with `resolution: DNS`): endpoints name hosts, looked up with
/// the system resolver when connecting; STATIC and EDS clusters keep taking only IP addresses.
final class DNSClusterTests: XCTestCase {
    private func cluster(type: String, host: String, port: Int) -> String {
        """
        type: \(type)
        connect_timeout: 1s
        dns_lookup_family: V4_ONLY
        dns_refresh_rate: 5s
        load_assignment: {cluster_name: c, endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: \(host), port_value: \(port)}}}}]}]}
        """
    }

    func testDNSClustersLookUpTheirHosts() throws {
        let upstream = try SampleUpstream(name: "external")
        defer { upstream.stop() }
        for type in ["STRICT_DNS", "LOGICAL_DNS"] {
            let (proxy, port) = try OneRouteProxy.start(cluster: cluster(type: type, host: "localhost", port: upstream.port))
            defer { proxy.stop() }
            XCTAssertEqual(proxy.store.current.cluster(named: "c")?.kind.rawValue, type)
            let response = try TestClient.get(port: port, path: "/dns", host: "external.example")
            XCTAssertEqual(response.status, 200, "\(type): \(response.body)")
            XCTAssertEqual(response.header("x-upstream"), "external")
        }
    }

    func testAnUnknownHostIsAConnectFailure() throws {
        let (proxy, port) = try OneRouteProxy.start(cluster: cluster(type: "STRICT_DNS", host: "no-such-host.invalid", port: 80))
        defer { proxy.stop() }
        let response = try TestClient.get(port: port, path: "/", host: "external.example")
        XCTAssertEqual(response.status, 503)
    }

    func testStaticClustersRefuseHostNames() throws {
        XCTAssertThrowsError(try OneRouteProxy.load(cluster: cluster(type: "STATIC", host: "localhost", port: 80))) { error in
            XCTAssertTrue("\(error)".contains("use type STRICT_DNS or LOGICAL_DNS"), "\(error)")
        }
    }
}
