import ConfigValues
import Foundation
import MeshHTTP1

/// What the JWT filter reads of a request: its headers, query parameters and cookies.
struct HTTPRequestView {
    let request: HTTPRequest

    func values(of name: String) -> [String] { request.headers.filter { $0.name.lowercased() == name }.map(\.value) }
    var queryParameters: [(name: String, value: String)] { RouteSelection.queryParameters(RouteSelection.splitTarget(request.target).query) }
    var cookies: [(name: String, value: String)] {
        values(of: "cookie").flatMap { $0.split(separator: ";") }.compactMap { pair in
            let parts = pair.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            return parts.count == 2 ? (parts[0], parts[1]) : nil
        }
    }
}

/// The JWT filter's work on one request, as Envoy's `jwt_authn` does it: the first rule whose match fits the request
/// names the requirement; each provider's token is found, parsed, checked (issuer, `nbf`/`exp` with the clock skew,
/// audiences, signature) once; a failure answers 401 (403 for audiences) with Envoy's text, details and
/// `www-authenticate`; a success writes the payload to dynamic metadata (for RBAC), removes the token's header unless
/// `forward`, and adds the payload and claim headers. Stats: `http.PREFIX.jwt_authn.allowed|denied|cors_preflight_bypassed`.
enum JWTAuthnFilter {
    static let name = "envoy.filters.http.jwt_authn"

    struct Outcome {
        var reply: LocalReply?
        /// Metadata under `envoy.filters.http.jwt_authn` (the payload by `payload_in_metadata`).
        var metadata: [(key: String, value: JSONValue)] = []
        var removedHeaders: [String] = []
        /// The request's target without the query parameters tokens came in (nil: unchanged).
        var rewrittenTarget: String?
        var addedHeaders: [HeaderValueOption] = []
    }

    /// A provider's verdict on the request: its token's claims, no token, or why the token is refused.
    private enum Verdict {
        case valid(JSONWebToken, JWTProvider.Location)
        case missing
        case refused(JWTStatus)
    }

    static func run(_ config: JWTAuthnConfig, request: HTTPRequest, secure: Bool, statPrefix: String, stats: ProxyStats,
                    now: Date = Date()) -> Outcome {
        let head = HTTPRequestHead(method: request.method, target: request.target, headers: request.headers)
        let (path, query) = RouteSelection.splitTarget(request.target)
        guard let rule = config.rules.first(where: { RouteSelection.matches($0.match, path: path, query: query, request: head) }),
              let requirement = rule.requirement else { return Outcome() }
        if config.bypassCORSPreflight, request.method == "OPTIONS", request.header("origin") != nil, request.header("access-control-request-method") != nil {
            stats.increment(statPrefix + "jwt_authn.cors_preflight_bypassed")
            stats.increment(statPrefix + "jwt_authn.allowed")
            return Outcome()
        }
        let view = HTTPRequestView(request: request)
        var verdicts: [String: Verdict] = [:]
        func verdict(_ name: String) -> Verdict {
            if let known = verdicts[name] { return known }
            let found = check(config.providers[name]!, view: view, now: now)
            verdicts[name] = found
            return found
        }
        let anyToken = config.providers.values.contains { $0.token(in: view) != nil }
        var outcome = Outcome()
        switch evaluate(requirement, verdict: verdict, anyToken: anyToken) {
        case .failure(let status):
            stats.increment(statPrefix + "jwt_authn.denied")
            let host = request.header("host") ?? ""
            // The scheme a proxy in front says (x-forwarded-proto, as Envoy reads it), else the connection's.
            let scheme = request.header("x-forwarded-proto") ?? (secure ? "https" : "http")
            var challenge = "Bearer realm=\"\(scheme)://\(host)\(request.target)\""
            if status != .missing { challenge += ", error=\"invalid_token\"" }
            outcome.reply = LocalReply(status: status.httpStatus, body: status.rawValue, flags: [], details: status.details,
                                       extraHeaders: [("www-authenticate", challenge)])
            return outcome
        case .success:
            stats.increment(statPrefix + "jwt_authn.allowed")
        }
        // Every valid token has its effects, in the providers' name order.
        for name in verdicts.keys.sorted() {
            guard case .valid(let token, let location)? = verdicts[name], let provider = config.providers[name] else { continue }
            apply(provider, token: token, location: location, target: request.target, to: &outcome)
        }
        return outcome
    }

