import ConfigValues
import Foundation
@testable import MeshProxy
import MeshNet
import MeshHTTP1
import MeshTestSupport
import XCTest

/// `envoy.filters.http.jwt_authn` in meshctl's proxy: tokens signed in the test (RSA PKCS#1 and PSS, ECDSA P-256)
/// checked as Envoy checks them, the payload reaching RBAC's metadata matchers, the request's headers changed.
final class JWTAuthnTests: PolicyFilterTestCase {
    static let issuer = "https://issuer.meshctl.test"

    /// Istio's shape: one provider, a token when present must be valid; YAML flow for `http_filters`.
    static func jwtFilter(jwks: String, audiences: [String] = ["shop"], extra: String = "", requires: String? = nil) -> String {
        let quoted = String(decoding: try! JSONSerialization.data(withJSONObject: [jwks], options: [.withoutEscapingSlashes]), as: UTF8.self).dropFirst().dropLast()
        let audienceList = audiences.map { "\"\($0)\"" }.joined(separator: ", ")
        let requirement = requires ?? "{requires_any: {requirements: [{provider_name: origins-0}, {allow_missing: {}}]}}"
        return "{name: envoy.filters.http.jwt_authn, typed_config: {\"@type\": type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication, "
            + "providers: {origins-0: {issuer: \"\(issuer)\", audiences: [\(audienceList)], local_jwks: {inline_string: \(quoted)}, payload_in_metadata: payload\(extra)}}, "
            + "rules: [{match: {prefix: /}, requires: \(requirement)}], bypass_cors_preflight: true}}"
    }

    /// RBAC as the pilot writes it for `requestPrincipals: ["ISSUER/*"]` on paths under /private.
    static let requirePrincipal = PolicyBootstrap.rbacFilter("""
        rules: {action: DENY, policies: {"ns[shop]-policy[require-jwt]-rule[0]": {permissions: [{url_path: {path: {prefix: /private}}}], principals: [{not_id: {and_ids: {ids: [{metadata: {filter: envoy.filters.http.jwt_authn, path: [{key: payload}, {key: iss}], value: {string_match: {exact: "\(issuer)"}}}}, {metadata: {filter: envoy.filters.http.jwt_authn, path: [{key: payload}, {key: sub}], value: {string_match: {safe_regex: {regex: ".+"}}}}}]}}}]}}}
        """)

    /// The claims-based RBAC Istio writes for `when: request.auth.claims[groups]: [admins]` (a list or a string).
    static let requireGroup = PolicyBootstrap.rbacFilter("""
        rules: {action: ALLOW, policies: {"ns[shop]-policy[admins]-rule[0]": {permissions: [{any: true}], principals: [{metadata: {filter: envoy.filters.http.jwt_authn, path: [{key: payload}, {key: groups}], value: {or_match: {value_matchers: [{list_match: {one_of: {string_match: {exact: admins}}}}, {string_match: {exact: admins}}]}}}}]}}}
        """)

