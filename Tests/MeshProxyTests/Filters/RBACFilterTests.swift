import ConfigValues
import Foundation
@testable import MeshProxy
import MeshNet
import MeshHTTP1
import MeshTestSupport
import XCTest

/// `envoy.filters.http.rbac` and `envoy.filters.network.rbac`: rules read strictly, evaluated as Envoy's engine
/// does, and enforced in the data path with Envoy's answer, details and stats.
final class RBACFilterTests: PolicyFilterTestCase {
    private func rules(_ yaml: String, network: Bool = false) throws -> RBACConfig {
        let root = try YAMLParser.parse(yaml)[0].root
        let reader = try ConfigReader.mapping(root, file: "rbac.yaml", path: [])
        let config = try RBACConfig.read(reader, network: network)
        try reader.finish()
        return config
    }

    private func request(_ target: String, method: String = "GET", headers: [(String, String)] = []) -> HTTPRequest {
        HTTPRequest(method: method, target: target, version: 11, headers: [("host", "app.local")] + headers, body: [])
    }

    // MARK: The engine

    func testPrincipalsMatchThePeersURISANAndTheClientsAddress() throws {
        let config = try rules("""
        rules:
          action: ALLOW
          policies:
            by-identity:
              permissions: [{any: true}]
              principals: [{authenticated: {principal_name: {exact: "spiffe://cluster.local/ns/shop/sa/frontend"}}}]
            by-namespace:
              permissions: [{and_rules: {rules: [{header: {name: ":method", string_match: {exact: GET}}}, {destination_port: 8080}]}}]
              principals: [{authenticated: {principal_name: {safe_regex: {regex: ".*/ns/trusted/.*"}}}}]
            by-address:
              permissions: [{not_rule: {url_path: {path: {prefix: /admin}}}}]
              principals: [{and_ids: {ids: [{direct_remote_ip: {address_prefix: 10.1.0.0, prefix_len: 16}}, {not_id: {remote_ip: {address_prefix: 10.1.2.3, prefix_len: 32}}}]}}]
        """)
        let rules = try XCTUnwrap(config.rules)
        func connection(_ remote: String, local: String = "127.10.0.5:8080", san: String? = nil) -> DownstreamConnectionInfo {
            DownstreamConnectionInfo(localAddress: local, remoteAddress: remote,
                                     tls: san.map { DownstreamConnectionInfo.TLS(serverName: nil, applicationProtocol: nil, peerURISANs: [$0]) })
        }
        func decide(_ info: DownstreamConnectionInfo, _ request: HTTPRequest) -> RBACEngine.Decision {
            RBACEngine.evaluate(rules, RBACEngine.Subject(connection: info, request: request))
        }
        XCTAssertEqual(decide(connection("127.0.0.1:5000", san: "spiffe://cluster.local/ns/shop/sa/frontend"), request("/admin", method: "POST")),
                       RBACEngine.Decision(allowed: true, policy: "by-identity"))
        XCTAssertEqual(decide(connection("127.0.0.1:5000", san: "spiffe://cluster.local/ns/shop/sa/other"), request("/x")).allowed, false)
        XCTAssertEqual(decide(connection("127.0.0.1:5000", san: "spiffe://cluster.local/ns/trusted/sa/x"), request("/x")).policy, "by-namespace")
        XCTAssertFalse(decide(connection("127.0.0.1:5000", local: "127.10.0.5:9090", san: "spiffe://cluster.local/ns/trusted/sa/x"), request("/x")).allowed,
                       "destination_port")
        XCTAssertFalse(decide(connection("127.0.0.1:5000"), request("/x")).allowed, "plaintext has no principal")
        XCTAssertEqual(decide(connection("10.1.9.9:5000"), request("/x")).policy, "by-address")
        XCTAssertFalse(decide(connection("10.1.9.9:5000"), request("/admin/users")).allowed, "not_rule")
        XCTAssertFalse(decide(connection("10.1.2.3:5000"), request("/x")).allowed, "not_id")
        XCTAssertFalse(decide(connection("10.2.0.1:5000"), request("/x")).allowed, "outside the CIDR block")
    }

