/// RequestAuthentications make istiod fetch JWKS URIs; without BLOCKED_CIDRS_IN_JWKS_URIS on istiod,
/// any address can be fetched (IST0175).
struct BlockedCIDRsAnalyzer: Analyzer {
    let name = "authn.BlockedCIDRsAnalyzer"
    let summary = "Checks that istiod restricts JWKS URI fetches (BLOCKED_CIDRS_IN_JWKS_URIS) when RequestAuthentications exist"

    func analyze(_ input: AnalysisInput) -> [AnalysisMessage] {
        let requestAuthentications = input.resources("RequestAuthentication", group: "security.istio.io")
        guard !requestAuthentications.isEmpty else { return [] }
        var messages: [AnalysisMessage] = []
        for istiod in input.resources("Deployment", group: "apps") where istiod.namespaceOrEmpty == input.istioNamespace
            && (istiod.name == "istiod" || istiod.name.hasPrefix("istiod-")) {
            let containers = istiod.spec?["template"]?["spec"]?["containers"]?.items ?? []
            let configured = containers.contains { container in
                (container["env"]?.items ?? []).contains { $0["name"]?.scalarText == "BLOCKED_CIDRS_IN_JWKS_URIS" && !($0["value"]?.scalarText ?? "").isEmpty }
            }
            if configured { continue }
            messages.append(.jwksUriFetchUnrestricted(istiod, requestAuthentications: requestAuthentications))
        }
        return messages
    }
}

/// AuthorizationPolicies must apply to some workload (IST0127, running pods only), and the namespaces
/// their sources name must exist (IST0101); `prod-*` and `*-test` patterns count when a namespace matches.
struct AuthorizationPoliciesAnalyzer: Analyzer {
    let name = "auth.AuthorizationPoliciesAnalyzer"
    let summary = "Checks that AuthorizationPolicies select workloads and name namespaces that exist"

    /// Istio's namespace patterns: `*`, a `*` prefix or suffix, or an exact name.
    static func matches(_ pattern: String, _ namespace: String) -> Bool {
        if pattern == "*" { return true }
        if pattern.hasPrefix("*") { return namespace.hasSuffix(pattern.dropFirst()) }
        if pattern.hasSuffix("*") { return namespace.hasPrefix(pattern.dropLast()) }
        return pattern == namespace
    }

    func analyze(_ input: AnalysisInput) -> [AnalysisMessage] {
        let namespaces = Set(input.resources("Namespace", group: "").map(\.name))
        let pods = input.resources("Pod", group: "")
        var messages: [AnalysisMessage] = []
        for policy in input.resources("AuthorizationPolicy", group: "security.istio.io") {
            if input.podsAreRunning && policy.spec?["targetRef"] == nil && policy.spec?["targetRefs"] == nil {
                let selector = AnalyzedResource.stringMap(policy.spec?["selector"]?["matchLabels"])
                let meshWide = policy.namespaceOrEmpty == input.istioNamespace
                let applies = pods.contains { pod in
                    (meshWide || pod.namespaceOrEmpty == policy.namespaceOrEmpty) && (selector.isEmpty || pod.isSelected(by: selector))
                }
                if !applies {
                    messages.append(.noMatchingWorkloadsFound(policy, labels: LabelSelector.text(selector), at: policy.spec?["selector"]))
                }
            }
            for rule in policy.spec?["rules"]?.items ?? [] {
                for from in rule["from"]?.items ?? [] {
                    for field in ["namespaces", "notNamespaces"] {
                        for patternNode in from["source"]?[field]?.items ?? [] {
                            guard let pattern = patternNode.scalarText, !namespaces.contains(where: { Self.matches(pattern, $0) }) else { continue }
                            messages.append(.referencedResourceNotFound(policy, .namespace(pattern), at: patternNode))
                        }
                    }
                }
            }
        }
        return messages
    }
}
