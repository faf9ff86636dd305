/// Namespaces not labelled for injection (IST0102, or IST0148 when the injector enables every namespace),
/// namespaces with more than one kind of injection label (IST0123), and running pods that should have the
/// proxy but do not (IST0103).
struct InjectionAnalyzer: Analyzer {
    let name = "injection.Analyzer"
    let summary = "Checks namespaces' injection labels and that pods in injected namespaces have the proxy"

    static let systemNamespaces: Set<String> = ["kube-system", "kube-public", "kube-node-lease", "local-path-storage"]

    /// `sidecarInjectorWebhook.enableNamespacesByDefault` from the injector ConfigMap's values, if present.
    static func namespacesEnabledByDefault(_ input: AnalysisInput) -> Bool {
        let configMaps = input.resources("ConfigMap", group: "").filter { $0.name.hasPrefix("istio-sidecar-injector") }
        for configMap in configMaps {
            guard let text = configMap.node["data"]?["values"]?.scalarText,
                  let values = try? YAMLParser.parse(text).first?.root else { continue }
            if values["sidecarInjectorWebhook"]?["enableNamespacesByDefault"]?.scalarText == "true" { return true }
        }
        return false
    }

    func analyze(_ input: AnalysisInput) -> [AnalysisMessage] {
        var messages: [AnalysisMessage] = []
        let byDefault = Self.namespacesEnabledByDefault(input)
        var injected: Set<String> = []
        for namespace in input.resources("Namespace", group: "") {
            if Self.systemNamespaces.contains(namespace.name) || namespace.name == input.istioNamespace { continue }
            let labels = namespace.labels
            let injection = labels["istio-injection"]
            if injection == "disabled" { continue }
            var kinds: [String] = []
            if injection != nil { kinds.append("istio-injection") }
            if labels["istio.io/rev"] != nil { kinds.append("istio.io/rev") }
            if labels["istio.io/dataplane-mode"] == "ambient" { kinds.append("istio.io/dataplane-mode") }
            if kinds.count > 1 {
                messages.append(AnalysisMessage(Messages.namespaceMultipleInjectionLabels,
                    "namespace \(namespace.name) has more than one kind of injection label (\(kinds.joined(separator: ", "))): which one wins "
                        + "is undefined; keep one of them", on: namespace))
                continue
            }
            if injection == "enabled" || labels["istio.io/rev"] != nil { injected.insert(namespace.name) }
            guard kinds.isEmpty else { continue }
            if byDefault {
                injected.insert(namespace.name)
                messages.append(AnalysisMessage(Messages.namespaceInjectionEnabledByDefault,
                    "namespace \(namespace.name) gets the sidecar without a label, because the injector enables every namespace "
                        + "(enableNamespacesByDefault); label it istio-injection=disabled to opt out", on: namespace))
            } else {
                messages.append(AnalysisMessage(Messages.namespaceNotInjected,
                    "namespace \(namespace.name) is not labelled for injection: run 'kubectl label namespace \(namespace.name) "
                        + "istio-injection=enabled' to add the sidecar, or label it istio-injection=disabled to say it needs none",
                    on: namespace))
            }
        }
        guard input.podsAreRunning else { return messages }
        for pod in input.resources("Pod", group: "") where injected.contains(pod.namespaceOrEmpty) {
            let label = pod.labels["sidecar.istio.io/inject"], annotation = pod.annotations["sidecar.istio.io/inject"]
            if (label ?? annotation) == "false" || pod.spec?["hostNetwork"]?.scalarText == "true" { continue }
            let containers = (pod.spec?["containers"]?.items ?? []) + (pod.spec?["initContainers"]?.items ?? [])
            if containers.contains(where: { $0["name"]?.scalarText == "istio-proxy" }) { continue }
            messages.append(AnalysisMessage(Messages.podMissingProxy,
                "pod \(pod.name) has no istio-proxy container although its namespace is injected; restart or redeploy its workload",
                on: pod))
        }
        return messages
    }
}
