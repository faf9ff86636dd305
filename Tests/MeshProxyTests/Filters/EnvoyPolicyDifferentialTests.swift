import Foundation
@testable import MeshProxy
import MeshTestSupport
import XCTest

/// One bootstrap with RBAC (HTTP and network) and local rate limit filters, run by real Envoy 1.40 and by
/// meshctl's proxy; the same requests must get the same statuses, bodies, headers, access log lines and stats.
final class EnvoyPolicyDifferentialTests: XCTestCase {
    private struct Outcome: Equatable {
        var status: Int
        var body: String
        /// The headers the filters may add: x-local-rate-limit, x-envoy-ratelimited, content-type, x-ratelimit-limit and -remaining.
        var headers: [String?]
    }

    private static let requests: [(path: String, method: String, headers: [(String, String)])] = [
        ("/public/a", "GET", []), ("/public/a", "POST", []), ("/private", "GET", []),
        ("/admin/users", "GET", []), ("/admin/users", "GET", [("x-debug", "1")]), ("/open/admin", "GET", []),
        ("/limited", "GET", []), ("/limited", "GET", []), ("/limited", "GET", []), ("/limited", "GET", []),
        ("/public/b", "GET", [("user-agent", "curl/8")]), ("/limited/draft", "GET", []), ("/limited/draft", "GET", []),
    ]

    private static let statNames = [
        "http.inbound.rbac.allowed", "http.inbound.rbac.denied", "http.inbound.rbac.istio_dry_run_deny_.shadow_allowed",
        "http.inbound.rbac.istio_dry_run_deny_.shadow_denied", "tcp.rbac.denied", "tcp.rbac.allowed",
        "limiter.http_local_rate_limit.enabled", "limiter.http_local_rate_limit.ok", "limiter.http_local_rate_limit.rate_limited",
        "limiter.http_local_rate_limit.enforced",
    ]

    private func bootstrap(directory: URL, upstreamPort: Int) -> PolicyBootstrap {
        var bootstrap = PolicyBootstrap(directory: directory, upstreamPort: upstreamPort)
        bootstrap.httpFilters = [
            PolicyBootstrap.rbacFilter("rules: {action: LOG, policies: {audit-public: {permissions: [{url_path: {path: {prefix: /public}}}], principals: [{any: true}]}}}"),
            PolicyBootstrap.rbacFilter("""
            rules: {action: DENY, policies: {"ns[shop]-policy[no-admin]-rule[0]": {permissions: [{and_rules: {rules: [{url_path: {path: {prefix: /admin}}}, {header: {name: x-debug, present_match: true, invert_match: true}}]}}], principals: [{direct_remote_ip: {address_prefix: 127.0.0.0, prefix_len: 8}}]}}},
            shadow_rules: {action: DENY, policies: {"ns[shop]-policy[dry]-rule[0]": {permissions: [{header: {name: user-agent, string_match: {prefix: curl}}}], principals: [{any: true}]}}},
            shadow_rules_stat_prefix: istio_dry_run_deny_
            """),
            PolicyBootstrap.rbacFilter("""
            rules: {action: ALLOW, policies: {"ns[shop]-policy[reads]-rule[0]": {permissions: [{or_rules: {rules: [{and_rules: {rules: [{header: {name: ":method", string_match: {exact: GET}}}, {url_path: {path: {safe_regex: {regex: "/(public|admin|limited)/?.*"}}}}]}}, {header: {name: ":path", string_match: {prefix: /open}}}]}}], principals: [{not_id: {authenticated: {principal_name: {exact: "spiffe://cluster.local/ns/x/sa/y"}}}}]}}}
            """),
            "{name: envoy.filters.http.local_ratelimit, typed_config: {\"@type\": type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit, stat_prefix: limiter}}",
        ]
        bootstrap.routes = [
            "{name: draft, match: {prefix: /limited/draft}, route: {cluster: app}, typed_per_filter_config: {envoy.filters.http.local_ratelimit: \(LocalRateLimitTests.limit("limiter", maxTokens: 1, extra: ", enable_x_ratelimit_headers: DRAFT_VERSION_03"))}}",
            "{name: limited, match: {prefix: /limited}, route: {cluster: app}, typed_per_filter_config: {envoy.filters.http.local_ratelimit: \(LocalRateLimitTests.limit("limiter", maxTokens: 2))}}",
            "{name: all, match: {prefix: /}, route: {cluster: app}}",
        ]
        bootstrap.tcpFilters = ["{name: envoy.filters.network.rbac, typed_config: {\"@type\": type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC, stat_prefix: tcp., rules: {action: ALLOW, policies: {other-port: {permissions: [{destination_port: 1}], principals: [{any: true}]}}}}}"]
        return bootstrap
    }