    func testTokensAreCheckedAndThePayloadReachesRBAC() throws {
        let tokens = try TestTokens()
        var bootstrap = PolicyBootstrap(directory: directory, upstreamPort: upstream.port)
        bootstrap.httpFilters = [Self.jwtFilter(jwks: tokens.jwks), Self.requirePrincipal]
        let proxy = try start(bootstrap)
        let good = TestTokens.claims(issuer: Self.issuer, audience: "shop")
        func get(_ path: String, _ token: String?) throws -> TestResponse {
            try TestClient.get(port: bootstrap.httpPort, path: path, host: "app", headers: token.map { [("authorization", "Bearer \($0)")] } ?? [])
        }
        for algorithm in ["RS256", "RS384", "PS256", "ES256"] {
            let response = try get("/private/\(algorithm)", try tokens.token(good, algorithm: algorithm))
            XCTAssertEqual(response.status, 200, "\(algorithm): \(response.body)")
        }
        let realm = "Bearer realm=\"http://app/public\", error=\"invalid_token\""
        let refused: [(String, String, Int, String)] = [
            ("expired", try tokens.token(TestTokens.claims(issuer: Self.issuer, audience: "shop", expiresIn: -120)), 401, "Jwt is expired"),
            ("not yet valid", try tokens.token(TestTokens.claims(issuer: Self.issuer, audience: "shop", extra: ",\"nbf\":\(Int(Date().timeIntervalSince1970) + 600)")), 401, "Jwt not yet valid"),
            ("other issuer", try tokens.token(TestTokens.claims(issuer: "https://other.test", audience: "shop")), 401, "Jwt issuer is not configured"),
            ("other audience", try tokens.token(TestTokens.claims(issuer: Self.issuer, audience: "billing")), 403, "Audiences in Jwt are not allowed"),
            ("bad signature", try tokens.token(good, tamper: true), 401, "Jwt verification fails"),
            ("unknown key", try tokens.token(good, kid: "nobody"), 401, "Jwks doesn't have key to match kid or alg from Jwt"),
            ("two parts", "abc.def", 401, "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections"),
        ]
        for (name, token, status, body) in refused {
            let response = try get("/public", token)
            XCTAssertEqual(response.status, status, name)
            XCTAssertEqual(response.body, body, name)
            XCTAssertEqual(response.header("www-authenticate"), realm, name)
        }
        // A token 30 s past its expiry is within Envoy's 60 s clock skew.
        XCTAssertEqual(try get("/public", try tokens.token(TestTokens.claims(issuer: Self.issuer, audience: "shop", expiresIn: -30))).status, 200)
        // No token: authentication passes, and RBAC denies what needs a request principal.
        XCTAssertEqual(try get("/public", nil).status, 200)
        let denied = try get("/private/x", nil)
        XCTAssertEqual(denied.status, 403)
        XCTAssertEqual(denied.body, "RBAC: access denied")
        let log = bootstrap.accessLogLines(count: 4 + refused.count + 3)
        XCTAssertTrue(log.contains("/public 401 - jwt_authn_access_denied{Jwt_is_expired}"), "\(log)")
        XCTAssertTrue(log.contains("/public 403 - jwt_authn_access_denied{Audiences_in_Jwt_are_not_allowed}"), "\(log)")
        XCTAssertEqual(proxy.stats.value("http.inbound.jwt_authn.allowed"), 7)
        XCTAssertEqual(proxy.stats.value("http.inbound.jwt_authn.denied"), refused.count)
    }

