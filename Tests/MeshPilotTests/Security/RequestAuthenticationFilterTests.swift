import ConfigValues
import Foundation
@testable import MeshPilot
import MeshTestSupport
import XCTest

/// RequestAuthentication -> `envoy.filters.http.jwt_authn`, in the shapes istiod's own tests expect
/// (pilot/pkg/security/authn/policy_applier_test.go: one rule, several rules, the optional fields).
final class RequestAuthenticationFilterTests: XCTestCase {
    static func requestAuthentication(_ name: String, _ namespace: String, _ spec: String) throws -> JSONValue {
        try JSONValue.parse(#"{"apiVersion": "security.istio.io/v1", "kind": "RequestAuthentication", "metadata": {"name": "\#(name)", "namespace": "\#(namespace)"}, "spec": \#(spec)}"#)
    }

    static func snapshot(_ policies: [JSONValue], authorization: [JSONValue] = []) -> MeshSnapshot {
        MeshSnapshot(objects: [RequestAuthenticationFilter.storageKey: policies, AuthorizationFilters.storageKey: authorization])
    }

    /// A resolver that answers from a table of URLs and counts the fetches.
    final class FakeJWKSServer: @unchecked Sendable {
        let lock = NSLock()
        var bodies: [String: String]
        var fetched: [String] = []
        init(_ bodies: [String: String]) { self.bodies = bodies }
        func fetch(_ url: String, _ timeout: Double) -> Result<[UInt8], JWKSResolver.FetchFailure> {
            lock.lock(); defer { lock.unlock() }
            fetched.append(url)
            guard let body = bodies[url] else { return .failure(JWKSResolver.FetchFailure("status 404")) }
            return .success(Array(body.utf8))
        }
    }

    func testOneRuleIsThatProviderOrNoTokenWithTheKeysTheResolverFetched() throws {
        let keys = #"{"keys":[{"kty":"RSA","e":"AQAB","n":"abc"}]}"#
        let server = FakeJWKSServer(["https://secret.foo.com/oauth2/v3/certs": keys])
        let resolver = JWKSResolver { server.fetch($0, $1) }
        let changes = Counter()
        resolver.onChange = { changes.add() }
        let snapshot = Self.snapshot([try Self.requestAuthentication("jwt", "shop", #"{"selector": {"matchLabels": {"app": "cart"}}, "jwtRules": [{"issuer": "https://secret.foo.com", "jwksUri": "https://secret.foo.com/oauth2/v3/certs"}]}"#)])
        let first = RequestAuthenticationFilter.http(forWorkload: ["app": "cart"], namespace: "shop", in: snapshot, keys: resolver, clearRouteCache: false)
        // Not fetched yet: keys no token verifies with (fail closed), and a push when the keys arrive.
        XCTAssertEqual(first?[path: "typed_config", "providers", "origins-0", "local_jwks", "inline_string"]?.string, JWKSResolver.unsignableKeys)
        XCTAssertTrue(eventually(timeout: 10) { changes.value == 1 }, "the keys were fetched")
        let filter = try XCTUnwrap(RequestAuthenticationFilter.http(forWorkload: ["app": "cart"], namespace: "shop", in: snapshot, keys: resolver, clearRouteCache: false))
        let expected = try JSONValue.parse(#"""
            {"name": "envoy.filters.http.jwt_authn", "typed_config": {
              "@type": "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication",
              "providers": {"origins-0": {"issuer": "https://secret.foo.com", "local_jwks": {"inline_string": "{\"keys\":[{\"kty\":\"RSA\",\"e\":\"AQAB\",\"n\":\"abc\"}]}"},
                                          "payload_in_metadata": "payload", "normalize_payload_in_metadata": {"space_delimited_claims": ["permission", "scope"]}}},
              "rules": [{"match": {"prefix": "/"}, "requires": {"requires_any": {"requirements": [{"provider_name": "origins-0"}, {"allow_missing": {}}]}}}],
              "bypass_cors_preflight": true}}
            """#)
        XCTAssertEqual(filter, expected)
        XCTAssertEqual(server.fetched, ["https://secret.foo.com/oauth2/v3/certs"], "fetched once, then served from the cache")
        XCTAssertNil(RequestAuthenticationFilter.http(forWorkload: ["app": "payments"], namespace: "shop", in: snapshot, keys: resolver, clearRouteCache: false))
    }

    func testSeveralRulesAreAnyOneProviderOrEachValidOrMissingInIssuerOrder() throws {
        let snapshot = Self.snapshot([
            try Self.requestAuthentication("foo", "shop", #"{"jwtRules": [{"issuer": "https://secret.foo.com", "jwks": "foo-keys"}]}"#),
            try Self.requestAuthentication("mesh", "istio-system", #"{"jwtRules": [{"issuer": "https://secret.bar.com", "jwks": "bar-keys"}]}"#),
        ])
        let filter = try XCTUnwrap(RequestAuthenticationFilter.http(forWorkload: [:], namespace: "shop", in: snapshot, keys: nil, clearRouteCache: false))
        XCTAssertEqual(filter[path: "typed_config", "providers", "origins-0", "issuer"]?.string, "https://secret.bar.com")
        XCTAssertEqual(filter[path: "typed_config", "providers", "origins-1", "local_jwks", "inline_string"]?.string, "foo-keys")
        let either = #"{"requires_any": {"requirements": [{"provider_name": "origins-%d"}, {"allow_missing": {}}]}}"#
        let expected = try JSONValue.parse(#"{"requires_any": {"requirements": [{"provider_name": "origins-0"}, {"provider_name": "origins-1"}, {"requires_all": {"requirements": ["#
                                           + String(format: either, 0) + ", " + String(format: either, 1) + "]}}]}}")
        XCTAssertEqual(filter[path: "typed_config", "rules", 0, "requires"], expected)
    }

    func testTheRulesOptionalFieldsAndGatewaysClearTheRouteCache() throws {
        let snapshot = Self.snapshot([try Self.requestAuthentication("full", "shop", #"""
            {"jwtRules": [{"issuer": "iss", "audiences": ["a", "b"], "jwks": "k", "fromHeaders": [{"name": "x-jwt", "prefix": "Bearer "}, {"name": "x-raw"}],
                           "fromParams": ["token"], "fromCookies": ["session"], "forwardOriginalToken": true, "outputPayloadToHeader": "x-payload",
                           "outputClaimToHeaders": [{"header": "x-sub", "claim": "sub"}], "spaceDelimitedClaims": ["roles", "scope"]}]}
            """#)])
        let filter = try XCTUnwrap(RequestAuthenticationFilter.http(forWorkload: [:], namespace: "shop", in: snapshot, keys: nil, clearRouteCache: true))
        let expected = try JSONValue.parse(#"""
            {"issuer": "iss", "audiences": ["a", "b"], "local_jwks": {"inline_string": "k"}, "forward": true,
             "from_headers": [{"name": "x-jwt", "value_prefix": "Bearer "}, {"name": "x-raw"}], "from_params": ["token"],
             "forward_payload_header": "x-payload", "payload_in_metadata": "payload", "from_cookies": ["session"],
             "claim_to_headers": [{"header_name": "x-sub", "claim_name": "sub"}], "clear_route_cache": true,
             "normalize_payload_in_metadata": {"space_delimited_claims": ["permission", "roles", "scope"]}}
            """#)
        XCTAssertEqual(filter[path: "typed_config", "providers", "origins-0"], expected)
    }

    func testOpenIDDiscoveryFindsTheKeysOfARuleWithOnlyAnIssuerAndAFailureIsKept() throws {
        let server = FakeJWKSServer(["https://issuer.example/.well-known/openid-configuration": #"{"jwks_uri": "https://issuer.example/keys"}"#,
                                     "https://issuer.example/keys": #"{"keys": []}"#,
                                     "https://bad.example/keys": "<html>not keys</html>"])
        XCTAssertEqual(try JWKSResolver.resolve(uri: "", issuer: "https://issuer.example/", timeout: 5) { server.fetch($0, $1) }.get(), #"{"keys": []}"#)
        guard case .failure(let failure) = JWKSResolver.resolve(uri: "https://bad.example/keys", issuer: "", timeout: 5, fetch: { server.fetch($0, $1) }) else {
            return XCTFail("a body that is not a JWKS must be refused")
        }
        XCTAssertEqual(failure.description, "https://bad.example/keys did not answer a JWKS (a JSON object with a keys list)")
        let resolver = JWKSResolver { server.fetch($0, $1) }
        XCTAssertNil(resolver.keys(uri: "https://gone.example/keys", issuer: "", timeout: 5))
        XCTAssertTrue(eventually(timeout: 10) { !resolver.failures.isEmpty }, "the failure is recorded")
        XCTAssertEqual(resolver.failures, ["https://gone.example/keys: https://gone.example/keys: status 404"])
    }

    func testPrivateKeyMembersOfAnInlineJWKSNeverReachTheProxy() throws {
        let pasted = #"{"keys":[{"kty":"RSA","kid":"k","n":"AQAB","e":"AQAB","d":"SECRET","p":"P","q":"Q","dp":"1","dq":"2","qi":"3"},{"kty":"EC","crv":"P-256","x":"X","y":"Y","d":"ECSECRET"}]}"#
        let snapshot = Self.snapshot([try Self.requestAuthentication("pasted", "shop", #"{"jwtRules": [{"issuer": "i", "jwks": "\#(pasted.replacingOccurrences(of: "\"", with: "\\\""))"}]}"#)])
        let filter = try XCTUnwrap(RequestAuthenticationFilter.http(forWorkload: [:], namespace: "shop", in: snapshot, keys: nil, clearRouteCache: false))
        let inline = try XCTUnwrap(filter[path: "typed_config", "providers", "origins-0", "local_jwks", "inline_string"]?.string)
        XCTAssertEqual(inline, #"{"keys":[{"kty":"RSA","kid":"k","n":"AQAB","e":"AQAB"},{"kty":"EC","crv":"P-256","x":"X","y":"Y"}]}"#)
        XCTAssertEqual(RequestAuthenticationFilter.publicOnly(#"{"keys":[{"kty":"RSA","n":"N","e":"E"}]}"#), #"{"keys":[{"kty":"RSA","n":"N","e":"E"}]}"#, "untouched without private members")
    }

    func testKeysAreFetchedAgainWhenTheyRotateAndAfterAFailure() throws {
        let server = FakeJWKSServer([:])
        let resolver = JWKSResolver(refreshInterval: 0.2, retryInterval: 0.1) { server.fetch($0, $1) }
        let changes = Counter()
        resolver.onChange = { changes.add() }
        let uri = "http://keys.example/jwks"
        XCTAssertNil(resolver.keys(uri: uri, issuer: "", timeout: 5))
        XCTAssertTrue(eventually { !resolver.failures.isEmpty }, "the first fetch fails")
        server.lock.lock(); server.bodies[uri] = #"{"keys": [1]}"#; server.lock.unlock()
        XCTAssertTrue(eventually { resolver.keys(uri: uri, issuer: "", timeout: 5) == #"{"keys": [1]}"# }, "retried after the failure")
        server.lock.lock(); server.bodies[uri] = #"{"keys": [2]}"#; server.lock.unlock()
        XCTAssertTrue(eventually { resolver.keys(uri: uri, issuer: "", timeout: 5) == #"{"keys": [2]}"# }, "the rotated keys are fetched")
        XCTAssertTrue(eventually { changes.value == 2 }, "a push for the keys that arrived and one for the rotation: \(changes.value)")
        XCTAssertTrue(resolver.failures.isEmpty)
    }

    func testTheJWTFilterGoesBeforeRBACOnInboundChains() throws {
        let snapshot = try PilotFixtures.snapshot(fixture: "bookinfo.yaml", adding: """
            apiVersion: security.istio.io/v1
            kind: RequestAuthentication
            metadata: {name: jwt, namespace: default}
            spec:
              jwtRules: [{issuer: "testing@secure.istio.io", jwks: "{\\"keys\\": []}"}]
            ---
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: require-jwt, namespace: default}
            spec:
              selector: {matchLabels: {app: reviews}}
              rules: [{from: [{source: {requestPrincipals: ["testing@secure.istio.io/*"]}}]}]
            """)
        let resources = Pilot(authority: nil).resources(for: PilotFixtures.reviewsV1, in: snapshot)
        let inbound = try XCTUnwrap(resources.listeners.named("virtualInbound"))
        let chains = inbound["filter_chains"]?.array ?? []
        let http = try XCTUnwrap(chains.first { $0[path: "filter_chain_match", "destination_port"]?.int == 9080 })
        let filters = (http[path: "filters", 0, "typed_config", "http_filters"]?.array ?? []).compactMap { $0["name"]?.string }
        XCTAssertEqual(filters, ["envoy.filters.http.jwt_authn", "envoy.filters.http.rbac", "envoy.filters.http.fault", "istio.stats", "envoy.filters.http.router"])
    }

    func testGatewaysGetTheJWTFilterFirstWithTheRouteCacheCleared() throws {
        let snapshot = try PilotFixtures.snapshot(fixture: "bookinfo.yaml", adding: GatewayConfigTests.ingress + """

            ---
            apiVersion: security.istio.io/v1
            kind: RequestAuthentication
            metadata: {name: ingress-jwt, namespace: istio-system}
            spec:
              selector: {matchLabels: {istio: ingressgateway}}
              jwtRules: [{issuer: "testing@secure.istio.io", jwks: "{\\"keys\\": []}"}]
            """)
        let out = Pilot(authority: nil).resources(for: GatewayConfigTests.node, in: snapshot)
        for listener in out.listeners {
            for chain in listener["filter_chains"]?.array ?? [] {
                let filters = chain[path: "filters", 0, "typed_config", "http_filters"]?.array ?? []
                XCTAssertEqual(filters.first?["name"]?.string, "envoy.filters.http.jwt_authn", listener["name"]?.string ?? "")
                XCTAssertEqual(filters.first?[path: "typed_config", "providers", "origins-0", "clear_route_cache"], .bool(true))
            }
        }
        XCTAssertEqual(out.listeners.count, 2)
    }
}

/// A thread-safe count.
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func add() { lock.lock(); count += 1; lock.unlock() }
    var value: Int { lock.lock(); defer { lock.unlock() }; return count }
}
