/// Istio's injection webhooks: each must call a Service that exists, and no two configurations may select
/// the same namespaces and pods, or a pod would be injected twice (IST0139).
struct WebhookAnalyzer: Analyzer {
    let name = "webhook.Analyzer"
    let summary = "Checks that Istio's injection webhooks call existing Services and do not overlap"

    /// Whether two selectors can select the same labels: their matchLabels agree where they share keys. With
    /// matchExpressions, only identical selectors are taken to overlap.
    static func overlap(_ a: YAMLNode?, _ b: YAMLNode?) -> Bool {
        let left = LabelSelector(a), right = LabelSelector(b)
        if left.expressions.isEmpty && right.expressions.isEmpty {
            return left.matchLabels.allSatisfy { right.matchLabels[$0.key] == nil || right.matchLabels[$0.key] == $0.value }
        }
        func text(_ selector: LabelSelector) -> [String] { selector.expressions.map { "\($0.key) \($0.op) \($0.values)" } }
        return left.matchLabels == right.matchLabels && text(left) == text(right)
    }

    func analyze(_ input: AnalysisInput) -> [AnalysisMessage] {
        let configurations = input.resources("MutatingWebhookConfiguration", group: "admissionregistration.k8s.io")
        let injectors = configurations.map { configuration in
            (configuration.node["webhooks"]?.items ?? []).filter { ($0["name"]?.scalarText ?? "").hasSuffix("sidecar-injector.istio.io") }
        }
        var messages: [AnalysisMessage] = []
        for (index, configuration) in configurations.enumerated() {
            for webhook in injectors[index] {
                guard let service = webhook["clientConfig"]?["service"], let serviceName = service["name"]?.scalarText else { continue }
                let namespace = service["namespace"]?.scalarText ?? ""
                if input.resource("Service", namespace: namespace, name: serviceName) == nil {
                    messages.append(.invalidWebhook(configuration, .missingService(webhook: webhook["name"]?.scalarText ?? "", namespace: namespace,
                                                                                    name: serviceName), at: service))
                }
            }
            let rival = configurations.indices.first { other in
                other != index && injectors[index].contains { mine in
                    injectors[other].contains { theirs in
                        Self.overlap(mine["namespaceSelector"], theirs["namespaceSelector"]) && Self.overlap(mine["objectSelector"], theirs["objectSelector"])
                    }
                }
            }
            if let rival {
                messages.append(.invalidWebhook(configuration, .overlapsWith(configurations[rival].name)))
            }
        }
        return messages
    }
}
