/// Whether a workload's pods get the sidecar, judged from its Namespace object and pod template.
func workloadInMesh(_ workload: AnalyzedResource, template: YAMLNode?, in input: AnalysisInput) -> Bool {
    let labels = AnalyzedResource.stringMap(template?["metadata"]?["labels"])
    let annotations = AnalyzedResource.stringMap(template?["metadata"]?["annotations"])
    if labels["sidecar.istio.io/inject"] == "false" || annotations["sidecar.istio.io/inject"] == "false" { return false }
    if labels["sidecar.istio.io/inject"] == "true" { return true }
    return input.resource("Namespace", namespace: "", name: workload.namespaceOrEmpty)?.injectionRevision != nil
}

/// Deployments in the mesh whose Services disagree: the same port with different protocols (IST0116),
/// or the same target port behind different ports (IST0137).
struct DeploymentMultiServiceAnalyzer: Analyzer {
    let name = "deployment.MultiServiceAnalyzer"
    let summary = "Checks that the Services of a Deployment agree on the protocol and port of each target port"

    func analyze(_ input: AnalysisInput) -> [AnalysisMessage] {
        var messages: [AnalysisMessage] = []
        let services = input.resources("Service", group: "")
        for deployment in input.resources("Deployment", group: "apps") {
            let template = deployment.spec?["template"]
            guard workloadInMesh(deployment, template: template, in: input) else { continue }
            let podLabels = AnalyzedResource.stringMap(template?["metadata"]?["labels"])
            let selecting = services.filter { service in
                let selector = AnalyzedResource.stringMap(service.spec?["selector"])
                return service.namespaceOrEmpty == deployment.namespaceOrEmpty && !selector.isEmpty
                    && selector.allSatisfy { podLabels[$0.key] == $0.value }
            }
            guard selecting.count > 1 else { continue }
            var protocolsByPort: [Int: Set<String>] = [:], portsByTarget: [String: Set<Int>] = [:]
            var servicesByTarget: [String: [String]] = [:]
            for service in selecting {
                for port in service.spec?["ports"]?.items ?? [] {
                    guard let number = port["port"]?.int else { continue }
                    let proto = ServicePortNameAnalyzer.portProtocol(name: port["name"]?.scalarText ?? "",
                                                                     transport: port["protocol"]?.scalarText ?? "TCP",
                                                                     appProtocol: port["appProtocol"]?.scalarText) ?? "unknown"
                    protocolsByPort[number, default: []].insert(proto)
                    let target = port["targetPort"]?.scalarText ?? String(number)
                    portsByTarget[target, default: []].insert(number)
                    if !(servicesByTarget[target] ?? []).contains(service.name) { servicesByTarget[target, default: []].append(service.name) }
                }
            }
            for (port, protocols) in protocolsByPort.sorted(by: { $0.key < $1.key }) where protocols.count > 1 {
                messages.append(.deploymentAssociatedToMultipleServices(deployment, port: port, protocols: protocols.sorted()))
            }
            for (target, ports) in portsByTarget.sorted(by: { $0.key < $1.key }) where ports.count > 1 {
                messages.append(.deploymentConflictingPorts(deployment, services: servicesByTarget[target]!, targetPort: target, ports: ports.sorted()))
            }
        }
        return messages
    }
}

/// DestinationRule hosts must be known Services or ServiceEntries (IST0174), and each subset must select
/// some pod of the Service (IST0173); a pod's node adds its topology labels.
struct SubsetSelectPodAnalyzer: Analyzer {
    let name = "destinationrule.SubsetSelectPodAnalyzer"
    let reportsSelectorsWithoutPods = true
    let summary = "Checks that a DestinationRule's host exists and that each subset selects pods (needs pods: on files, only with --analyzer)"
    let needsRunningPods = true

    static let topologyLabels = ["topology.kubernetes.io/region", "topology.kubernetes.io/zone", "kubernetes.io/hostname"]

    func analyze(_ input: AnalysisInput) -> [AnalysisMessage] {
        var messages: [AnalysisMessage] = []
        var servicesByHost: [String: AnalyzedResource] = [:]
        for service in input.resources("Service", group: "") {
            let host = HostNames.qualified(service.name, in: service.namespaceOrEmpty)
            if servicesByHost[host] == nil { servicesByHost[host] = service }
        }
        let entries = HostIndex(serviceEntries: input.resources("ServiceEntry", group: "networking.istio.io"))
        let pods = input.resources("Pod", group: "")
        for rule in input.resources("DestinationRule", group: "networking.istio.io") {
            guard let hostNode = rule.spec?["host"], let host = hostNode.scalarText, !host.hasPrefix("*") else { continue }
            let wanted = HostNames.qualified(host, in: rule.namespaceOrEmpty)
            let service = servicesByHost[wanted]
            if service == nil {
                let known = !entries.items(for: host).isEmpty || !entries.items(for: wanted).isEmpty
                if !known {
                    messages.append(.unknownDestinationRuleHost(rule, host: host, at: hostNode))
                }
                continue
            }
            let selector = AnalyzedResource.stringMap(service!.spec?["selector"])
            let backends = pods.filter { $0.namespaceOrEmpty == service!.namespaceOrEmpty && $0.isSelected(by: selector) }.map { pod in
                var labels = pod.labels
                if let nodeName = pod.spec?["nodeName"]?.scalarText, let node = input.resource("Node", namespace: "", name: nodeName) {
                    for key in Self.topologyLabels { if let value = node.labels[key], !value.isEmpty { labels[key] = value } }
                }
                return labels
            }
            for subset in rule.spec?["subsets"]?.items ?? [] {
                let wantedLabels = AnalyzedResource.stringMap(subset["labels"])
                if backends.contains(where: { labels in wantedLabels.allSatisfy { !$0.value.isEmpty && labels[$0.key] == $0.value } }) { continue }
                messages.append(.destinationRuleSubsetNotSelectPods(rule, subset: subset["name"]?.scalarText ?? "", service: service!, at: subset))
            }
        }
        return messages
    }
}
