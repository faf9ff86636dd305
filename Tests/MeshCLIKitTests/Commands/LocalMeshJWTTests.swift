import Foundation
import LocalPods
import MeshTestSupport
import XCTest

/// RequestAuthentication in local mode, through the same shared mesh as LocalMeshTests (meshctl's proxy) and
/// LocalMeshEnvoyTests (real Envoy sidecars): tokens signed in the test, keys inline in the resource.
extension LocalMeshScenarios {
    static let jwtIssuer = "https://issuer.meshctl.test"

    /// A RequestAuthentication and an AuthorizationPolicy requiring a request principal on the server: no token is
    /// 403 (RBAC), a bad token 401 (the JWT filter), a good one 200; `local curl -H` sends the token.
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
              rules: [{from: [{source: {requestPrincipals: ["\(Self.jwtIssuer)/*"]}}]}]

            """)
        defer { mesh.delete("requestauthentication/jwt", "authorizationpolicy/require-jwt") }
        let good = try tokens.token(TestTokens.claims(issuer: Self.jwtIssuer, subject: "alice"))
        let forged = try tokens.token(TestTokens.claims(issuer: Self.jwtIssuer, subject: "alice"), tamper: true)
        func status(_ token: String?) throws -> Int {
            try mesh.call(from: "client", "http://server/hello", headers: token.map { [("Authorization", "Bearer \($0)")] } ?? []).head.status
        }
        // Every server pod (v1 and v2) must have both filters before the answers mean anything.
        XCTAssertTrue(try mesh.eventually(timeout: 30) { try (0..<6).allSatisfy { _ in try status(nil) == 403 && status(forged) == 401 } },
                      "no token: 403, a forged token: 401 (from every server pod)")
        let refused = try mesh.call(from: "client", "http://server/hello", headers: [("Authorization", "Bearer \(forged)")])
        XCTAssertEqual(String(decoding: refused.body, as: UTF8.self), "Jwt verification fails")
        XCTAssertEqual(refused.head.headers.first { $0.name.lowercased() == "www-authenticate" }?.value, "Bearer realm=\"http://server/hello\", error=\"invalid_token\"")
        XCTAssertEqual(String(decoding: try mesh.call(from: "client", "http://server/hello").body, as: UTF8.self), "RBAC: access denied")
        XCTAssertEqual(try status(good), 200)
        let curl = try mesh.meshctl(["local", "curl", "--state-dir", mesh.home.state, "-n", "mesh", "--from", "deploy/client", "-H", "Authorization: Bearer \(good)",
                                     "http://server/hello"])
        XCTAssertEqual(curl.status, 0, curl.stderr)
        XCTAssertTrue(curl.stdout.contains("pod=server-"), curl.stdout)
        let withoutToken = try mesh.meshctl(["local", "curl", "--state-dir", mesh.home.state, "-n", "mesh", "--from", "deploy/client", "--fail", "http://server/hello"])
        XCTAssertEqual(withoutToken.status, 22, withoutToken.stdout + withoutToken.stderr)
    }
}

extension LocalMeshTests {
    func testRequestAuthenticationAndARequiredRequestPrincipal() throws { try checkRequestAuthenticationAndARequiredRequestPrincipal() }
}

extension LocalMeshEnvoyTests {
    func testRequestAuthenticationAndARequiredRequestPrincipal() throws { try checkRequestAuthenticationAndARequiredRequestPrincipal() }
}
