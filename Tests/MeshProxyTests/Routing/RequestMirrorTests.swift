import Foundation
@testable import MeshProxy
import MeshNet
import MeshTestSupport
import XCTest

/// `request_mirror_policies`: a copy of each request to a shadow cluster, its Host with `-shadow`, its answer
/// ignored; checked on real sockets and against Envoy 1.40.
final class RequestMirrorTests: XCTestCase {
    /// What the shadow upstream saw of one request.
    private struct Shadow: Equatable {
        var method: String
        var target: String
        var host: String?
        var body: String
        /// Headers the router sets, as seen by the shadow.
        var routerHeaders: [String?]
    }

    private static let statNames = ["upstream_rq_total", "upstream_rq_completed", "upstream_rq_200", "upstream_rq_503", "upstream_rq_timeout"]
        .flatMap { ["cluster.shadow.\($0)", "cluster.app.\($0)"] }

    private func bootstrap(directory: URL, app: Int, shadow: Int) -> PolicyBootstrap {
        var bootstrap = PolicyBootstrap(directory: directory, upstreamPort: app)
        bootstrap.routes = [
            "{name: never, match: {prefix: /never}, route: {cluster: app, request_mirror_policies: [{cluster: shadow, runtime_fraction: {default_value: {numerator: 0}}}]}}",
            "{name: kept, match: {prefix: /kept}, route: {cluster: app, request_mirror_policies: [{cluster: shadow, disable_shadow_host_suffix_append: true}]}}",
            "{name: byheader, match: {prefix: /byheader}, route: {cluster: app, request_mirror_policies: [{cluster_header: X-Shadow-Cluster}]}}",
            "{name: all, match: {prefix: /}, route: {cluster: app, timeout: 3s, request_mirror_policies: [{cluster: shadow, runtime_fraction: {default_value: {numerator: 100, denominator: HUNDRED}, runtime_key: mirror}, trace_sampled: false}]}}",
        ]
        bootstrap.extraClusters = [PolicyBootstrap.cluster(name: "shadow", port: shadow)]
        return bootstrap
    }

    private static let requests: [(method: String, path: String, host: String, body: String, shadowHeader: String?)] = [
        ("GET", "/a?x=1", "reviews.shop:9080", "", nil), ("POST", "/b", "reviews", "hello shadow", nil), ("GET", "/never", "reviews", "", nil),
        ("GET", "/kept", "reviews:9080", "", nil), ("GET", "/status/503", "reviews", "", nil),
        ("GET", "/byheader/named", "reviews", "", "shadow"), ("GET", "/byheader/absent", "reviews", "", nil), ("GET", "/byheader/unknown", "reviews", "", "nosuch"),
    ]
    /// Requests the shadow gets: all but /never and the two by-header ones that name no cluster.
    private static let mirrored = requests.count - 3

    /// Sends the requests; returns the main answers and, once it has them all, what the shadow saw.
    private func run(port: Int, shadow: SampleUpstream) throws -> (answers: [String], shadows: [Shadow]) {
        let answers = try Self.requests.map { request in
            let response = try TestClient.get(port: port, path: request.path, host: request.host,
                                              headers: [("x-request-id", "id-\(request.path)")] + (request.shadowHeader.map { [("x-shadow-cluster", $0)] } ?? []),
                                              method: request.method, body: request.body)
            return "\(response.status) \(response.body)"
        }
        XCTAssertTrue(eventually { shadow.received.count >= Self.mirrored }, "the shadow saw \(shadow.received.count) requests")
        let shadows = shadow.received.map { request in
            Shadow(method: request.method, target: request.target, host: request.headers.first { $0.name.lowercased() == "host" }?.value,
                   body: String(decoding: request.body, as: UTF8.self),
                   routerHeaders: ["x-request-id", "x-forwarded-proto", "x-envoy-expected-rq-timeout-ms"].map { name in
                       request.headers.first { $0.name.lowercased() == name }?.value
                   })
        }.sorted { $0.target < $1.target }
        return (answers, shadows)
    }

    func testMirrorSendsCopiesToTheShadowWithoutWaitingForIt() throws {
        let app = try SampleUpstream(name: "app"), shadow = try SampleUpstream(name: "shadow")
        shadow.delay = 2
        defer { app.stop(); shadow.stop() }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("meshproxy-mirror-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let bootstrap = bootstrap(directory: directory, app: app.port, shadow: shadow.port)
        let proxy = try ProxyServer(configuration: try ProxyConfiguration.load(file: try bootstrap.write()), concurrency: 1,
                                    log: ProxyLog(level: .error) { FileHandle.standardError.write(Data($0.utf8)) })
        proxy.start()
        defer { proxy.stop() }

        let response = try TestClient.get(port: bootstrap.httpPort, path: "/first", host: "reviews:9080", method: "POST", body: "copy me")
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.body, "app POST /first\n")
        XCTAssertLessThan(response.duration, 1.5, "the main answer waited for the shadow, which answers after 2 s")
        XCTAssertTrue(eventually { shadow.received.count == 1 })
        let copy = try XCTUnwrap(shadow.received.first)
        XCTAssertEqual(copy.headers.first { $0.name == "host" }?.value, "reviews-shadow:9080")
        XCTAssertEqual(String(decoding: copy.body, as: UTF8.self), "copy me")
        XCTAssertTrue(eventually { proxy.stats.value("cluster.shadow.upstream_rq_200") == 1 }, "the shadow's answer is counted on its cluster")
        XCTAssertEqual(proxy.stats.value("cluster.app.upstream_rq_total"), 1)
        // The answer's status is counted when its head arrives, the request stops being active when it ends: a moment later.
        XCTAssertTrue(eventually { proxy.stats.value("cluster.shadow.upstream_rq_active") == 0 }, "the shadow's request still active")
    }

