import ConfigValues
import MeshNet
import MeshHTTP1
@testable import MeshProxy
import XCTest

final class RouteSelectionTests: XCTestCase {
    /// Reads a route configuration written as YAML.
    static func routes(_ yaml: String) throws -> RouteConfiguration {
        let node = try YAMLParser.parse(yaml)[0].root
        let reader = try ConfigReader.mapping(node, file: "test.yaml", path: [])
        let config = try RouteConfiguration.read(reader, version: nil)
        try reader.finish()
        return config
    }

    func testVirtualHostDomainsExactThenSuffixThenPrefixThenAny() throws {
        let config = try Self.routes("""
        virtual_hosts:
        - {name: any, domains: ["*"], routes: []}
        - {name: prefix, domains: ["api.*"], routes: []}
        - {name: suffix, domains: ["*.example.com"], routes: []}
        - {name: longer-suffix, domains: ["*.api.example.com"], routes: []}
        - {name: exact, domains: ["api.example.com", "reviews:9080"], routes: []}
        """)
        let table: [(String, String)] = [
            ("api.example.com", "exact"), ("API.Example.com", "exact"), ("x.api.example.com", "longer-suffix"),
            ("www.example.com", "suffix"), ("api.other.org", "prefix"), ("reviews:9080", "exact"), ("reviews", "any"),
            ("example.com", "any"), ("reviews:9081", "any"),
        ]
        for (host, expected) in table {
            XCTAssertEqual(RouteSelection.virtualHost(in: config, authority: host)?.name, expected, host)
        }
        let noFallback = try Self.routes("virtual_hosts: [{name: r, domains: [reviews, \"reviews:9080\"], routes: []}]")
        XCTAssertNil(RouteSelection.virtualHost(in: noFallback, authority: "unknown.example.com"))
        XCTAssertNil(RouteSelection.virtualHost(in: noFallback, authority: "reviews:80"))
    }

    func testRouteMatchingTable() throws {
        let config = try Self.routes("""
        virtual_hosts:
        - name: v
          domains: ["*"]
          routes:
          - {name: exact-path, match: {path: /exact}, route: {cluster: a}}
          - {name: insensitive, match: {prefix: /Case, case_sensitive: false}, route: {cluster: a}}
          - {name: regex, match: {safe_regex: {regex: "/items/[0-9]+"}}, route: {cluster: a}}
          - {name: separated, match: {path_separated_prefix: /sep}, route: {cluster: a}}
          - name: header-exact
            match: {prefix: /h, headers: [{name: end-user, string_match: {exact: jason}}]}
            route: {cluster: a}
          - name: header-absent
            match: {prefix: /h, headers: [{name: x-debug, present_match: false}]}
            route: {cluster: a}
          - name: header-ignore-case
            match: {prefix: /h, headers: [{name: x-debug, string_match: {exact: ON, ignore_case: true}}]}
            route: {cluster: a}
          - name: header-inverted
            match: {prefix: /h, headers: [{name: x-debug, string_match: {prefix: "on"}, invert_match: true}]}
            route: {cluster: a}
          - name: query
            match: {prefix: /q, query_parameters: [{name: v, string_match: {exact: "2"}}, {name: flag}]}
            route: {cluster: a}
          - {name: first-of-two, match: {prefix: /dup}, route: {cluster: a}}
          - {name: second-of-two, match: {prefix: /dup}, route: {cluster: b}}
          - {name: fallback, match: {prefix: /}, route: {cluster: z}}
        """)
        let host = config.virtualHosts[0]
        let table: [(String, [(String, String)], String)] = [
            ("/exact", [], "exact-path"), ("/exact/more", [], "fallback"), ("/exact?x=1", [], "exact-path"),
            ("/case/x", [], "insensitive"), ("/CASE", [], "insensitive"),
            ("/items/42", [], "regex"), ("/items/42x", [], "fallback"), ("/items/42?q=1", [], "regex"),
            ("/sep", [], "separated"), ("/sep/x", [], "separated"), ("/separate", [], "fallback"),
            ("/h", [("End-User", "jason")], "header-exact"), ("/h", [], "header-absent"),
            ("/h", [("x-debug", "off")], "header-inverted"), ("/h", [("x-debug", "On")], "header-ignore-case"),
            ("/h", [("x-debug", "only")], "fallback"),
            ("/q?v=2&flag", [], "query"), ("/q?flag=&v=2", [], "query"), ("/q?v=2", [], "fallback"), ("/q?v=3&flag", [], "fallback"),
            ("/dup", [], "first-of-two"),
        ]
        for (target, headers, expected) in table {
            let request = HTTPRequestHead(method: "GET", target: target, headers: headers)
            XCTAssertEqual(RouteSelection.route(in: host, request: request)?.name, expected, "\(target) \(headers)")
        }
    }