    func testHeaderMatchersSeePseudoHeadersAndMetadataNeverMatchesUnlessInverted() throws {
        let config = try rules("""
        rules:
          action: DENY
          policies:
            host: {permissions: [{header: {name: ":authority", string_match: {suffix: ".evil", ignore_case: true}}}], principals: [{any: true}]}
            jwt: {permissions: [{any: true}], principals: [{metadata: {filter: envoy.filters.http.jwt_authn, path: [{key: payload}, {key: iss}], value: {string_match: {exact: x}}}}]}
            absent: {permissions: [{header: {name: x-token, present_match: true, invert_match: true}}], principals: [{any: true}]}
            template: {permissions: [{uri_template: {name: uri-template, typed_config: {"@type": type.googleapis.com/envoy.extensions.path.match.uri_template.v3.UriTemplateMatchConfig, path_template: "/api/*/secret"}}}], principals: [{any: true}]}
        """)
        let rules = try XCTUnwrap(config.rules)
        let info = DownstreamConnectionInfo(localAddress: "127.0.0.1:80", remoteAddress: "127.0.0.1:5000")
        func decide(_ request: HTTPRequest) -> RBACEngine.Decision { RBACEngine.evaluate(rules, RBACEngine.Subject(connection: info, request: request)) }
        XCTAssertEqual(decide(request("/", headers: [("x-token", "t")])), RBACEngine.Decision(allowed: true, policy: nil))
        XCTAssertEqual(decide(request("/")).policy, "absent")
        XCTAssertEqual(decide(HTTPRequest(method: "GET", target: "/", version: 11, headers: [("host", "A.EVIL"), ("x-token", "t")], body: [])).policy, "host")
        XCTAssertEqual(decide(request("/api/v1/secret?x=1", headers: [("x-token", "t")])).policy, "template")
        XCTAssertNil(decide(request("/api/v1/more/secret", headers: [("x-token", "t")])).policy, "* is one segment")
    }

    func testUnsupportedRBACFieldsAreErrorsWithTheirPath() throws {
        XCTAssertThrowsError(try rules("rules: {policies: {p: {permissions: [{any: true}], principals: [{any: true}], condition: {}}}}")) { error in
            XCTAssertTrue("\(error)".contains("rules.policies.p.condition: CEL conditions are not supported"), "\(error)")
        }
        XCTAssertThrowsError(try rules("rules: {policies: {p: {permissions: [{any: true, destination_port: 80}], principals: [{any: true}]}}}")) { error in
            XCTAssertTrue("\(error)".contains("rules.policies.p.permissions[0]: sets more than one permission rule"), "\(error)")
        }
        XCTAssertThrowsError(try rules("rules: {policies: {p: {permissions: [{any: true}], principals: [{direct_remote_ip: {address_prefix: nope}}]}}}")) { error in
            XCTAssertTrue("\(error)".contains("direct_remote_ip.address_prefix"), "\(error)")
        }
        XCTAssertThrowsError(try rules("rules: {action: MAYBE}")) { error in
            XCTAssertTrue("\(error)".contains("rules.action: MAYBE is not supported"), "\(error)")
        }
    }

    // MARK: The data path

    func testAnAllowPolicyLetsMatchingRequestsThroughAndAnswers403ToTheRest() throws {
        var bootstrap = PolicyBootstrap(directory: directory, upstreamPort: upstream.port)
        bootstrap.httpFilters = [PolicyBootstrap.rbacFilter("""
        rules: {action: ALLOW, policies: {"ns[shop]-policy[public]-rule[0]": {permissions: [{and_rules: {rules: [{header: {name: ":method", string_match: {exact: GET}}}, {url_path: {path: {prefix: /public}}}]}}], principals: [{any: true}]}}}
        """)]
        let proxy = try start(bootstrap)
        XCTAssertEqual(try TestClient.get(port: bootstrap.httpPort, path: "/public/a", host: "app").status, 200)
        let denied = try TestClient.get(port: bootstrap.httpPort, path: "/private", host: "app")
        XCTAssertEqual(denied.status, 403)
        XCTAssertEqual(denied.body, "RBAC: access denied")
        XCTAssertEqual(denied.header("content-type"), "text/plain")
        XCTAssertEqual(try TestClient.get(port: bootstrap.httpPort, path: "/public/a", host: "app", method: "POST").status, 403)
        XCTAssertEqual(bootstrap.accessLogLines(count: 3), [
            "/public/a 200 - via_upstream", "/private 403 - rbac_access_denied_matched_policy[none]", "/public/a 403 - rbac_access_denied_matched_policy[none]",
        ])
        XCTAssertEqual(proxy.stats.value("http.inbound.rbac.allowed"), 1)
        XCTAssertEqual(proxy.stats.value("http.inbound.rbac.denied"), 2)
        XCTAssertEqual(upstream.requests, ["/public/a"])
    }

