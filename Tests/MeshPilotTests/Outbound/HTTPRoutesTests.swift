import ConfigValues
@testable import MeshPilot
import XCTest

final class HTTPRoutesTests: XCTestCase {
    func routes(adding extra: String = "", proxy: ProxyNode = PilotFixtures.productpage) throws -> JSONValue {
        let out = Pilot(authority: nil).resources(for: proxy, in: try PilotFixtures.snapshot(fixture: "bookinfo.yaml", adding: extra))
        return try XCTUnwrap(out.routes.named("9080"))
    }

    private func virtualHost(_ config: JSONValue, _ name: String) throws -> JSONValue {
        try XCTUnwrap(config["virtual_hosts"]?.array?.named(name), "no virtual host \(name)")
    }

    func testVirtualHostsAndDefaultRoute() throws {
        let config = try routes()
        XCTAssertEqual(config["virtual_hosts"]?.array?.names, ["reviews.default.svc.cluster.local:9080", "productpage.default.svc.cluster.local:9080",
                                                               "ratings.default.svc.cluster.local:9080", "allow_any"])
        let ratings = try virtualHost(config, "ratings.default.svc.cluster.local:9080")
        let domains = try XCTUnwrap(ratings["domains"]?.array?.compactMap(\.string))
        XCTAssertEqual(Array(domains.prefix(8)), ["ratings.default.svc.cluster.local", "ratings.default.svc.cluster.local:9080", "ratings", "ratings:9080",
                                                  "ratings.default.svc", "ratings.default.svc:9080", "ratings.default", "ratings.default:9080"])
        let clusterIP = try XCTUnwrap(MeshModel(try PilotFixtures.snapshot(fixture: "bookinfo.yaml")).services.first { $0.name == "ratings" }?.clusterIP)
        XCTAssertEqual(Array(domains.dropFirst(8)), [clusterIP, "\(clusterIP):9080"])
        let route = try XCTUnwrap(ratings[path: "routes", 0])
        XCTAssertEqual(route["name"], .string("default"))
        XCTAssertEqual(route[path: "route", "cluster"], .string("outbound|9080||ratings.default.svc.cluster.local"))
        XCTAssertEqual(route[path: "route", "timeout"], .string("0s"))
        XCTAssertEqual(route[path: "route", "retry_policy"], HTTPRoutes.defaultRetryPolicy())
        XCTAssertEqual(route[path: "route", "retry_policy", "retry_on"], .string("connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes"))
        XCTAssertEqual(route[path: "route", "retry_policy", "host_selection_retry_max_attempts"], .string("5"))
        XCTAssertEqual(route[path: "decorator", "operation"], .string("ratings.default.svc.cluster.local:9080/*"))

        // From another namespace, the bare name does not resolve.
        let other = """
        apiVersion: v1
        kind: Pod
        metadata: {name: client-7f8d9c-abcde, namespace: other, labels: {app: client}}
        spec: {containers: [{name: client}, {name: istio-proxy}]}
        status: {podIP: 127.10.1.9}
        """
        let fromOther = try routes(adding: other, proxy: ProxyNode(kind: .sidecar, ip: "127.10.1.9", podName: "client-7f8d9c-abcde", namespace: "other"))
        XCTAssertFalse(try virtualHost(fromOther, "ratings.default.svc.cluster.local:9080")["domains"]?.array?.contains(.string("ratings")) ?? true)
    }

