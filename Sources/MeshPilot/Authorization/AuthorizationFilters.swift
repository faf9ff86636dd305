import ConfigValues

/// The RBAC filters istiod puts in a sidecar's inbound chains for the AuthorizationPolicies that select the
/// workload: one filter per action, AUDIT (Envoy's LOG) then DENY then ALLOW, each with a policy per rule named
/// `ns[NS]-policy[NAME]-rule[I]`. Policies annotated `istio.io/dry-run: "true"` go to `shadow_rules`. CUSTOM
/// (external authorization) is not supported in local mode: such policies yield no filter and a note.
public enum AuthorizationFilters {
    public static let storageKey = "authorizationpolicies.security.istio.io"
    public static let httpFilterName = "envoy.filters.http.rbac"
    public static let networkFilterName = "envoy.filters.network.rbac"
    static let httpType = "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC"
    static let networkType = "type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC"

    /// The `http_filters` entries for the workload's HTTP inbound chains (empty when no policy selects it).
    public static func http(forWorkload labels: [String: String], namespace: String, in snapshot: MeshSnapshot) -> [JSONValue] {
        filters(labels: labels, namespace: namespace, snapshot: snapshot, forTCP: false)
    }

    /// The network `filters` entries for the workload's TCP inbound chains, in front of `tcp_proxy`. HTTP-only
    /// attributes (paths, methods, hosts, headers, request principals) cannot be checked there: an ALLOW rule using
    /// them is left out, a DENY or AUDIT rule is kept without them, as istiod does.
    public static func network(forWorkload labels: [String: String], namespace: String, in snapshot: MeshSnapshot) -> [JSONValue] {
        filters(labels: labels, namespace: namespace, snapshot: snapshot, forTCP: true)
    }

    /// What local mode does not do for the workload's policies (CUSTOM actions), one line each.
    public static func notes(forWorkload labels: [String: String], namespace: String, in snapshot: MeshSnapshot) -> [String] {
        selected(labels: labels, namespace: namespace, snapshot: snapshot).filter { action(of: $0) == "CUSTOM" }.map { policy in
            "AuthorizationPolicy \(Self.namespace(of: policy))/\(Self.name(of: policy)): action CUSTOM (external authorization) is not supported in local mode; it has no effect"
        }
    }

    /// The policies that apply to a workload: in the root namespace without a selector (mesh-wide), in the
    /// workload's namespace without a selector, or with a `selector.matchLabels` the workload's labels contain.
    /// Policies with `targetRef(s)` apply to gateways and waypoints, not sidecars. RequestAuthentications are selected
    /// the same way (`storageKey` names their kind).
    static func selected(labels: [String: String], namespace: String, snapshot: MeshSnapshot, storageKey: String = storageKey) -> [JSONValue] {
        let root = snapshot.meshConfig["rootNamespace"]?.string ?? "istio-system"
        return snapshot.items(storageKey).filter { policy in
            let policyNamespace = Self.namespace(of: policy)
            guard policyNamespace == namespace || policyNamespace == root else { return false }
            let spec = policy["spec"] ?? .object([])
            if spec["targetRef"] != nil || !(spec["targetRefs"]?.array ?? []).isEmpty { return false }
            let selector = spec["selector"]?["matchLabels"]?.stringMap ?? [:]
            return selector.allSatisfy { labels[$0.key] == $0.value }
        }.sorted { (Self.namespace(of: $0), Self.name(of: $0)) < (Self.namespace(of: $1), Self.name(of: $1)) }
    }

    static func namespace(of policy: JSONValue) -> String { policy["metadata"]?["namespace"]?.string ?? "default" }
    static func name(of policy: JSONValue) -> String { policy["metadata"]?["name"]?.string ?? "" }
    static func action(of policy: JSONValue) -> String { policy["spec"]?["action"]?.string ?? "ALLOW" }
    static func isDryRun(_ policy: JSONValue) -> Bool {
        policy["metadata"]?["annotations"]?["istio.io/dry-run"]?.string?.lowercased() == "true"
    }

    private static func filters(labels: [String: String], namespace: String, snapshot: MeshSnapshot, forTCP: Bool) -> [JSONValue] {
        let policies = selected(labels: labels, namespace: namespace, snapshot: snapshot)
        var filters: [JSONValue] = []
        for (istioAction, envoyAction) in [("AUDIT", "LOG"), ("DENY", "DENY"), ("ALLOW", "ALLOW")] {
            let chosen = policies.filter { action(of: $0) == istioAction }
            guard !chosen.isEmpty else { continue }
            var enforced: [(key: String, value: JSONValue)] = []
            var shadow: [(key: String, value: JSONValue)] = []
            for policy in chosen {
                let rules = policy["spec"]?["rules"]?.array ?? []
                let translation = RBACPolicyTranslation(namespace: self.namespace(of: policy), forTCP: forTCP, action: envoyAction)
                var built: [(key: String, value: JSONValue)] = []
                for (index, rule) in rules.enumerated() {
                    guard let generated = try? translation.policy(rule) else { continue }
                    built.append((policyName(policy, rule: index), generated))
                }
                if rules.isEmpty { built.append((policyName(policy, rule: 0), RBACJSON.matchNever)) }
                if isDryRun(policy) { shadow += built } else { enforced += built }
            }
            let hasEnforced = chosen.contains { !isDryRun($0) }, hasShadow = chosen.contains(where: isDryRun)
            func rbac(_ policies: [(key: String, value: JSONValue)]) -> JSONValue {
                // ALLOW is the default, which proto JSON leaves out (as istiod's config dumps show it).
                // So is an empty map: an ALLOW filter whose every rule was left out is `rules: {}` and allows nothing.
                var fields: [(String, JSONValue)] = envoyAction == "ALLOW" ? [] : [("action", .string(envoyAction))]
                if !policies.isEmpty { fields.append(("policies", .object(policies.sorted { $0.key < $1.key }))) }
                return RBACJSON.object(fields)
            }
            var config: [(String, JSONValue)] = [("@type", .string(forTCP ? networkType : httpType))]
            if hasEnforced { config.append(("rules", rbac(enforced))) }
            if hasShadow { config.append(("shadow_rules", rbac(shadow))) }
            // istiod names the prefix after the shadow rules' action, and reads a missing set as ALLOW's.
            switch hasShadow ? envoyAction : "ALLOW" {
            case "ALLOW": config.append(("shadow_rules_stat_prefix", .string("istio_dry_run_allow_")))
            case "DENY": config.append(("shadow_rules_stat_prefix", .string("istio_dry_run_deny_")))
            default: break
            }
            if forTCP { config.append(("stat_prefix", .string("tcp."))) }
            filters.append(RBACJSON.object([("name", .string(forTCP ? networkFilterName : httpFilterName)), ("typed_config", RBACJSON.object(config))]))
        }
        return filters
    }

    static func policyName(_ policy: JSONValue, rule: Int) -> String {
        "ns[\(namespace(of: policy))]-policy[\(name(of: policy))]-rule[\(rule)]"
    }
}