    func testClaimListsMatchRBACAndARequiredProviderAnswersJwtIsMissing() throws {
        let tokens = try TestTokens()
        var bootstrap = PolicyBootstrap(directory: directory, upstreamPort: upstream.port)
        bootstrap.httpFilters = [Self.jwtFilter(jwks: tokens.jwks, extra: ", normalize_payload_in_metadata: {space_delimited_claims: [groups]}",
                                                requires: "{provider_name: origins-0}"), Self.requireGroup]
        try start(bootstrap)
        func get(_ token: String?) throws -> TestResponse {
            try TestClient.get(port: bootstrap.httpPort, path: "/", host: "app", headers: token.map { [("authorization", "Bearer \($0)")] } ?? [])
        }
        let missing = try get(nil)
        XCTAssertEqual(missing.status, 401)
        XCTAssertEqual(missing.body, "Jwt is missing")
        XCTAssertEqual(missing.header("www-authenticate"), "Bearer realm=\"http://app/\"", "no error attribute when the token is missing")
        for (groups, status) in [(#"["devs","admins"]"#, 200), (#""devs admins""#, 200), (#""admins""#, 200), (#"["devs"]"#, 403)] {
            let token = try tokens.token(TestTokens.claims(issuer: Self.issuer, audience: "shop", extra: ",\"groups\":\(groups)"))
            XCTAssertEqual(try get(token).status, status, "groups \(groups)")
        }
    }

    func testTheTokenHeaderIsRemovedAndPayloadAndClaimHeadersAreAdded() throws {
        let tokens = try TestTokens()
        let filter = Self.jwtFilter(jwks: tokens.jwks, extra: ", forward_payload_header: x-jwt-payload, claim_to_headers: [{header_name: x-sub, claim_name: sub}, {header_name: x-exp, claim_name: exp}], normalize_payload_in_metadata: {space_delimited_claims: [scope]}")
        let config = try Self.read(filter)
        let claims = TestTokens.claims(issuer: Self.issuer, subject: "bob", audience: "shop", extra: #","scope":"read write""#)
        let token = try tokens.token(claims)
        let request = HTTPRequest(method: "GET", target: "/", headers: [("host", "app"), ("Authorization", "Bearer \(token)")])
        let outcome = JWTAuthnFilter.run(config, request: request, secure: false, statPrefix: "http.t.", stats: ProxyStats())
        XCTAssertNil(outcome.reply)
        XCTAssertEqual(outcome.removedHeaders, ["authorization"])
        XCTAssertEqual(outcome.addedHeaders.map(\.name), ["x-jwt-payload", "x-sub", "x-exp"])
        XCTAssertEqual(outcome.addedHeaders[0].value, token.split(separator: ".")[1].description)
        XCTAssertEqual(outcome.addedHeaders[1].value, "bob")
        let payload = outcome.metadata.first { $0.key == "payload" }?.value
        XCTAssertEqual(payload?["scope"], .array([.string("read"), .string("write")]))
        XCTAssertEqual(payload?["sub"]?.string, "bob")
        // Other places: a header with its own prefix, a query parameter, a cookie; `forward` keeps the header.
        let places = try Self.read(Self.jwtFilter(jwks: tokens.jwks, extra: ", forward: true, from_headers: [{name: x-token, value_prefix: \"Token \"}], from_params: [jwt], from_cookies: [session]"))
        for (target, headers) in [("/", [("x-token", "Token \(token)")]), ("/?jwt=\(token)", []), ("/", [("cookie", "a=b; session=\(token)")])] {
            let outcome = JWTAuthnFilter.run(places, request: HTTPRequest(method: "GET", target: target, headers: [("host", "app")] + headers), secure: false,
                                             statPrefix: "http.t.", stats: ProxyStats())
            XCTAssertNil(outcome.reply, "\(target) \(headers)")
            XCTAssertEqual(outcome.removedHeaders, [])
            XCTAssertFalse(outcome.metadata.isEmpty)
        }
        XCTAssertEqual(JWTAuthnFilter.withoutParameter("jwt", in: "/a?x=1&jwt=T&y=2"), "/a?x=1&y=2")
        XCTAssertEqual(JWTAuthnFilter.withoutParameter("access_token", in: "/a?access_token=T"), "/a")
        // With its own places, the default Authorization header is not read: no token, and allow_missing passes.
        let ignored = JWTAuthnFilter.run(places, request: request, secure: false, statPrefix: "http.t.", stats: ProxyStats())
        XCTAssertNil(ignored.reply)
        XCTAssertTrue(ignored.metadata.isEmpty)
    }

    func testConfigurationsTheProxyCannotRunAreRefusedWithTheirPath() throws {
        let tokens = try TestTokens()
        let cases: [(String, String)] = [
            (Self.jwtFilter(jwks: "not json"), "Provider 'origins-0' in jwt_authn config has invalid local jwks: Jwks is an invalid JSON"),
            (Self.jwtFilter(jwks: #"{"keys": [{"kty": "RSA", "n": "!!", "e": "AQAB"}]}"#), "Jwks RSA [n] or [e] field is missing or has a parse error"),
            (Self.jwtFilter(jwks: tokens.jwks, requires: "{provider_name: origins-9}"), "names the provider origins-9, which is not in providers"),
            (Self.jwtFilter(jwks: tokens.jwks, extra: ", remote_jwks: {http_uri: {uri: \"https://x/keys\", cluster: x, timeout: 1s}}"), "remote_jwks is not supported"),
            (Self.jwtFilter(jwks: tokens.jwks, extra: ", subjects: {prefix: x}"), "subjects: field is not supported"),
        ]
        for (filter, problem) in cases {
            XCTAssertThrowsError(try Self.read(filter)) { error in
                XCTAssertTrue("\(error)".contains(problem), "\(error)")
                XCTAssertTrue("\(error)".contains("typed_config.providers.origins-0") || "\(error)".contains("typed_config.rules[0]"), "\(error)")
            }
        }
    }

    /// Reads one `http_filters` entry (YAML flow) as the proxy does.
    static func read(_ filter: String) throws -> JWTAuthnConfig {
        let document = try XCTUnwrap(try YAMLParser.parse(filter, file: "filter.yaml").first)
        let reader = try ConfigReader.mapping(document.root, file: "filter.yaml", path: [])
        let parsed = try HTTPFilter.read(reader)
        try reader.finish()
        guard case .jwtAuthn(let config) = parsed else { throw TestClientError(message: "not a JWT filter") }
        return config
    }
}
