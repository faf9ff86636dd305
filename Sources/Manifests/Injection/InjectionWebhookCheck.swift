/// Whether Istio's injection webhooks would give a pod the sidecar, and why: the question `meshctl check-inject`
/// answers, worked out from the webhooks' namespace and object selectors as the Kubernetes API server applies them.
public enum InjectionWebhookCheck {
    /// What one webhook configuration (one control plane revision) would do with the pod.
    public struct Verdict: Sendable, Equatable {
        public var configuration: String
        public var revision: String
        public var injects: Bool
        public var reason: String
    }

    /// The label that marks a webhook Istio switched off (`istioctl tag` and revision upgrades leave such ones).
    static let deactivatedLabel = "istio.io/deactivated"

    /// One verdict per configuration, in the order given.
    public static func check(configurations: [YAMLNode], podLabels: [String: String], namespaceLabels: [String: String]) -> [Verdict] {
        configurations.map { configuration in
            let name = configuration["metadata"]?["name"]?.scalarText ?? ""
            let revision = configuration["metadata"]?["labels"]?["istio.io/rev"]?.scalarText ?? "default"
            let webhooks = configuration["webhooks"]?.items ?? []
            let (injects, reason) = verdict(webhooks, podLabels: podLabels, namespaceLabels: namespaceLabels)
            return Verdict(configuration: name, revision: revision, injects: injects, reason: reason)
        }
    }

    /// Whether an injector configuration is one of Istio's (its webhooks call the injector).
    public static func isIstioInjector(_ configuration: YAMLNode) -> Bool {
        (configuration["webhooks"]?.items ?? []).contains { ($0["name"]?.scalarText ?? "").hasSuffix("sidecar-injector.istio.io") }
    }

    private static func verdict(_ webhooks: [YAMLNode], podLabels: [String: String], namespaceLabels: [String: String]) -> (Bool, String) {
        let selectors = webhooks.map { (namespace: LabelSelector($0["namespaceSelector"]), object: LabelSelector($0["objectSelector"])) }
        if !selectors.isEmpty, selectors.allSatisfy({ $0.namespace.matchLabels[deactivatedLabel] != nil || $0.object.matchLabels[deactivatedLabel] != nil }) {
            return (false, "deactivated: its selectors require \(deactivatedLabel), so it injects nothing")
        }
        // A webhook that selects the pod decides it, whatever the others say.
        for selector in selectors where selector.namespace.matches(namespaceLabels) && selector.object.matches(podLabels) {
            do {
                let namespaceLabel = matchedLabels(selector.namespace, namespaceLabels)
                let podLabel = matchedLabels(selector.object, podLabels)
                var parts: [String] = []
                if !namespaceLabel.isEmpty { parts.append("namespace label \(namespaceLabel.joined(separator: ", "))") }
                if !podLabel.isEmpty { parts.append("pod label \(podLabel.joined(separator: ", "))") }
                if parts.isEmpty { return (true, "its webhook selects every pod in every namespace") }
                return (true, parts.joined(separator: " and ") + (parts.count > 1 ? " select it" : " selects it"))
            }
        }
        // A namespace switched off outright says so for every revision.
        if namespaceLabels["istio-injection"] == "disabled" {
            return (false, "namespace label istio-injection=disabled turns injection off")
        }
        // Otherwise a webhook that selects the pod's namespace tells which pod label rules the pod out.
        for selector in selectors where selector.namespace.matches(namespaceLabels) {
            if let blocker = blockingLabel(selector.object, podLabels) {
                return (false, "pod label \(blocker) rules it out")
            }
        }
        let (namespaceWanted, podWanted) = enablingLabels(selectors)
        return (false, "no namespace label (\(namespaceWanted.joined(separator: " or "))) or pod label "
                    + "(\(podWanted.joined(separator: " or "))) selects it")
    }

    /// The labels present that satisfy the selector's requirements (`key=value`).
    private static func matchedLabels(_ selector: LabelSelector, _ labels: [String: String]) -> [String] {
        var found = selector.matchLabels.keys.sorted().compactMap { key in labels[key].map { "\(key)=\($0)" } }
        for expression in selector.expressions where ["In", "NotIn", "Exists"].contains(expression.op) {
            if let value = labels[expression.key] { found.append("\(expression.key)=\(value)") }
        }
        return found
    }

    /// A present label that a NotIn or DoesNotExist requirement refuses.
    private static func blockingLabel(_ selector: LabelSelector, _ labels: [String: String]) -> String? {
        for expression in selector.expressions {
            guard let value = labels[expression.key] else { continue }
            if expression.op == "DoesNotExist" || (expression.op == "NotIn" && expression.values.contains(value)) {
                return "\(expression.key)=\(value)"
            }
        }
        return nil
    }

    /// The labels that would turn injection on: those the webhooks require with In or matchLabels.
    private static func enablingLabels(_ selectors: [(namespace: LabelSelector, object: LabelSelector)]) -> ([String], [String]) {
        func positive(_ selector: LabelSelector) -> [String] {
            selector.matchLabels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
                + selector.expressions.filter { $0.op == "In" }.flatMap { expression in expression.values.map { "\(expression.key)=\($0)" } }
        }
        var namespace: [String] = [], pod: [String] = []
        for selector in selectors {
            for label in positive(selector.namespace) where !namespace.contains(label) { namespace.append(label) }
            for label in positive(selector.object) where !pod.contains(label) { pod.append(label) }
        }
        return (namespace.sorted(), pod.sorted())
    }
}
