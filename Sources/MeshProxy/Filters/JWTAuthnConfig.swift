import ConfigValues
import Foundation

/// `envoy.filters.http.jwt_authn`: providers (who issues tokens, where they are, which keys verify them) and rules
/// (for requests matching a route match, which providers' tokens are required). Keys come inline (`local_jwks`);
/// local mode's pilot fetches `jwksUri`s itself, as istiod does, so `remote_jwks` is not supported.
public struct JWTAuthnConfig: Sendable {
    public var providers: [String: JWTProvider]
    var rules: [(match: RouteMatch, requirement: JWTRequirement?)]
    /// CORS preflight requests (OPTIONS with Origin and Access-Control-Request-Method) pass unchecked.
    public var bypassCORSPreflight: Bool

    static let type = "envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication"
}

/// One `JwtProvider`.
public struct JWTProvider: Sendable {
    public var issuer: String?
    public var audiences: [String]
    var keys: JWKSet
    /// `forward`: keep the token's header on the request sent upstream (removed by default).
    public var forward: Bool
    /// Where tokens are: headers (with a value prefix such as `Bearer `), query parameters, cookies. With none
    /// given, `Authorization: Bearer TOKEN` and `?access_token=TOKEN`.
    public var headers: [(name: String, prefix: String)]
    public var parameters: [String]
    public var cookies: [String]
    public var forwardPayloadHeader: String?
    public var padForwardPayloadHeader: Bool
    /// The metadata keys (under `envoy.filters.http.jwt_authn`) the payload and the header go to.
    public var payloadInMetadata: String?
    public var headerInMetadata: String?
    /// Claims whose space-separated string values go to metadata as lists (`scope`).
    public var spaceDelimitedClaims: [String]
    public var claimToHeaders: [(header: String, claim: String)]
    public var clockSkewSeconds: Int64
    public var requireExpiration: Bool

    /// Where a token was found, so that it can be removed from the request.
    enum Location { case header(String), parameter(String), cookie }

    /// The provider's token in the request and where it was, nil when there is none.
    func token(in request: HTTPRequestView) -> (token: String, location: Location)? {
        let headers = self.headers.isEmpty && parameters.isEmpty && cookies.isEmpty ? [("authorization", "Bearer ")] : self.headers
        for (name, prefix) in headers {
            for value in request.values(of: name) {
                if prefix.isEmpty { return (value.trimmingCharacters(in: .whitespaces), .header(name)) }
                guard value.count > prefix.count, value.lowercased().hasPrefix(prefix.lowercased()) else { continue }
                let rest = value.dropFirst(prefix.count).trimmingCharacters(in: .whitespaces)
                return (String(rest.prefix { $0 != "," && $0 != " " }), .header(name))
            }
        }
        let parameters = self.headers.isEmpty && self.parameters.isEmpty && cookies.isEmpty ? ["access_token"] : self.parameters
        for name in parameters {
            if let value = request.queryParameters.first(where: { $0.name == name })?.value { return (value, .parameter(name)) }
        }
        for name in cookies {
            if let value = request.cookies.first(where: { $0.name == name })?.value { return (value, .cookie) }
        }
        return nil
    }
}

/// A `JwtRequirement`: a tree of providers, any-of, all-of, and the two allowances.
indirect enum JWTRequirement: Sendable {
    case provider(String, audiences: [String]?)
    case any([JWTRequirement])
    case all([JWTRequirement])
    /// Passes when the request carries no token; a token that is there must be valid.
    case allowMissing
    /// Passes whatever the tokens are (their payloads still go to metadata when valid).
    case allowMissingOrFailed
}

extension JWTAuthnConfig {
    static func read(_ reader: ConfigReader) throws(ProxyConfigError) -> JWTAuthnConfig {
        var providers: [String: JWTProvider] = [:]
        if let node = reader.field("providers") {
            let map = try ConfigReader.mapping(node, file: reader.file, path: reader.path + [.key("providers")])
            for pair in node.pairs ?? [] {
                let name = pair.key.scalarText ?? ""
                if let provider = try map.object(name, { provider throws(ProxyConfigError) in try JWTProvider.read(provider, name: name) }) {
                    providers[name] = provider
                }
            }
            try map.finish()
        }
        let rules = try reader.list("rules") { rule throws(ProxyConfigError) -> (match: RouteMatch, requirement: JWTRequirement?) in
            guard let match = try rule.object("match", { match throws(ProxyConfigError) in try RouteMatch.read(match) }) else {
                throw rule.error("needs a match", path: [.key("match")])
            }
            if rule.has("requirement_name") { throw rule.error("requirement_name is not supported: give the requirement in requires", path: [.key("requirement_name")]) }
            let requirement = try rule.object("requires") { requires throws(ProxyConfigError) in try JWTRequirement.read(requires, providers: providers) }
            return (match, requirement)
        }
        let bypass = try reader.bool("bypass_cors_preflight") ?? false
        for key in ["filter_state_rules", "requirement_map", "stat_prefix", "strip_failure_response"] where reader.has(key) {
            throw reader.error("\(key) is not supported by meshctl's proxy", path: [.key(key)])
        }
        return JWTAuthnConfig(providers: providers, rules: rules, bypassCORSPreflight: bypass)
    }
}

