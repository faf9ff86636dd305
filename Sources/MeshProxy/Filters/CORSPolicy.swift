/// A route's CORS policy (`envoy.extensions.filters.http.cors.v3.CorsPolicy` in `typed_per_filter_config`), run by
/// the cors filter as Envoy runs it: a request whose `Origin` one of the patterns allows gets the allow-origin
/// (and credentials, expose) headers on its response; a preflight (OPTIONS with Access-Control-Request-Method)
/// from an allowed origin is answered 200 by the proxy itself. Requests from other origins pass untouched.
public struct CORSPolicy: Sendable {
    public static let type = "envoy.extensions.filters.http.cors.v3.CorsPolicy"

    public var allowedOrigins: [StringMatcher]
    public var allowMethods: String?
    public var allowHeaders: String?
    public var exposeHeaders: String?
    public var maxAge: String?
    public var allowCredentials: Bool
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
        _ = try reader.bool("forward_not_matching_preflights")
        return CORSPolicy(allowedOrigins: origins, allowMethods: try reader.string("allow_methods"), allowHeaders: try reader.string("allow_headers"),
                          exposeHeaders: try reader.string("expose_headers"), maxAge: try reader.string("max_age"),
                          allowCredentials: try reader.bool("allow_credentials") ?? false, enabledFraction: fraction)
    }

    /// What the policy does to a request: nothing (`nil`), or the preflight answer's headers, or the headers
    /// to add to the upstream's response.
    enum Action {
        case answerPreflight([(name: String, value: String)])
        case addToResponse([(name: String, value: String)])
    }

    func action(method: String, origin: String?, requestMethod: String?) -> Action? {
        guard let origin, !origin.isEmpty, allowedOrigins.contains(where: { $0.matches(origin) }) else { return nil }
        guard enabledFraction >= 1 || Double.random(in: 0..<1) < enabledFraction else { return nil }
        var headers: [(name: String, value: String)] = [("access-control-allow-origin", origin)]
        if allowCredentials { headers.append(("access-control-allow-credentials", "true")) }
        if method == "OPTIONS", let requestMethod, !requestMethod.isEmpty {
            if let allowMethods { headers.append(("access-control-allow-methods", allowMethods)) }
            if let allowHeaders { headers.append(("access-control-allow-headers", allowHeaders)) }
            if let maxAge { headers.append(("access-control-max-age", maxAge)) }
            if let exposeHeaders { headers.append(("access-control-expose-headers", exposeHeaders)) }
            return .answerPreflight(headers)
        }
        if let exposeHeaders { headers.append(("access-control-expose-headers", exposeHeaders)) }
        return .addToResponse(headers)
    }
}
