import ConfigValues

/// The `envoy.filters.http.jwt_authn` filter istiod puts first on a workload's inbound HTTP chains (and a gateway's
/// HTTP listeners) for the RequestAuthentications that select it: one provider per JWT rule, named `origins-I` in the
/// order of the rules' issuers, each writing the token's payload to the `payload` metadata key, which RBAC's
/// `requestPrincipals` and `request.auth.claims[...]` matchers read. A request without a token passes (allow_missing);
/// a token that is present must be valid for one of the providers.
public enum RequestAuthenticationFilter {
    public static let storageKey = "requestauthentications.security.istio.io"
    public static let filterName = "envoy.filters.http.jwt_authn"
    static let type = "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication"
    /// The metadata key the payload goes to (`envoy.filters.http.jwt_authn` -> `payload` -> claim).
    public static let payloadKey = "payload"
    /// Claims Envoy splits on spaces before writing them to metadata (Istio always lists these two).
    static let defaultSpaceDelimitedClaims = ["permission", "scope"]
    /// Istio's fetch timeout for a `jwksUri` when the rule sets none.
    static let defaultTimeoutSeconds = 5.0

    /// The filter for the workload, nil when no RequestAuthentication selects it. `keys` fetches `jwksUri`s (nil: none
    /// is fetched, and such rules get keys nobody can sign for); `clearRouteCache` is set for gateways, as istiod does.
    public static func http(forWorkload labels: [String: String], namespace: String, in snapshot: MeshSnapshot,
                            keys: JWKSResolver?, clearRouteCache: Bool) -> JSONValue? {
        let policies = AuthorizationFilters.selected(labels: labels, namespace: namespace, snapshot: snapshot, storageKey: storageKey)
        let rules = policies.flatMap { $0["spec"]?["jwtRules"]?.array ?? [] }
        // Sorted by issuer, stably, so the output does not depend on the store's order.
        let ordered = rules.enumerated().sorted { ($0.element["issuer"]?.string ?? "", $0.offset) < ($1.element["issuer"]?.string ?? "", $1.offset) }.map(\.element)
        guard !ordered.isEmpty else { return nil }
        var providers: [(key: String, value: JSONValue)] = []
        for (index, rule) in ordered.enumerated() {
            providers.append((key: "origins-\(index)", value: provider(rule, keys: keys, clearRouteCache: clearRouteCache)))
        }
        let names = providers.map(\.key)
        func named(_ name: String) -> JSONValue { J.object(["provider_name": .string(name)]) }
        func anyOf(_ requirements: [JSONValue]) -> JSONValue { J.object(["requires_any": J.object(["requirements": .array(requirements)])]) }
        let allowMissing = J.object(["allow_missing": J.object([:])])
        let perProvider = names.map { anyOf([named($0), allowMissing]) }
        // One provider: that provider or no token. Several: any one of them alone (they may share a header), or each
        // one valid-or-absent.
        let requires = names.count == 1 ? perProvider[0]
            : anyOf(names.map(named) + [J.object(["requires_all": J.object(["requirements": .array(perProvider)])])])
        return J.object([
            "name": .string(filterName),
            "typed_config": J.object([
                "@type": .string(type),
                "providers": .object(providers.sorted { $0.key < $1.key }),
                "rules": .array([J.object(["match": J.object(["prefix": .string("/")]), "requires": requires])]),
                "bypass_cors_preflight": .bool(true),
            ]),
        ])
    }

    /// Puts `filter` first in every http_connection_manager of the listeners (a gateway's).
    static func insert(_ filter: JSONValue, intoManagersOf listeners: inout [JSONValue]) {
        for index in listeners.indices {
            guard var chains = listeners[index]["filter_chains"]?.array else { continue }
            for chainIndex in chains.indices {
                guard var filters = chains[chainIndex]["filters"]?.array else { continue }
                for filterIndex in filters.indices where filters[filterIndex]["name"]?.string == "envoy.filters.network.http_connection_manager" {
                    var typed = filters[filterIndex]["typed_config"] ?? .object([])
                    typed.set("http_filters", .array([filter] + (typed["http_filters"]?.array ?? [])))
                    filters[filterIndex]["typed_config"] = typed
                }
                chains[chainIndex]["filters"] = .array(filters)
            }
            listeners[index]["filter_chains"] = .array(chains)
        }
    }

