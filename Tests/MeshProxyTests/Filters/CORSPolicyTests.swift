import Foundation
@testable import MeshProxy
import MeshTestSupport
import XCTest

/// A route's CORS policy run by the cors filter, on real sockets, with the headers Envoy 1.40 writes for the same
/// configuration: preflights from allowed origins answered by the proxy, simple requests given the allow headers,
/// other origins passed to the upstream untouched.
final class CORSPolicyTests: XCTestCase {
    static let policy = """
        envoy.filters.http.cors:
          "@type": type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy
          allow_origin_string_match: [{exact: "https://a.example"}, {safe_regex: {regex: "https://.*[.]b[.]example"}}]
          allow_methods: GET,POST
          allow_headers: x-token
          expose_headers: x-trace
          max_age: "86400"
          allow_credentials: true
          filter_enabled: {default_value: {numerator: 100}}
        """

    func testPreflightsSimpleRequestsAndOtherOrigins() throws {
        let upstream = try SampleUpstream(name: "app")
        defer { upstream.stop() }
        let (proxy, port) = try OneRouteProxy.start(to: upstream, filter: "cors", config: "envoy.extensions.filters.http.cors.v3.Cors", perRoute: Self.policy)
        defer { proxy.stop() }
        let listed = proxy.stats.snapshot().map(\.name)
        XCTAssertTrue(listed.contains { $0.hasSuffix(".cors.origin_valid") } && listed.contains { $0.hasSuffix(".cors.origin_invalid") },
                      "the cors filter's stats are listed from the start, as Envoy's")

        let preflight = try TestClient.get(port: port, path: "/pre", host: "app", headers: [("origin", "https://x.b.example"), ("access-control-request-method", "POST")], method: "OPTIONS")
        XCTAssertEqual(preflight.status, 200)
        XCTAssertEqual(preflight.headers.map(\.name).prefix(6), ["access-control-allow-origin", "access-control-allow-credentials", "access-control-allow-methods",
                                                                 "access-control-allow-headers", "access-control-max-age", "access-control-expose-headers"])
        XCTAssertEqual(preflight.header("access-control-allow-origin"), "https://x.b.example")
        XCTAssertEqual(preflight.header("access-control-allow-methods"), "GET,POST")
        XCTAssertEqual(preflight.header("access-control-max-age"), "86400")
        XCTAssertEqual(preflight.header("content-length"), "0")
        XCTAssertFalse(upstream.requests.contains("/pre"), "the proxy answers an allowed preflight itself")

        let simple = try TestClient.get(port: port, path: "/simple", host: "app", headers: [("origin", "https://a.example")])
        XCTAssertEqual(simple.header("x-upstream"), "app")
        XCTAssertEqual(simple.header("access-control-allow-origin"), "https://a.example")
        XCTAssertEqual(simple.header("access-control-allow-credentials"), "true")
        XCTAssertEqual(simple.header("access-control-expose-headers"), "x-trace")
        XCTAssertNil(simple.header("access-control-allow-methods"))

        let foreign = try TestClient.get(port: port, path: "/foreign", host: "app", headers: [("origin", "https://evil.example"), ("access-control-request-method", "POST")], method: "OPTIONS")
        XCTAssertEqual(foreign.header("x-upstream"), "app", "a preflight from another origin goes to the upstream")
        XCTAssertNil(foreign.header("access-control-allow-origin"))
        XCTAssertNil(try TestClient.get(port: port, path: "/none", host: "app").header("access-control-allow-origin"))
        XCTAssertEqual(proxy.stats.snapshot().filter { $0.name.contains(".cors.") }.map(\.value), [1, 2], "origin_invalid, origin_valid")
    }
}