extension JWTProvider {
    static func read(_ reader: ConfigReader, name: String) throws(ProxyConfigError) -> JWTProvider {
        let issuer = try reader.string("issuer")
        let audiences = try reader.strings("audiences")
        if reader.has("remote_jwks") {
            throw reader.error("remote_jwks is not supported by meshctl's proxy: give the keys in local_jwks (local mode's pilot fetches a jwksUri itself)",
                               path: [.key("remote_jwks")])
        }
        guard let source = try reader.object("local_jwks", { source throws(ProxyConfigError) in try DataSource.read(source) }) else {
            throw reader.error("needs local_jwks", path: [.key("local_jwks")])
        }
        let keys: JWKSet
        do {
            keys = try JWKSet(json: try source.bytes())
        } catch {
            throw reader.error("Provider '\(name)' in jwt_authn config has invalid local jwks: \(error)", path: [.key("local_jwks")])
        }
        let headers = try reader.list("from_headers") { header throws(ProxyConfigError) -> (name: String, prefix: String) in
            (try header.requiredString("name").lowercased(), try header.string("value_prefix") ?? "")
        }
        let claimHeaders = try reader.list("claim_to_headers") { pair throws(ProxyConfigError) -> (header: String, claim: String) in
            (try pair.requiredString("header_name").lowercased(), try pair.requiredString("claim_name"))
        }
        let spaceDelimited = try reader.object("normalize_payload_in_metadata") { normalize throws(ProxyConfigError) in
            try normalize.strings("space_delimited_claims")
        } ?? []
        reader.ignore("jwt_cache_config", "clear_route_cache")
        return JWTProvider(issuer: issuer, audiences: audiences, keys: keys, forward: try reader.bool("forward") ?? false, headers: headers,
                           parameters: try reader.strings("from_params"), cookies: try reader.strings("from_cookies"),
                           forwardPayloadHeader: try reader.string("forward_payload_header"),
                           padForwardPayloadHeader: try reader.bool("pad_forward_payload_header") ?? false,
                           payloadInMetadata: try reader.string("payload_in_metadata"), headerInMetadata: try reader.string("header_in_metadata"),
                           spaceDelimitedClaims: spaceDelimited, claimToHeaders: claimHeaders,
                           clockSkewSeconds: Int64(try reader.integer("clock_skew_seconds") ?? 60),
                           requireExpiration: try reader.bool("require_expiration") ?? false)
    }
}

extension JWTRequirement {
    static func read(_ reader: ConfigReader, providers: [String: JWTProvider]) throws(ProxyConfigError) -> JWTRequirement {
        var found: [JWTRequirement] = []
        func provider(_ name: String, path: [YAMLPathComponent]) throws(ProxyConfigError) -> String {
            guard providers[name] != nil else { throw reader.error("names the provider \(name), which is not in providers", path: path) }
            return name
        }
        if let name = try reader.string("provider_name") { found.append(.provider(try provider(name, path: [.key("provider_name")]), audiences: nil)) }
        if let pair = try reader.object("provider_and_audiences", { pair throws(ProxyConfigError) -> JWTRequirement in
            .provider(try provider(try pair.requiredString("provider_name"), path: [.key("provider_and_audiences")]), audiences: try pair.strings("audiences"))
        }) { found.append(pair) }
        for (key, isAll) in [("requires_any", false), ("requires_all", true)] {
            if let list = try reader.object(key, { group throws(ProxyConfigError) -> [JWTRequirement] in
                try group.list("requirements") { item throws(ProxyConfigError) in try read(item, providers: providers) }
            }) { found.append(isAll ? .all(list) : .any(list)) }
        }
        if try reader.object("allow_missing", { _ throws(ProxyConfigError) in true }) != nil { found.append(.allowMissing) }
        if try reader.object("allow_missing_or_failed", { _ throws(ProxyConfigError) in true }) != nil { found.append(.allowMissingOrFailed) }
        guard found.count == 1 else {
            throw reader.error(found.isEmpty ? "needs one requirement (or the one given is not supported by meshctl's proxy)" : "sets more than one requirement")
        }
        return found[0]
    }
}
