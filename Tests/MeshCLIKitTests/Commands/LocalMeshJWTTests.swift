import Foundation
import LocalPods
import MeshTestSupport
import XCTest

/// RequestAuthentication in local mode, through the same shared mesh as LocalMeshTests (meshctl's proxy) and
/// LocalMeshEnvoyTests (real Envoy sidecars): tokens signed in the test, keys inline in the resource.
extension LocalMeshScenarios {
    static let jwtIssuer = "https://issuer.meshctl.test"

    /// A RequestAuthentication and an AuthorizationPolicy requiring a request principal under /jwt/ on the server
    /// (Istio's pattern: DENY when `notRequestPrincipals: ["*"]`): no token is 403 (RBAC), a bad token 401 (the JWT
    /// filter), a good one 200; `local curl -H` sends the token. Other paths and calls without a token are left alone,
    /// so a sidecar still draining a connection on the old configuration cannot disturb the next test.
    func checkRequestAuthenticationAndARequiredRequestPrincipal() throws {
        let mesh = try running()
        let tokens = try TestTokens()
        let jwks = tokens.jwks.replacingOccurrences(of: "\n", with: " ").replacingOccurrences(of: "'", with: "''")
        try mesh.apply("""
            apiVersion: security.istio.io/v1
            kind: RequestAuthentication
            metadata: {name: jwt, namespace: mesh}
            spec:
              selector: {matchLabels: {app: server}}
              jwtRules: [{issuer: "\(Self.jwtIssuer)", jwks: '\(jwks)'}]
            ---
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: require-jwt, namespace: mesh}
            spec:
              selector: {matchLabels: {app: server}}
              action: DENY
              rules: [{from: [{source: {notRequestPrincipals: ["*"]}}], to: [{operation: {paths: ["/jwt/*"]}}]}]

            """)
        let good = try tokens.token(TestTokens.claims(issuer: Self.jwtIssuer, subject: "alice"))
        let forged = try tokens.token(TestTokens.claims(issuer: Self.jwtIssuer, subject: "alice"), tamper: true)
        func status(_ token: String?) throws -> Int {
            try mesh.call(from: "client", "http://server/jwt/hello", headers: token.map { [("Authorization", "Bearer \($0)")] } ?? []).head.status
        }
        defer { mesh.delete("requestauthentication/jwt", "authorizationpolicy/require-jwt") }
        // Every server pod (v1 and v2) must have both filters before the answers mean anything.
        XCTAssertTrue(try mesh.eventually(timeout: 30) { try (0..<6).allSatisfy { _ in try status(nil) == 403 && status(forged) == 401 } },
                      "no token: 403, a forged token: 401 (from every server pod)")
        // A connection the client's sidecar opened before the change may still be served on the old configuration
        // while it drains (Envoy answers one more request there): each check below waits for its answer.
        var refused: HTTPCall.Response?
        XCTAssertTrue(try mesh.eventually {
            refused = try mesh.call(from: "client", "http://server/jwt/hello", headers: [("Authorization", "Bearer \(forged)")])
            return refused?.head.status == 401
        })
        XCTAssertEqual(refused.map { String(decoding: $0.body, as: UTF8.self) }, "Jwt verification fails")
        XCTAssertEqual(refused?.head.headers.first { $0.name.lowercased() == "www-authenticate" }?.value, "Bearer realm=\"http://server/jwt/hello\", error=\"invalid_token\"")
        var denied = ""
        XCTAssertTrue(try mesh.eventually { denied = String(decoding: try mesh.call(from: "client", "http://server/jwt/hello").body, as: UTF8.self); return denied == "RBAC: access denied" }, denied)
        XCTAssertTrue(try mesh.eventually { try status(good) == 200 }, "a signed token passes")
        XCTAssertEqual(try mesh.call(from: "client", "http://server/hello").head.status, 200, "other paths need no token")
        var curl = (status: Int32(0), stdout: "", stderr: "")
        XCTAssertTrue(try mesh.eventually {
            curl = try mesh.meshctl(["local", "curl", "--state-dir", mesh.home.state, "-n", "mesh", "--from", "deploy/client", "-H", "Authorization: Bearer \(good)",
                                     "http://server/jwt/hello"])
            return curl.status == 0 && curl.stdout.contains("pod=server-")
        }, curl.stdout + curl.stderr)
        var withoutToken = (status: Int32(0), stdout: "", stderr: "")
        XCTAssertTrue(try mesh.eventually {
            withoutToken = try mesh.meshctl(["local", "curl", "--state-dir", mesh.home.state, "-n", "mesh", "--from", "deploy/client", "--fail", "http://server/jwt/hello"])
            return withoutToken.status == 22
        }, "--fail on the 403: " + withoutToken.stdout + withoutToken.stderr)
    }
}

extension LocalMeshTests {
    func testRequestAuthenticationAndARequiredRequestPrincipal() throws { try checkRequestAuthenticationAndARequiredRequestPrincipal() }
}

extension LocalMeshEnvoyTests {
    func testRequestAuthenticationAndARequiredRequestPrincipal() throws { try checkRequestAuthenticationAndARequiredRequestPrincipal() }
}
