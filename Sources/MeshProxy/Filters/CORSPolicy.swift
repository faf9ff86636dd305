/// A route's CORS policy (`envoy.extensions.filters.http.cors.v3.CorsPolicy` in `typed_per_filter_config`), run by
/// the cors filter as Envoy 1.40 runs it: a request whose `Origin` one of the patterns allows (a pattern that matches
/// `*` allows every origin) gets the allow-origin (and credentials, expose) headers on its response, local replies
/// included; a preflight (OPTIONS with a non-empty Access-Control-Request-Method) from an allowed origin is answered
/// 200 by the proxy itself, and one from another origin goes to the upstream unless `forward_not_matching_preflights`
/// is false. `allow_methods: "*"` and `allow_headers: "*"` answer with what the preflight asked for.
public struct CORSPolicy: Sendable {
    public static let type = "envoy.extensions.filters.http.cors.v3.CorsPolicy"

    public var allowedOrigins: [StringMatcher]
    public var allowMethods: String?
    public var allowHeaders: String?
    public var exposeHeaders: String?
    public var maxAge: String?
    public var allowCredentials: Bool
    /// `forward_not_matching_preflights` (default true): a preflight from an origin no pattern allows goes to the
    /// upstream; false answers it 200 without allow-origin.
    public var forwardNotMatchingPreflights: Bool
    /// `filter_enabled`'s default fraction; the policy only acts when a draw falls under it.
    public var enabledFraction: Double

    static func read(_ reader: ConfigReader) throws(ProxyConfigError) -> CORSPolicy {
        let origins = try reader.list("allow_origin_string_match") { matcher throws(ProxyConfigError) in try StringMatcher.read(matcher) }
        var fraction = 1.0
        _ = try reader.object("filter_enabled") { enabled throws(ProxyConfigError) in
            fraction = try enabled.fractionalPercent("default_value") ?? 1
            enabled.ignore("runtime_key")
        }
        if reader.has("shadow_enabled") {
            throw reader.error("shadow_enabled is not supported (CORS policies are enforced or absent)", path: [.key("shadow_enabled")])
        }
        if try reader.bool("allow_private_network_access") == true {
            throw reader.error("private network access is not supported", path: [.key("allow_private_network_access")])
        }
        return CORSPolicy(allowedOrigins: origins, allowMethods: try reader.string("allow_methods"), allowHeaders: try reader.string("allow_headers"),
                          exposeHeaders: try reader.string("expose_headers"), maxAge: try reader.string("max_age"),
                          allowCredentials: try reader.bool("allow_credentials") ?? false,
                          forwardNotMatchingPreflights: try reader.bool("forward_not_matching_preflights") ?? true, enabledFraction: fraction)
    }

    /// What the policy does to a request: nothing (`nil`), or the preflight answer's headers, or the headers
    /// to add to the response (the upstream's or a local reply).
    enum Action {
        case answerPreflight([(name: String, value: String)])
        case addToResponse([(name: String, value: String)])
    }

    /// The policy's verdict on a request: whether its origin counted as valid (nil: not counted, as for a request
    /// without an Origin or with the policy disabled) and what to do.
    struct Verdict {
        var originAllowed: Bool?
        var action: Action?
    }

    func verdict(method: String, origin: String?, requestMethod: String?, requestHeaders: String?) -> Verdict {
        guard enabledFraction >= 1 || Double.random(in: 0..<1) < enabledFraction else { return Verdict() }
        guard let origin, !origin.isEmpty else { return Verdict() }
        let allowed = allowedOrigins.contains { $0.matches("*") || $0.matches(origin) }
        var verdict = Verdict(originAllowed: allowed)
        let isPreflight = method == "OPTIONS" && !(requestMethod ?? "").isEmpty
        guard isPreflight else {
            if allowed { verdict.action = .addToResponse(responseHeaders(origin: origin)) }
            return verdict
        }
        if !allowed && forwardNotMatchingPreflights { return verdict }
        var headers: [(name: String, value: String)] = []
        if allowed { headers.append(("access-control-allow-origin", origin)) }
        if allowCredentials { headers.append(("access-control-allow-credentials", "true")) }
        if let allowMethods, !allowMethods.isEmpty { headers.append(("access-control-allow-methods", allowMethods == "*" ? requestMethod ?? "" : allowMethods)) }
        if let allowHeaders, !allowHeaders.isEmpty { headers.append(("access-control-allow-headers", allowHeaders == "*" ? requestHeaders ?? "" : allowHeaders)) }
        if let maxAge, !maxAge.isEmpty { headers.append(("access-control-max-age", maxAge)) }
        if let exposeHeaders, !exposeHeaders.isEmpty { headers.append(("access-control-expose-headers", exposeHeaders)) }
        verdict.action = .answerPreflight(headers)
        return verdict
    }

    /// The headers an allowed origin's answer gets.
    private func responseHeaders(origin: String) -> [(name: String, value: String)] {
        var headers: [(name: String, value: String)] = [("access-control-allow-origin", origin)]
        if allowCredentials { headers.append(("access-control-allow-credentials", "true")) }
        if let exposeHeaders, !exposeHeaders.isEmpty { headers.append(("access-control-expose-headers", exposeHeaders)) }
        return headers
    }
}