    func testShadowHostKeepsThePortLast() {
        XCTAssertEqual(RequestMirror.shadowHost("reviews"), "reviews-shadow")
        XCTAssertEqual(RequestMirror.shadowHost("reviews.shop.svc:9080"), "reviews.shop.svc-shadow:9080")
        XCTAssertEqual(RequestMirror.shadowHost("[::1]:80"), "[::1]-shadow:80")
    }

    func testAMirrorNeedsOneClusterOrClusterHeader() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("meshproxy-mirror-bad-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        for (policy, expected) in [("{cluster: shadow, cluster_header: x-shadow}", "needs exactly one of cluster"), ("{}", "needs exactly one of cluster"),
                                   ("{cluster_header: \"bad header\"}", "is not a valid header name")] {
            var bootstrap = PolicyBootstrap(directory: directory, upstreamPort: 1)
            bootstrap.routes = ["{match: {prefix: /}, route: {cluster: app, request_mirror_policies: [\(policy)]}}"]
            XCTAssertThrowsError(try ProxyConfiguration.load(file: try bootstrap.write())) { error in
                guard let error = error as? ProxyConfigError else { return XCTFail("\(error)") }
                XCTAssertTrue(error.path.contains("routes[0].route.request_mirror_policies[0]"), error.path)
                XCTAssertTrue(error.problem.contains(expected), "\(policy): \(error.problem)")
            }
        }
    }

    func testMeshctlProxyMirrorsAsEnvoyDoes() throws {
        let app = try SampleUpstream(name: "app"), envoyShadow = try SampleUpstream(name: "shadow"), proxyShadow = try SampleUpstream(name: "shadow")
        defer { [app, envoyShadow, proxyShadow].forEach { $0.stop() } }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("meshproxy-mirror-diff-\(UUID().uuidString)")
        for side in ["envoy", "meshctl"] {
            try FileManager.default.createDirectory(at: directory.appendingPathComponent(side), withIntermediateDirectories: true)
        }
        defer { try? FileManager.default.removeItem(at: directory) }

        let envoyBootstrap = bootstrap(directory: directory.appendingPathComponent("envoy"), app: app.port, shadow: envoyShadow.port)
        let envoy = try RunningEnvoy(bootstrap: try envoyBootstrap.write(), adminPort: envoyBootstrap.adminPort, test: "the request mirror differential test")
        let envoyRun = try run(port: envoyBootstrap.httpPort, shadow: envoyShadow)
        var envoyStats: [String: Int] = [:]
        XCTAssertTrue(eventually { envoyStats = (try? envoy.stats(Self.statNames)) ?? [:]; return envoyStats["cluster.shadow.upstream_rq_completed"] == Self.mirrored })
        envoy.stop()

        let proxyBootstrap = bootstrap(directory: directory.appendingPathComponent("meshctl"), app: app.port, shadow: proxyShadow.port)
        let proxy = try ProxyServer(configuration: try ProxyConfiguration.load(file: try proxyBootstrap.write()), concurrency: 1,
                                    log: ProxyLog(level: .error) { FileHandle.standardError.write(Data($0.utf8)) })
        proxy.start()
        defer { proxy.stop() }
        let proxyRun = try run(port: proxyBootstrap.httpPort, shadow: proxyShadow)
        XCTAssertTrue(eventually { proxy.stats.value("cluster.shadow.upstream_rq_completed") == Self.mirrored })
        let proxyStats = Dictionary(uniqueKeysWithValues: Self.statNames.map { ($0, proxy.stats.value($0)) })

        XCTAssertEqual(proxyRun.answers, envoyRun.answers, "main answers")
        XCTAssertEqual(proxyRun.shadows, envoyRun.shadows, "what the shadow cluster saw")
        XCTAssertEqual(proxyStats.filter { $0.value > 0 }, envoyStats.filter { $0.value > 0 }, "the clusters' stats")
        print("envoy mirror differential: \(Self.requests.count) requests, \(proxyRun.shadows.count) shadows, compared with Envoy 1.40")
    }
}
