import EnvoyConfig
import Foundation
@testable import MeshProxy
import MeshTestSupport
import XCTest

/// The sample bootstrap run by meshctl's proxy against local upstreams, with the answers Envoy gave in
/// ../shared/conformance/envoy-admin (requests.tsv, responses/, access.log).
final class ProxyServerTests: XCTestCase {
    struct Running {
        let sample: EnvoyAdminSample
        let proxy: ProxyServer
        let upstreams: [SampleUpstream]
        let ports: [Int: Int]
        func stop() {
            proxy.stop()
            upstreams.forEach { $0.stop() }
            sample.remove()
        }
    }

    static func start() throws -> Running {
        let productpage = try SampleUpstream(name: "productpage"), v1 = try SampleUpstream(name: "reviews-v1"), v2 = try SampleUpstream(name: "reviews-v2")
        var ports = [19080: productpage.port, 19081: v1.port, 19082: v2.port]
        for port in [15000, 15006, 9080, 15090, 19089, 15020] { ports[port] = EnvoyAdminSample.freePort() }
        let sample = try EnvoyAdminSample(ports: ports)
        try sample.writeFreshCertificates()
        let configuration = try ProxyConfiguration.load(file: sample.bootstrap.path)
        let proxy = try ProxyServer(configuration: configuration, concurrency: 2, log: ProxyLog(level: .warning) { FileHandle.standardError.write(Data($0.utf8)) })
        proxy.start()
        return Running(sample: sample, proxy: proxy, upstreams: [productpage, v1, v2], ports: ports)
    }