    private static func evaluate(_ requirement: JWTRequirement, verdict: (String) -> Verdict, anyToken: Bool) -> Result<Void, JWTStatus> {
        switch requirement {
        case .provider(let name, let audiences):
            switch verdict(name) {
            case .missing: return .failure(.missing)
            case .refused(let status): return .failure(status)
            case .valid(let token, _):
                if let audiences, !audiences.isEmpty, !audienceAllowed(token.audiences, audiences) { return .failure(.audienceNotAllowed) }
                return .success(())
            }
        case .allowMissing:
            return anyToken ? .failure(.missing) : .success(())
        case .allowMissingOrFailed:
            return .success(())
        case .all(let list):
            for item in list {
                if case .failure(let status) = evaluate(item, verdict: verdict, anyToken: anyToken) { return .failure(status) }
            }
            return .success(())
        case .any(let list):
            // All failed: the most telling failure wins (not "missing", then not "unknown issuer"), as Envoy reports it.
            var best: JWTStatus = .missing
            for item in list {
                switch evaluate(item, verdict: verdict, anyToken: anyToken) {
                case .success: return .success(())
                case .failure(let status):
                    if best == .missing || (best == .unknownIssuer && status != .missing) { best = status }
                }
            }
            return .failure(best)
        }
    }

    private static func check(_ provider: JWTProvider, view: HTTPRequestView, now: Date) -> Verdict {
        guard let (text, location) = provider.token(in: view) else { return .missing }
        do {
            let token = try JSONWebToken(text)
            if let issuer = provider.issuer, !issuer.isEmpty, token.issuer != issuer { throw JWTStatus.unknownIssuer }
            let seconds = Int64(now.timeIntervalSince1970)
            if let notBefore = token.notBefore, seconds + provider.clockSkewSeconds < notBefore { throw JWTStatus.notYetValid }
            if let expiry = token.expiry, seconds - provider.clockSkewSeconds > expiry { throw JWTStatus.expired }
            if token.expiry == nil, provider.requireExpiration { throw JWTStatus.expirationRequired }
            if !provider.audiences.isEmpty, !audienceAllowed(token.audiences, provider.audiences) { throw JWTStatus.audienceNotAllowed }
            try provider.keys.verify(token)
            return .valid(token, location)
        } catch let status as JWTStatus {
            return .refused(status)
        } catch {
            return .refused(.verificationFailed)
        }
    }

    /// Audiences compare without an `http://`/`https://` scheme and a trailing slash.
    private static func audienceAllowed(_ tokenAudiences: [String], _ allowed: [String]) -> Bool {
        func normalized(_ text: String) -> String {
            var value = Substring(text)
            for scheme in ["http://", "https://"] where value.hasPrefix(scheme) { value = value.dropFirst(scheme.count) }
            if value.hasSuffix("/") { value = value.dropLast() }
            return String(value)
        }
        let wanted = Set(allowed.map(normalized))
        return tokenAudiences.contains { wanted.contains(normalized($0)) }
    }

    private static func apply(_ provider: JWTProvider, token: JSONWebToken, location: JWTProvider.Location, target: String, to outcome: inout Outcome) {
        if !provider.forward {
            switch location {
            case .header(let name): outcome.removedHeaders.append(name)
            case .parameter(let name): outcome.rewrittenTarget = withoutParameter(name, in: outcome.rewrittenTarget ?? target)
            case .cookie: break
            }
        }
        if let header = provider.forwardPayloadHeader {
            var payload = token.encodedPayload
            if provider.padForwardPayloadHeader { payload += String(repeating: "=", count: (4 - payload.count % 4) % 4) }
            outcome.addedHeaders.append(HeaderValueOption(name: header.lowercased(), value: payload, append: false))
        }
        for (header, claim) in provider.claimToHeaders {
            guard let value = claimText(token.claims[claim]) else { continue }
            outcome.addedHeaders.append(HeaderValueOption(name: header, value: value, append: false))
        }
        if let key = provider.payloadInMetadata { outcome.metadata.append((key, normalized(token.claims, spaceDelimited: provider.spaceDelimitedClaims))) }
        if let key = provider.headerInMetadata { outcome.metadata.append((key, token.header)) }
    }

    /// The target without the query parameter `name` (and without `?` when nothing is left).
    static func withoutParameter(_ name: String, in target: String) -> String {
        let (path, query) = RouteSelection.splitTarget(target)
        guard let query else { return target }
        let kept = query.split(separator: "&", omittingEmptySubsequences: false).filter { pair in
            PercentEncoding.decode(String(pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)[0])) != name
        }
        return kept.isEmpty ? path : path + "?" + kept.joined(separator: "&")
    }

    /// A claim as a header value: strings as they are, numbers and booleans as text; nil for other values.
    private static func claimText(_ value: JSONValue?) -> String? {
        switch value {
        case .string(let text)?: return text
        case .number(let text)?: return text
        case .bool(let flag)?: return flag ? "true" : "false"
        default: return nil
        }
    }

    /// The payload with the space-delimited claims' strings split into lists.
    private static func normalized(_ claims: JSONValue, spaceDelimited: [String]) -> JSONValue {
        guard !spaceDelimited.isEmpty, let pairs = claims.object else { return claims }
        return .object(pairs.map { pair in
            guard spaceDelimited.contains(pair.key), let text = pair.value.string else { return pair }
            return (pair.key, .array(text.split(separator: " ").map { .string(String($0)) }))
        })
    }
}