    func testWeightedClustersFollowTheRoll() throws {
        let action = ForwardAction(target: .weighted([WeightedCluster(name: "v1", weight: 90), WeightedCluster(name: "v2", weight: 10)]),
                                   timeout: 15, idleTimeout: nil, retryPolicy: nil, prefixRewrite: nil, regexRewrite: nil, hostRewrite: nil,
                                   autoHostRewrite: false, hashPolicies: [])
        XCTAssertEqual(RouteSelection.cluster(for: action, roll: { _ in 0 }), "v1")
        XCTAssertEqual(RouteSelection.cluster(for: action, roll: { _ in 89 }), "v1")
        XCTAssertEqual(RouteSelection.cluster(for: action, roll: { _ in 90 }), "v2")
        XCTAssertEqual(RouteSelection.cluster(for: action, roll: { $0 - 1 }), "v2")
        var counts: [String: Int] = [:]
        for _ in 0..<10_000 { counts[RouteSelection.cluster(for: action, roll: { Int.random(in: 0..<$0) }), default: 0] += 1 }
        XCTAssertEqual(Double(counts["v1"] ?? 0) / 10_000, 0.9, accuracy: 0.03)
    }

    func testRewritesRedirectsAndHeaderMutations() throws {
        let config = try Self.routes("""
        virtual_hosts:
        - name: v
          domains: ["*"]
          routes:
          - {match: {prefix: /api/}, route: {cluster: a, prefix_rewrite: /v2/}}
          - {match: {prefix: /re}, route: {cluster: a, regex_rewrite: {pattern: {regex: "^/re/([a-z]+)/(\\\\d+)$"}, substitution: "/\\\\2/\\\\1"}}}
          - {match: {prefix: /old}, redirect: {path_redirect: /new, response_code: FOUND}}
          - {match: {prefix: /secure}, redirect: {https_redirect: true}}
          - {match: {prefix: /moved}, redirect: {host_redirect: other.example.com, prefix_rewrite: /here, strip_query: true}}
          - {match: {prefix: /direct}, direct_response: {status: 418, body: {inline_string: teapot}}}
        """)
        let routes = config.virtualHosts[0].routes
        guard case .forward(let prefix) = routes[0].action, case .forward(let regex) = routes[1].action else { return XCTFail("forward") }
        XCTAssertEqual(RequestRewrite.target("/api/users?x=1", route: routes[0], action: prefix), "/v2/users?x=1")
        XCTAssertEqual(RequestRewrite.target("/re/abc/42", route: routes[1], action: regex), "/42/abc")
        guard case .redirect(let found) = routes[2].action, case .redirect(let secure) = routes[3].action,
              case .redirect(let moved) = routes[4].action else { return XCTFail("redirect") }
        XCTAssertEqual(found.status, 302)
        XCTAssertEqual(RequestRewrite.location(found, route: routes[2], authority: "h:8080", target: "/old?a=1"), "http://h:8080/new?a=1")
        XCTAssertEqual(secure.status, 301)
        XCTAssertEqual(RequestRewrite.location(secure, route: routes[3], authority: "h:80", target: "/secure/x"), "https://h/secure/x")
        XCTAssertEqual(RequestRewrite.location(moved, route: routes[4], authority: "h", target: "/moved/a?q"), "http://other.example.com/here/a")
        guard case .directResponse(let status, let body) = routes[5].action else { return XCTFail("direct") }
        XCTAssertEqual(status, 418)
        XCTAssertEqual(body, "teapot")

        var headers: [(name: String, value: String)] = [("x-keep", "1"), ("X-Drop", "2"), ("x-set", "old")]
        RequestRewrite.apply(add: [HeaderValueOption(name: "x-set", value: "new", append: false), HeaderValueOption(name: "x-keep", value: "3", append: true)],
                             remove: ["x-drop"], to: &headers)
        XCTAssertEqual(headers.map { "\($0.name)=\($0.value)" }, ["x-keep=1", "x-set=new", "x-keep=3"])
    }
}