    func testSamplePhasesAnswerAsEnvoyDid() throws {
        let running = try Self.start()
        defer { running.stop() }
        let results = try SamplePhases(outboundPort: running.ports[9080]!, inboundPort: running.ports[15006]!).run()
        let byPhase = Dictionary(results.map { ($0.phase, $0) }, uniquingKeysWith: { first, _ in first })
        func statuses(_ phase: String) -> [Int] { byPhase[phase]?.statuses ?? [] }
        func first(_ phase: String) throws -> TestResponse { try XCTUnwrap(byPhase[phase]?.first, phase) }

        let ok = try first("ok-weighted")
        XCTAssertEqual(ok.status, 200)
        XCTAssertEqual(ok.header("server"), "istio-envoy")
        XCTAssertNotNil(ok.header("x-envoy-upstream-service-time").flatMap(Int.init))
        XCTAssertTrue(ok.body.hasPrefix("reviews-v") && ok.body.hasSuffix(" GET /\n"), ok.body)
        XCTAssertEqual(Set(statuses("weighted-90-10")), [200])
        XCTAssertEqual(statuses("post-weighted"), [200, 200])
        XCTAssertEqual(try first("jason-v2").header("x-upstream"), "reviews-v2")
        XCTAssertEqual(statuses("fault-abort"), [500, 500, 500])
        XCTAssertEqual(try first("fault-abort").body, "fault filter abort")
        XCTAssertEqual(try first("fault-abort").header("content-type"), "text/plain")
        XCTAssertEqual(statuses("fault-delay"), [200, 200])
        XCTAssertGreaterThanOrEqual(try first("fault-delay").duration, 0.2)
        XCTAssertEqual(try first("timeout").status, 504)
        XCTAssertEqual(try first("timeout").body, "upstream request timeout")
        XCTAssertEqual(try first("upstream-503").status, 503)
        // The default route splits 90/10 between v1 and v2, so either may answer.
        let upstream503 = try first("upstream-503").body
        XCTAssertTrue(upstream503.hasPrefix("reviews-v") && upstream503.hasSuffix(" GET /status/503\n"), upstream503)
        XCTAssertEqual(try first("retry-503").status, 503)
        XCTAssertEqual(running.upstreams[1].requests.filter { $0 == "/retry/status/503" }.count, 3, "one try and two retries")
        XCTAssertEqual(try first("dead-noretry").body, "upstream connect error or disconnect/reset before headers. reset reason: remote connection failure")
        XCTAssertEqual(try first("dead-retry").body,
                       "upstream connect error or disconnect/reset before headers. retried and the latest reset reason: remote connection failure")
        XCTAssertEqual(statuses("dead-retry"), [503, 503, 503, 503, 503])
        XCTAssertEqual(try first("dead-after-ejection").body, "no healthy upstream")
        XCTAssertTrue(statuses("circuit-breaker").contains(200), "\(statuses("circuit-breaker"))")
        XCTAssertTrue(statuses("circuit-breaker").contains(503), "\(statuses("circuit-breaker"))")
        XCTAssertEqual(statuses("circuit-breaker").filter { $0 != 200 && $0 != 503 }, [])
        let overflow = try first("circuit-breaker")
        XCTAssertEqual(overflow.header("x-envoy-overloaded"), "true")
        XCTAssertEqual(overflow.body, "upstream connect error or disconnect/reset before headers. reset reason: overflow")
        XCTAssertEqual(statuses("blackhole"), [503, 503])
        XCTAssertEqual(try first("blackhole").body, "no healthy upstream")
        XCTAssertEqual(statuses("no-route"), [404, 404])
        XCTAssertEqual(try first("no-route").body, "")
        XCTAssertEqual(try first("no-route").header("content-length"), "0")
        // Out over ISTIO_MUTUAL (SNI, Istio's ALPNs, the SAN checked) into the proxy's own virtualInbound, and on to the app.
        XCTAssertEqual(statuses("ratings-mtls"), [200, 200, 200])
        XCTAssertEqual(try first("ratings-mtls").body, "productpage GET /ratings/0\n")
        XCTAssertEqual(try first("inbound-plaintext").body, "productpage GET /productpage\n")
        XCTAssertEqual(statuses("tcp-catchall"), [0], "the catch-all closes without an answer")

        // The access log: Istio's format with Envoy's flags and details.
        var text = ""
        XCTAssertTrue(eventually { text = (try? String(contentsOf: running.sample.accessLog, encoding: .utf8)) ?? ""; return text.contains("\"- - -\"") })
        let flags = SamplePhases.flags(inAccessLog: text)
        if ProcessInfo.processInfo.environment["MESHPROXY_SHOW_LOG"] != nil { print(text) }
        XCTAssertEqual(Set(flags["fault-abort"] ?? []), ["FI fault_filter_abort"])
        XCTAssertEqual(Set(flags["fault-delay"] ?? []), ["DI via_upstream"])
        XCTAssertEqual(Set(flags["timeout"] ?? []), ["UT response_timeout"])
        XCTAssertEqual(Set(flags["retry-503"] ?? []), ["URX via_upstream"])
        XCTAssertEqual(flags["dead-noretry"], ["UF upstream_reset_before_response_started{remote_connection_failure|delayed_connect_error:_Connection_refused}"])
        XCTAssertEqual(flags["dead-retry"]?.first, "URX,UF upstream_reset_before_response_started{remote_connection_failure|delayed_connect_error:_Connection_refused}")
        XCTAssertEqual(Array(flags["dead-retry"]?.dropFirst() ?? []), Array(repeating: "UH no_healthy_upstream", count: 4))
        XCTAssertEqual(flags["dead-after-ejection"], ["UH no_healthy_upstream"])
        XCTAssertTrue(flags["circuit-breaker"]?.contains("UO upstream_reset_before_response_started{overflow}") ?? false)
        XCTAssertEqual(Set(flags["no-route"] ?? []), ["NR route_not_found"])
        XCTAssertEqual(Set(flags["blackhole"] ?? []), ["UH no_healthy_upstream"])
        XCTAssertEqual(flags["tcp-catchall"], ["UH -"])
        XCTAssertEqual(Set(flags["ratings-mtls"] ?? []), ["- via_upstream"])
        let inboundHop = try XCTUnwrap(text.split(separator: "\n").first { $0.contains("meshctl-sample/ratings-mtls") && $0.contains(" inbound|9080|| ") })
        XCTAssertTrue(inboundHop.hasSuffix(" outbound_.9080_._.ratings.default.svc.cluster.local default"), "the inbound hop logs the SNI it was asked for: \(inboundHop)")
        let line = try XCTUnwrap(text.split(separator: "\n").first { $0.contains("meshctl-sample/dead-noretry") })
        XCTAssertTrue(line.contains("\"GET /noretry/v3 HTTP/1.1\" 503 UF "), String(line))
        XCTAssertTrue(line.contains(" - \"delayed_connect_error:_Connection_refused\" 0 98 "), String(line))
        XCTAssertTrue(line.hasSuffix(" - v3-noretry"), String(line))
        XCTAssertTrue(line.contains("\"127.0.0.1:\(running.ports[19089]!)\" outbound|9080|v3|reviews.default.svc.cluster.local "), String(line))
    }