    private typealias J = EnvoyJSON
    private typealias R = RBACJSON

    private static func provider(_ rule: JSONValue, keys: JWKSResolver?, clearRouteCache: Bool) -> JSONValue {
        var fields: [(String, JSONValue)] = []
        if let issuer = rule["issuer"]?.string, !issuer.isEmpty { fields.append(("issuer", .string(issuer))) }
        let audiences = strings(rule["audiences"])
        if !audiences.isEmpty { fields.append(("audiences", .array(audiences.map(JSONValue.string)))) }
        fields.append(("local_jwks", R.object([("inline_string", .string(jwks(rule, keys: keys)))])))
        if rule["forwardOriginalToken"]?.bool == true { fields.append(("forward", .bool(true))) }
        let headers = (rule["fromHeaders"]?.array ?? []).map { header -> JSONValue in
            var pairs: [(String, JSONValue)] = [("name", .string(header["name"]?.string ?? ""))]
            if let prefix = header["prefix"]?.string, !prefix.isEmpty { pairs.append(("value_prefix", .string(prefix))) }
            return R.object(pairs)
        }
        if !headers.isEmpty { fields.append(("from_headers", .array(headers))) }
        let params = strings(rule["fromParams"])
        if !params.isEmpty { fields.append(("from_params", .array(params.map(JSONValue.string)))) }
        if let header = rule["outputPayloadToHeader"]?.string, !header.isEmpty { fields.append(("forward_payload_header", .string(header))) }
        fields.append(("payload_in_metadata", .string(payloadKey)))
        let cookies = strings(rule["fromCookies"])
        if !cookies.isEmpty { fields.append(("from_cookies", .array(cookies.map(JSONValue.string)))) }
        let claimHeaders = (rule["outputClaimToHeaders"]?.array ?? []).map { pair in
            R.object([("header_name", .string(pair["header"]?.string ?? "")), ("claim_name", .string(pair["claim"]?.string ?? ""))])
        }
        if !claimHeaders.isEmpty { fields.append(("claim_to_headers", .array(claimHeaders))) }
        if clearRouteCache { fields.append(("clear_route_cache", .bool(true))) }
        let spaceDelimited = Set(strings(rule["spaceDelimitedClaims"]) + defaultSpaceDelimitedClaims).sorted()
        fields.append(("normalize_payload_in_metadata", R.object([("space_delimited_claims", .array(spaceDelimited.map(JSONValue.string)))])))
        return R.object(fields)
    }

    /// The rule's inline `jwks` (without private key members), else what the resolver has for its `jwksUri` (or
    /// issuer), else keys nobody can sign for.
    private static func jwks(_ rule: JSONValue, keys: JWKSResolver?) -> String {
        if let inline = rule["jwks"]?.string, !inline.isEmpty { return publicOnly(inline) }
        let uri = rule["jwksUri"]?.string ?? "", issuer = rule["issuer"]?.string ?? ""
        let timeout = rule["timeout"]?.string.flatMap(JWKSResolver.seconds) ?? defaultTimeoutSeconds
        return keys?.keys(uri: uri, issuer: issuer, timeout: timeout) ?? JWKSResolver.unsignableKeys
    }

    /// RSA and EC private members (`d`, `p`, `q`, `dp`, `dq`, `qi`, `oth`): verification needs none of them, and a key
    /// pasted whole must not reach config_dump. Text that is not a JWKS is kept as it is (the proxy says what is wrong).
    static func publicOnly(_ jwks: String) -> String {
        let privateMembers: Set<String> = ["d", "p", "q", "dp", "dq", "qi", "oth"]
        guard let document = try? JSONValue.parse(jwks), let list = document["keys"]?.array else { return jwks }
        let hasPrivate = list.contains { key in
            key["kty"]?.string != "oct" && (key.object ?? []).contains { privateMembers.contains($0.key) }
        }
        guard hasPrivate else { return jwks }
        var stripped = document
        stripped["keys"] = .array(list.map { key in
            guard key["kty"]?.string != "oct", let pairs = key.object else { return key }
            return .object(pairs.filter { !privateMembers.contains($0.key) })
        })
        return String(decoding: stripped.serializedBytes, as: UTF8.self)
    }

    private static func strings(_ value: JSONValue?) -> [String] { (value?.array ?? []).compactMap(\.string) }
}
