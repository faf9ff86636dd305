import ConfigValues
import MeshNet
import MeshHTTP1

/// The connection manager's RBAC, local rate limit and CORS filters, in their `http_filters` order, each with the route's
/// `typed_per_filter_config` in place of its own when the route has one.
enum HTTPPolicyFilters {
    struct Outcome {
        var reply: LocalReply?
        var responseHeaders: [(name: String, value: String)] = []
        /// `responseHeaders` as they were where the fault filter sits in `http_filters` (nil: no fault filter): a fault
        /// abort's answer gets only these.
        var responseHeadersBeforeFault: [(name: String, value: String)]?
        var requestHeaders: [HeaderValueOption] = []
        /// Request headers taken out, and the target without a query parameter, for a JWT that is not forwarded.
        var removedRequestHeaders: [String] = []
        var rewrittenTarget: String?

        /// The outcome with a filter's local reply; `responseHeaders` then holds what the filters before it add, which
        /// the reply gets too (their encoders see it, as in Envoy).
        func answered(_ reply: LocalReply) -> Outcome {
            var outcome = self
            outcome.reply = reply
            return outcome
        }
    }

    static func run(_ filters: [HTTPFilter], statPrefix: String, virtualHost: VirtualHost?, route: Route?,
                    request: HTTPRequest, connection: DownstreamConnectionInfo, runtime: ProxyRuntime) -> Outcome {
        var outcome = Outcome()
        var subject: RBACEngine.Subject?
        var metadata: [String: JSONValue] = [:]
        for (index, filter) in filters.enumerated() {
            switch filter {
            case .rbac(let listenerConfig):
                let config: RBACConfig?
                if let override = route?.filterConfigs.rbac { config = override } else { config = listenerConfig }
                guard let config else { continue }
                if subject == nil { subject = RBACEngine.Subject(connection: connection, request: request); subject!.metadata = metadata }
                if let details = RBACFilterRun.check(config, subject: subject!, statPrefix: "http.\(statPrefix).", stats: runtime.stats) {
                    return outcome.answered(LocalReply(status: 403, body: "RBAC: access denied", flags: [], details: details))
                }
            case .localRateLimit(let listenerConfig):
                let config = route?.filterConfigs.localRateLimit ?? listenerConfig
                let key = route?.filterConfigs.localRateLimit != nil
                    ? "\(statPrefix)|route|\(virtualHost?.name ?? "")|\(route?.name ?? "")"
                    : "\(statPrefix)|filter|\(index)"
                let result = LocalRateLimitRun.check(config, bucketKey: key, limiters: runtime.rateLimiters, stats: runtime.stats)
                if let reply = result.reply { return outcome.answered(reply) }
                outcome.responseHeaders += result.responseHeaders
                outcome.requestHeaders += result.requestHeaders
            case .cors:
                // Envoy's cors filter skips routes that answer themselves (direct responses and redirects).
                guard let route, case .forward = route.action, let policy = route.filterConfigs.cors else { continue }
                let verdict = policy.verdict(method: request.method, origin: request.header("origin"),
                                             requestMethod: request.header("access-control-request-method"),
                                             requestHeaders: request.header("access-control-request-headers"))
                if let allowed = verdict.originAllowed {
                    runtime.stats.increment("http.\(statPrefix).cors." + (allowed ? "origin_valid" : "origin_invalid"))
                }
                switch verdict.action {
                case .answerPreflight(let headers)?:
                    return outcome.answered(LocalReply(status: 200, body: "", flags: [], details: "cors_response", extraHeaders: headers))
                case .addToResponse(let headers)?:
                    outcome.responseHeaders += headers
                case nil:
                    break
                }
            case .jwtAuthn(let config):
                let result = JWTAuthnFilter.run(config, request: request, secure: connection.tls != nil, statPrefix: "http.\(statPrefix).", stats: runtime.stats)
                if let reply = result.reply { return outcome.answered(reply) }
                if !result.metadata.isEmpty { metadata[JWTAuthnFilter.name] = .object(result.metadata) }
                outcome.removedRequestHeaders += result.removedHeaders
                if let target = result.rewrittenTarget { outcome.rewrittenTarget = target }
                outcome.requestHeaders += result.addedHeaders
            case .fault:
                outcome.responseHeadersBeforeFault = outcome.responseHeaders
            case .istioStats, .router:
                continue
            }
        }
        return outcome
    }
}