    func testAdminAnswersInEnvoysShapesThatProxyConfigReads() throws {
        let running = try Self.start()
        defer { running.stop() }
        let admin = try XCTUnwrap(running.proxy.adminPort)
        XCTAssertEqual(try TestClient.get(port: running.ports[9080]!, path: "/noretry/v3", host: SamplePhases.reviews).status, 503)
        let ready = try TestClient.get(port: admin, path: "/ready", host: "admin")
        XCTAssertEqual(ready.body, "LIVE\n")
        let dump = try TestClient.get(port: admin, path: "/config_dump", host: "admin")
        XCTAssertEqual(dump.header("content-type"), "application/json")
        let parsed = try ConfigDump(text: dump.body, source: "admin")
        XCTAssertEqual(parsed.configs.count, 6)
        XCTAssertTrue(dump.body.contains("\"dynamic_route_configs\""))
        XCTAssertFalse(dump.body.contains("BEGIN CERTIFICATE"), "no secret material")
        let eds = try TestClient.get(port: admin, path: "/config_dump?include_eds", host: "admin")
        XCTAssertTrue(eds.body.contains("EndpointsConfigDump"))
        let masked = try TestClient.get(port: admin, path: "/config_dump?mask=static_clusters", host: "admin")
        XCTAssertFalse(masked.body.contains("static_listeners"))
        XCTAssertTrue(masked.body.contains("static_clusters"))
        let resource = try TestClient.get(port: admin, path: "/config_dump?resource=static_clusters&name_regex=.*v3.*", host: "admin")
        XCTAssertTrue(resource.body.contains("outbound|9080|v3|reviews"))
        XCTAssertFalse(resource.body.contains("outbound|9080|v1|reviews"))
        let clusters = try TestClient.get(port: admin, path: "/clusters?format=json", host: "admin")
        XCTAssertTrue(clusters.body.contains("cluster_statuses"))
        let text = try TestClient.get(port: admin, path: "/clusters", host: "admin").body
        XCTAssertTrue(text.contains("outbound|9080|v3|reviews.default.svc.cluster.local::127.0.0.1:\(running.ports[19089]!)::cx_connect_fail::1\n"), text)
        XCTAssertTrue(text.contains("BlackHoleCluster::added_via_api::false\n"))
        let listeners = try TestClient.get(port: admin, path: "/listeners", host: "admin").body
        XCTAssertTrue(listeners.contains("virtualInbound::127.0.0.1:\(running.ports[15006]!)\n"), listeners)
        let stats = try TestClient.get(port: admin, path: "/stats?filter=v3.*connect_fail&usedonly", host: "admin").body
        XCTAssertEqual(stats, "cluster.outbound|9080|v3|reviews.default.svc.cluster.local.upstream_cx_connect_fail: 1\n")
        // istio-agent's readiness query, exactly as it sends it (stats-queries.tsv), answers as Envoy's did.
        let readiness = try TestClient.get(port: admin, path: "/stats?usedonly&filter=%5e%28server%5c.state%7clistener_manager%5c.workers_started%29", host: "admin").body
        XCTAssertEqual(readiness, try String(contentsOf: EnvoyAdminSample.folder.appendingPathComponent("stats-usedonly-readiness.txt"), encoding: .utf8))
        let json = try TestClient.get(port: admin, path: "/stats?format=json", host: "admin").body
        XCTAssertTrue(json.hasPrefix("{\"stats\":["))
        let prometheus = try TestClient.get(port: admin, path: "/stats/prometheus", host: "admin").body
        XCTAssertTrue(prometheus.contains("envoy_cluster_upstream_cx_connect_fail{envoy_cluster_name=\"outbound|9080|v3|reviews.default.svc.cluster.local\"} 1"), prometheus)
        // Through the unnamed 15090 listener and the prometheus_stats cluster, to the admin port.
        XCTAssertEqual(try TestClient.get(port: running.ports[15090]!, path: "/stats/prometheus", host: "x").status, 200)
        let info = try TestClient.get(port: admin, path: "/server_info", host: "admin").body
        XCTAssertTrue(info.contains("\"state\":\"LIVE\""))
        let logging = try TestClient.get(port: admin, path: "/logging?level=debug", host: "admin", method: "POST").body
        XCTAssertTrue(logging.hasPrefix("active loggers:\n  admin: debug\n"), logging)
        XCTAssertEqual(LoggerLevels(text: logging).levels.first { $0.logger == "admin" }?.level, "debug")
        let parsedClusters = try ClusterStatuses(text: clusters.body, source: "admin")
        XCTAssertEqual(parsedClusters.clusters.count, 8)
        XCTAssertEqual(parsedClusters.clusters.first { $0.name == "outbound|9080|v3|reviews.default.svc.cluster.local" }?.hosts.count, 1)
    }
}