    func testADenyPolicyNamesThePolicyShadowRulesOnlyCountAndARouteCanTurnRBACOff() throws {
        var bootstrap = PolicyBootstrap(directory: directory, upstreamPort: upstream.port)
        bootstrap.httpFilters = [PolicyBootstrap.rbacFilter("""
        rules: {action: DENY, policies: {deny-admin: {permissions: [{url_path: {path: {prefix: /admin}}}], principals: [{remote_ip: {address_prefix: 127.0.0.0, prefix_len: 8}}]}}},
        shadow_rules: {action: ALLOW, policies: {}}, shadow_rules_stat_prefix: istio_dry_run_allow_
        """)]
        bootstrap.routes = [
            "{name: open, match: {prefix: /admin/open}, route: {cluster: app}, typed_per_filter_config: {envoy.filters.http.rbac: {\"@type\": type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBACPerRoute}}}",
            "{name: all, match: {prefix: /}, route: {cluster: app}}",
        ]
        let proxy = try start(bootstrap)
        XCTAssertEqual(try TestClient.get(port: bootstrap.httpPort, path: "/admin/users", host: "app").status, 403)
        XCTAssertEqual(try TestClient.get(port: bootstrap.httpPort, path: "/shop", host: "app").status, 200)
        XCTAssertEqual(try TestClient.get(port: bootstrap.httpPort, path: "/admin/open", host: "app").status, 200)
        XCTAssertEqual(bootstrap.accessLogLines(count: 3)[0], "/admin/users 403 - rbac_access_denied_matched_policy[deny-admin]")
        XCTAssertEqual(proxy.stats.value("http.inbound.rbac.denied"), 1)
        XCTAssertEqual(proxy.stats.value("http.inbound.rbac.allowed"), 1)
        XCTAssertEqual(proxy.stats.value("http.inbound.rbac.istio_dry_run_allow_.shadow_denied"), 2)
    }

    func testTheNetworkFilterClosesADeniedConnectionBeforeAnyByteReachesTheUpstream() throws {
        var bootstrap = PolicyBootstrap(directory: directory, upstreamPort: upstream.port)
        func filter(_ action: String) -> String {
            "{name: envoy.filters.network.rbac, typed_config: {\"@type\": type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC, stat_prefix: tcp., rules: {action: \(action), policies: {local: {permissions: [{destination_port: \(bootstrap.tcpPort)}], principals: [{direct_remote_ip: {address_prefix: 127.0.0.1, prefix_len: 32}}]}}}}}"
        }
        bootstrap.tcpFilters = [filter("DENY")]
        let proxy = try start(bootstrap)
        let request = Array("GET /through-tcp HTTP/1.1\r\nhost: app\r\nconnection: close\r\n\r\n".utf8)
        XCTAssertEqual((try? TestClient.exchange(port: bootstrap.tcpPort, bytes: request)) ?? [], [])
        XCTAssertEqual(proxy.stats.value("tcp.rbac.denied"), 1)
        XCTAssertEqual(upstream.requests, [])
        var log = ""
        XCTAssertTrue(eventually { log = (try? String(contentsOf: bootstrap.tcpAccessLog, encoding: .utf8)) ?? ""; return log.hasSuffix("\n") })
        XCTAssertEqual(log, "- rbac_access_denied_matched_policy[local] 127.0.0.1:\(upstream.port) \(request.count)\n", "as Envoy logs it")
        proxy.stop()

        bootstrap.tcpFilters = [filter("ALLOW")]
        let allowing = try start(bootstrap)
        let answer = String(decoding: try TestClient.exchange(port: bootstrap.tcpPort, bytes: request), as: UTF8.self)
        XCTAssertTrue(answer.hasSuffix("app GET /through-tcp\n"), answer)
        XCTAssertEqual(allowing.stats.value("tcp.rbac.allowed"), 1)
    }
}
