import Foundation
import MeshNet
import MeshTLS
import MeshHTTP1

/// Evaluates RBAC rules against one request (or, for the network filter, one connection), as Envoy's engine does.
struct RBACEngine {
    /// What the rules see: the connection, and the request's head when there is one.
    struct Subject {
        var connection: DownstreamConnectionInfo
        /// Headers with the pseudo-headers (`:method`, `:path`, `:authority`, `:scheme`) added; nil for a connection.
        var request: HTTPRequestHead?
        var path: String?

        init(connection: DownstreamConnectionInfo, request: HTTPRequest? = nil) {
            self.connection = connection
            guard let request else { return }
            var headers = request.headers
            headers += [(":method", request.method), (":path", request.target), (":authority", request.header("host") ?? ""), (":scheme", "http")]
            self.request = HTTPRequestHead(method: request.method, target: request.target, headers: headers)
            path = RouteSelection.splitTarget(request.target).path
        }
    }

    /// The outcome: allowed or not, and the policy that decided (the matched policy's name).
    struct Decision: Equatable {
        var allowed: Bool
        var policy: String?
    }

    static func evaluate(_ rules: RBACRules, _ subject: Subject) -> Decision {
        let matched = rules.policies.first { matches($0.policy, subject) }?.name
        switch rules.action {
        case .allow: return Decision(allowed: matched != nil, policy: matched)
        case .deny: return Decision(allowed: matched == nil, policy: matched)
        case .log: return Decision(allowed: true, policy: matched)
        }
    }

    static func matches(_ policy: RBACPolicy, _ subject: Subject) -> Bool {
        policy.permissions.contains { matches($0, subject) } && policy.principals.contains { matches($0, subject) }
    }

    static func matches(_ matcher: RBACMatcher, _ subject: Subject) -> Bool {
        switch matcher {
        case .any: return true
        case .and(let rules): return rules.allSatisfy { matches($0, subject) }
        case .or(let rules): return rules.contains { matches($0, subject) }
        case .not(let rule): return !matches(rule, subject)
        case .header(let header):
            guard let request = subject.request else { return false }
            return RouteSelection.matches(header, request: request)
        case .urlPath(let matcher):
            guard let path = subject.path else { return false }
            return matcher.matches(path)
        case .uriTemplate(let pattern):
            guard let path = subject.path else { return false }
            return pattern.matchesWhole(path)
        case .destinationPort(let port):
            return Int(subject.connection.localAddress.split(separator: ":").last ?? "") == port
        case .destinationIP(let range): return range.contains(subject.connection.localHost)
        case .requestedServerName(let matcher): return matcher.matches(subject.connection.tls?.serverName ?? "")
        case .authenticated(let name):
            guard let tls = subject.connection.tls, !tls.peerURISANs.isEmpty else { return false }
            guard let name else { return true }
            return tls.peerURISANs.contains { name.matches($0) }
        case .directRemoteIP(let range), .remoteIP(let range): return range.contains(subject.connection.remoteHost)
        case .metadata(let invert): return invert
        }
    }
}

/// An RBAC filter's work on one request or connection: shadow rules counted, enforced rules decide (LOG rules only
/// mark the request, and it goes on); the stats are
/// Envoy's (`PREFIX.rbac.allowed|denied`, `PREFIX.rbac.SHADOW.shadow_allowed|shadow_denied`).
enum RBACFilterRun {
    /// nil when the request may go on; else the details Envoy writes (`rbac_access_denied_matched_policy[NAME]`).
    static func check(_ config: RBACConfig, subject: RBACEngine.Subject, statPrefix: String, stats: ProxyStats) -> String? {
        // Envoy puts a dot after a rules or shadow rules stat prefix: `rbac.istio_dry_run_allow_.shadow_denied`.
        func name(_ custom: String, _ stat: String) -> String { statPrefix + "rbac." + (custom.isEmpty ? "" : custom + ".") + stat }
        if let shadow = config.shadowRules {
            let decision = RBACEngine.evaluate(shadow, subject)
            stats.increment(name(config.shadowRulesStatPrefix, decision.allowed ? "shadow_allowed" : "shadow_denied"))
        }
        guard let rules = config.rules else { return nil }
        let decision = RBACEngine.evaluate(rules, subject)
        // LOG never denies: Envoy counts its requests as allowed.
        stats.increment(name(config.rulesStatPrefix, decision.allowed ? "allowed" : "denied"))
        return decision.allowed ? nil : "rbac_access_denied_matched_policy[\(decision.policy ?? "none")]"
    }
}
