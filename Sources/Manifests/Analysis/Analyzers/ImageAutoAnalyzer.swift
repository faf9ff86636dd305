/// Workloads whose proxy container says `image: auto` rely on the injector to fill it in; when no Istio
/// injection webhook selects them the pod cannot start (IST0147 for Pods, IST0146 for Deployments).
struct ImageAutoAnalyzer: Analyzer {
    let name = "injection.ImageAutoAnalyzer"
    let summary = "Checks that workloads using image: auto are selected by an Istio injection webhook"

    func analyze(_ input: AnalysisInput) -> [AnalysisMessage] {
        let webhooks = input.resources("MutatingWebhookConfiguration", group: "admissionregistration.k8s.io").flatMap { configuration in
            (configuration.node["webhooks"]?.items ?? []).filter { ($0["name"]?.scalarText ?? "").hasSuffix("sidecar-injector.istio.io") }
        }
        var messages: [AnalysisMessage] = []
        let workloads = input.resources("Pod", group: "").map { ($0, $0.spec, $0.labels) }
            + input.resources("Deployment", group: "apps").map { deployment in
                (deployment, deployment.spec?["template"]?["spec"],
                 AnalyzedResource.stringMap(deployment.spec?["template"]?["metadata"]?["labels"]))
            }
        for (workload, podSpec, podLabels) in workloads {
            let containers = (podSpec?["containers"]?.items ?? []) + (podSpec?["initContainers"]?.items ?? [])
            guard let auto = containers.first(where: { $0["image"]?.scalarText == "auto" }) else { continue }
            let namespaceLabels = input.resource("Namespace", namespace: "", name: workload.namespaceOrEmpty)?.labels ?? [:]
            let selected = webhooks.contains { webhook in
                LabelSelector(webhook["namespaceSelector"]).matches(namespaceLabels) && LabelSelector(webhook["objectSelector"]).matches(podLabels)
            }
            if selected { continue }
            messages.append(workload.kind == "Pod" ? .imageAutoWithoutInjectionError(workload, at: auto["image"])
                : .imageAutoWithoutInjectionWarning(workload, at: auto["image"]))
        }
        return messages
    }
}