    func testVirtualServiceRoutes() throws {
        let reviews = try virtualHost(try routes(), "reviews.default.svc.cluster.local:9080")
        let all = try XCTUnwrap(reviews["routes"]?.array)
        XCTAssertEqual(all.names, ["fault-abort", "fault-delay", "timeout", "retry-503", "v3-noretry", "v3", "circuit-breaker", "jason", "default"])
        let abort = all[0]
        XCTAssertEqual(abort[path: "match", "prefix"], .string("/fault/abort"))
        XCTAssertEqual(abort[path: "match", "case_sensitive"], .bool(true))
        XCTAssertEqual(abort[path: "metadata", "filter_metadata", "istio", "config"], .string("/apis/networking.istio.io/v1alpha3/namespaces/default/virtual-service/reviews"))
        XCTAssertEqual(abort[path: "typed_per_filter_config", "envoy.filters.http.fault", "abort", "http_status"], .int(500))
        XCTAssertEqual(abort[path: "typed_per_filter_config", "envoy.filters.http.fault", "abort", "percentage", "numerator"], .int(1_000_000))
        XCTAssertEqual(abort[path: "decorator", "operation"], .string("reviews.default.svc.cluster.local:9080/fault/abort*"))
        XCTAssertEqual(all[1][path: "typed_per_filter_config", "envoy.filters.http.fault", "delay", "fixed_delay"], .string("0.200s"))
        XCTAssertEqual(all[2][path: "route", "timeout"], .string("0.500s"))
        XCTAssertEqual(all[2][path: "route", "max_grpc_timeout"], .string("0.500s"))
        XCTAssertEqual(all[3][path: "route", "retry_policy", "retriable_status_codes"], .array([.int(503)]))
        XCTAssertEqual(all[3][path: "route", "retry_policy", "retry_on"], .string("connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes"))
        XCTAssertNil(all[4][path: "route", "retry_policy"], "attempts 0 turns retries off")
        XCTAssertEqual(all[5][path: "route", "cluster"], .string("outbound|9080|v3|reviews.default.svc.cluster.local"))
        XCTAssertEqual(all[7][path: "match", "headers", 0], .object([("name", .string("end-user")), ("string_match", .object([("exact", .string("jason"))]))]))
        let weighted = try XCTUnwrap(all[8][path: "route", "weighted_clusters", "clusters"]?.array)
        XCTAssertEqual(weighted.names, ["outbound|9080|v1|reviews.default.svc.cluster.local", "outbound|9080|v2|reviews.default.svc.cluster.local"])
        XCTAssertEqual(weighted.map { $0["weight"] }, [.int(90), .int(10)])
        XCTAssertEqual(all[8][path: "route", "timeout"], .string("3s"))
        XCTAssertEqual(all[8][path: "decorator", "operation"], .string("reviews:9080/*"))
    }