    private func run(_ bootstrap: PolicyBootstrap, stats: () throws -> [String: Int]) throws -> (outcomes: [Outcome], tcpAnswer: [UInt8], log: [String], tcpLog: String, stats: [String: Int]) {
        let outcomes = try Self.requests.map { request in
            let response = try TestClient.get(port: bootstrap.httpPort, path: request.path, host: "app", headers: request.headers, method: request.method)
            return Outcome(status: response.status, body: response.header("x-upstream") == nil ? response.body : "(upstream)",
                           headers: ["x-local-rate-limit", "x-envoy-ratelimited", "content-type", "x-ratelimit-limit", "x-ratelimit-remaining"].map { response.header($0) })
        }
        let tcpAnswer = (try? TestClient.exchange(port: bootstrap.tcpPort, bytes: Array("GET / HTTP/1.1\r\nhost: app\r\n\r\n".utf8))) ?? []
        let log = bootstrap.accessLogLines(count: Self.requests.count)
        var tcpLog = ""
        XCTAssertTrue(eventually { tcpLog = (try? String(contentsOf: bootstrap.tcpAccessLog, encoding: .utf8)) ?? ""; return tcpLog.hasSuffix("\n") })
        var values: [String: Int] = [:]
        XCTAssertTrue(eventually { values = (try? stats()) ?? [:]; return values["tcp.rbac.denied"] == 1 }, "tcp.rbac.denied never reached 1: \(values)")
        return (outcomes, tcpAnswer, log, tcpLog, values)
    }

    func testMeshctlProxyEnforcesRBACAndRateLimitsAsEnvoyDoes() throws {
        let upstream = try SampleUpstream(name: "app")
        defer { upstream.stop() }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("meshproxy-policy-diff-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("envoy"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("meshctl"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }

        let envoyBootstrap = bootstrap(directory: directory.appendingPathComponent("envoy"), upstreamPort: upstream.port)
        let envoy = try RunningEnvoy(bootstrap: try envoyBootstrap.write(), adminPort: envoyBootstrap.adminPort, test: "the RBAC and rate limit differential test")
        let envoyRun = try run(envoyBootstrap) { try envoy.stats(Self.statNames) }
        envoy.stop()

        let proxyBootstrap = bootstrap(directory: directory.appendingPathComponent("meshctl"), upstreamPort: upstream.port)
        let proxy = try ProxyServer(configuration: try ProxyConfiguration.load(file: try proxyBootstrap.write()), concurrency: 1,
                                    log: ProxyLog(level: .error) { FileHandle.standardError.write(Data($0.utf8)) })
        proxy.start()
        defer { proxy.stop() }
        let proxyRun = try run(proxyBootstrap) {
            Dictionary(uniqueKeysWithValues: Self.statNames.compactMap { name in proxy.stats.value(name) > 0 ? (name, proxy.stats.value(name)) : nil })
        }

        for (index, (expected, actual)) in zip(envoyRun.outcomes, proxyRun.outcomes).enumerated() {
            XCTAssertEqual(actual, expected, "request \(index): \(Self.requests[index].method) \(Self.requests[index].path)")
        }
        XCTAssertEqual(proxyRun.log, envoyRun.log, "access log lines")
        XCTAssertEqual(proxyRun.tcpAnswer, envoyRun.tcpAnswer, "the network RBAC filter's answer (none: the connection is closed)")
        XCTAssertEqual(proxyRun.tcpLog, envoyRun.tcpLog, "tcp_proxy's access log line: the denial as the connection's termination details")
        XCTAssertEqual(proxyRun.stats, envoyRun.stats.filter { $0.value > 0 }, "RBAC and rate limit stats")
        print("envoy policy differential: \(Self.requests.count) HTTP requests and 1 TCP connection, compared with Envoy 1.40")
    }
}
