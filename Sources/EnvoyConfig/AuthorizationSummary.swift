import Foundation
import ConfigValues

/// The AuthorizationPolicies behind a proxy's RBAC filters (`x authz check`): Istio names each RBAC policy
/// `ns[NS]-policy[NAME]-rule[N]` (`istio-ext-authz-` in front for CUSTOM policies, kept as shadow rules).
public enum AuthorizationSummary {
    /// One row: the action, the policy (`name.namespace`, or `_anonymous_match_nothing_` for an RBAC filter without
    /// policies) and how many of its rules the proxy holds.
    public struct Row: Sendable, Equatable {
        public var action: String
        public var policy: String
        public var rules: Int
    }

    public static let anonymousName = "_anonymous_match_nothing_"
    static let httpConnectionManagers: Set<String> = ["envoy.filters.network.http_connection_manager", "envoy.http_connection_manager"]

    /// The rows for the dump's dynamic listeners (with an active state), DENY, ALLOW, LOG then CUSTOM, each by policy name.
    public static func rows(_ dump: ConfigDump) throws(EnvoyDataError) -> [Row] {
        let listeners = try dump.required("envoy.admin.v3.ListenersConfigDump").items("dynamic_listeners")
            .compactMap { $0.field("active_state")?.field("listener") }
        var policies: [String: Set<String>] = [:]
        var rules: [String: Set<String>] = [:]
        func add(_ action: String, _ name: (policy: String, rule: String)) {
            policies[action, default: []].insert(name.policy)
            rules[name.policy, default: []].insert(name.rule)
        }
        for rbac in listeners.flatMap(rbacFilters) {
            let action = rbac.field("rules")?.field("action")?.string ?? "ALLOW"
            let named = rbac.field("rules")?.field("policies")?.object ?? []
            for policy in named { add(action, policyName(policy.key)) }
            for policy in rbac.field("shadow_rules")?.field("policies")?.object ?? [] where policy.key.hasPrefix("istio-ext-authz-") {
                add("CUSTOM", policyName(policy.key))
            }
            if named.isEmpty { add(action, (anonymousName, "0")) }
        }
        return ["DENY", "ALLOW", "LOG", "CUSTOM"].flatMap { action in
            (policies[action] ?? []).sorted().map { Row(action: action, policy: $0, rules: rules[$0]?.count ?? 0) }
        }
    }

    /// The typed configs of a listener's RBAC filters: network RBAC filters, and HTTP RBAC filters in HTTP
    /// connection managers.
    static func rbacFilters(_ listener: JSONValue) -> [JSONValue] {
        listener.items("filter_chains").flatMap { chain in
            chain.items("filters").flatMap { filter -> [JSONValue] in
                if filter.text("name") == "envoy.filters.network.rbac" { return filter.field("typed_config").map { [$0] } ?? [] }
                guard httpConnectionManagers.contains(filter.text("name")) else { return [] }
                return (filter.field("typed_config")?.items("http_filters") ?? [])
                    .filter { $0.text("name") == "envoy.filters.http.rbac" }.compactMap { $0.field("typed_config") }
            }
        }
    }

    /// `ns[default]-policy[httpbin]-rule[0]` → (`httpbin.default`, `0`), as Istio's greedy pattern reads it (the
    /// last `]-policy[` and `]-rule[` separate the parts); ("", "") for another name.
    static func policyName(_ name: String) -> (policy: String, rule: String) {
        guard let start = name.range(of: "ns["), let policyMark = name.range(of: "]-policy[", options: .backwards),
              policyMark.lowerBound > start.upperBound,
              let ruleMark = name.range(of: "]-rule[", options: .backwards), ruleMark.lowerBound > policyMark.upperBound,
              let end = name.range(of: "]", options: .backwards), end.lowerBound > ruleMark.upperBound else { return ("", "") }
        let namespace = name[start.upperBound..<policyMark.lowerBound]
        let policy = name[policyMark.upperBound..<ruleMark.lowerBound]
        return ("\(policy).\(namespace)", String(name[ruleMark.upperBound..<end.lowerBound]))
    }
}