    func testMatchesRewritesAndSourceGating() throws {
        let rule = """
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: ratings, namespace: default}
        spec:
          hosts: [ratings.default.svc.cluster.local]
          http:
          - name: only-reviews
            match: [{sourceLabels: {app: reviews}, uri: {exact: /only}}]
            route: [{destination: {host: ratings}}]
          - name: shaped
            match:
            - name: m1
              uri: {regex: "/api/v[0-9]+"}
              ignoreUriCase: true
              method: {exact: POST}
              queryParams: {debug: {exact: "1"}}
              withoutHeaders: {x-skip: {}}
            rewrite: {uri: /v2, authority: ratings.internal}
            headers: {request: {set: {x-a: "1"}, add: {x-b: "2"}, remove: [x-c]}, response: {remove: [server]}}
            mirror: {host: ratings, subset: shadow}
            mirrorPercentage: {value: 25.5}
            corsPolicy: {allowOrigins: [{exact: "https://a.example"}], allowMethods: [GET, POST], maxAge: 24h, unmatchedPreflights: IGNORE}
            retries: {attempts: 3, perTryTimeout: 2s, retryOn: gateway-error}
            route: [{destination: {host: ratings, port: {number: 9080}}}]
          - name: moved
            match: [{uri: {prefix: /old}}]
            redirect: {uri: /new, redirectCode: 302}
          - name: canned
            match: [{uri: {prefix: /canned}}]
            directResponse: {status: 418, body: {string: teapot}}
        """
        let fromProductpage = try virtualHost(try routes(adding: rule), "ratings.default.svc.cluster.local:9080")
        XCTAssertEqual(fromProductpage["routes"]?.array?.names, ["shaped.m1", "moved", "canned"], "sourceLabels gate the first route")
        let fromReviews = try virtualHost(try routes(adding: rule, proxy: PilotFixtures.reviewsV1), "ratings.default.svc.cluster.local:9080")
        XCTAssertEqual(fromReviews["routes"]?.array?.names, ["only-reviews", "shaped.m1", "moved", "canned"])
        XCTAssertEqual(fromReviews[path: "routes", 0, "match", "path"], .string("/only"))

        let shaped = try XCTUnwrap(fromProductpage[path: "routes", 0])
        XCTAssertEqual(shaped[path: "match", "safe_regex", "regex"], .string("/api/v[0-9]+"))
        XCTAssertEqual(shaped[path: "match", "case_sensitive"], .bool(false))
        XCTAssertEqual(shaped[path: "match", "headers", 0, "present_match"], .bool(true))
        XCTAssertEqual(shaped[path: "match", "headers", 0, "invert_match"], .bool(true))
        XCTAssertEqual(shaped[path: "match", "headers", 1, "name"], .string(":method"))
        XCTAssertEqual(shaped[path: "match", "query_parameters", 0, "string_match", "exact"], .string("1"))
        XCTAssertEqual(shaped[path: "route", "prefix_rewrite"], .string("/v2"))
        XCTAssertEqual(shaped[path: "route", "host_rewrite_literal"], .string("ratings.internal"))
        XCTAssertEqual(shaped[path: "request_headers_to_add", 0, "append_action"], .string("OVERWRITE_IF_EXISTS_OR_ADD"))
        XCTAssertEqual(shaped[path: "request_headers_to_add", 1, "append_action"], .string("APPEND_IF_EXISTS_OR_ADD"))
        XCTAssertEqual(shaped[path: "request_headers_to_remove"], .array([.string("x-c")]))
        XCTAssertEqual(shaped[path: "response_headers_to_remove"], .array([.string("server")]))
        XCTAssertEqual(shaped[path: "route", "request_mirror_policies", 0, "cluster"], .string("outbound|9080|shadow|ratings.default.svc.cluster.local"))
        XCTAssertEqual(shaped[path: "route", "request_mirror_policies", 0, "runtime_fraction", "default_value", "numerator"], .int(255_000))
        XCTAssertEqual(shaped[path: "typed_per_filter_config", "envoy.filters.http.cors", "allow_methods"], .string("GET,POST"))
        XCTAssertEqual(shaped[path: "typed_per_filter_config", "envoy.filters.http.cors", "max_age"], .string("86400"))
        XCTAssertEqual(shaped[path: "typed_per_filter_config", "envoy.filters.http.cors", "forward_not_matching_preflights"], .bool(false),
                       "unmatchedPreflights: IGNORE answers other origins' preflights")
        XCTAssertEqual(shaped[path: "route", "retry_policy", "num_retries"], .int(3))
        XCTAssertEqual(shaped[path: "route", "retry_policy", "retry_on"], .string("gateway-error"))
        XCTAssertEqual(shaped[path: "route", "retry_policy", "per_try_timeout"], .string("2s"))
        XCTAssertEqual(fromProductpage[path: "routes", 1, "redirect"], .object([("path_redirect", .string("/new")), ("response_code", .string("FOUND"))]))
        XCTAssertEqual(fromProductpage[path: "routes", 2, "direct_response", "status"], .int(418))
        XCTAssertEqual(fromProductpage[path: "routes", 2, "direct_response", "body", "inline_string"], .string("teapot"))
    }
}

extension HTTPRoutesTests {
    func testRoutesWithoutADestinationAreLeftOut() throws {
        let rule = """
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: ratings, namespace: default}
        spec:
          hosts: [ratings]
          http:
          - {name: nothing, match: [{uri: {prefix: /x}}], fault: {abort: {httpStatus: 500}}}
          - {name: zero, match: [{uri: {prefix: /y}}], route: [{destination: {host: ratings, subset: a}, weight: 0}, {destination: {host: ratings, subset: b}, weight: 0}]}
          - {name: fine, route: [{destination: {host: ratings}}]}
        """
        let config = try routes(adding: rule)
        XCTAssertEqual(config["virtual_hosts"]?.array?.named("ratings.default.svc.cluster.local:9080")?["routes"]?.array?.names, ["fine"])
    }
}
