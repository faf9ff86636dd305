/// What selecting pods by label finds across resources of one kind: selectors that match nothing,
/// pods matched by several resources, and namespaces with several resources that have no selector.
struct SelectorFindings {
    var unmatched: [(resource: AnalyzedResource, selector: YAMLNode?, text: String)] = []
    var conflicts: [(resource: AnalyzedResource, rivals: [String], pod: String)] = []
    var unselected: [(namespace: String, resources: [AnalyzedResource])] = []

    /// `selectorOf` gives the label map node of a resource (nil or empty: no selector).
    init(_ resources: [AnalyzedResource], pods: [AnalyzedResource], selectorOf: (AnalyzedResource) -> YAMLNode?) {
        var withoutSelector: [String: [AnalyzedResource]] = [:]
        var namespaceOrder: [String] = []
        var resourcesOfPod: [String: [Int]] = [:]
        var podOrder: [String] = []
        for (index, resource) in resources.enumerated() {
            let node = selectorOf(resource)
            let selector = AnalyzedResource.stringMap(node)
            if selector.isEmpty {
                if withoutSelector[resource.namespaceOrEmpty] == nil { namespaceOrder.append(resource.namespaceOrEmpty) }
                withoutSelector[resource.namespaceOrEmpty, default: []].append(resource)
                continue
            }
            let selected = pods.filter { $0.namespaceOrEmpty == resource.namespaceOrEmpty && $0.isSelected(by: selector) }
            if selected.isEmpty {
                unmatched.append((resource, node, LabelSelector.text(selector)))
            }
            for pod in selected {
                let key = "\(pod.namespaceOrEmpty)/\(pod.name)"
                if resourcesOfPod[key] == nil { podOrder.append(key) }
                resourcesOfPod[key, default: []].append(index)
            }
        }
        unselected = namespaceOrder.compactMap { withoutSelector[$0]!.count > 1 ? ($0, withoutSelector[$0]!) : nil }
        var reported: Set<Int> = []
        for pod in podOrder {
            let indices = resourcesOfPod[pod]!
            guard indices.count > 1 else { continue }
            for index in indices where !reported.contains(index) {
                reported.insert(index)
                conflicts.append((resources[index], indices.map { resources[$0].name }, pod))
            }
        }
    }
}

/// Sidecar resources must select pods (IST0101), at most one may omit the selector in a namespace
/// (IST0111), no pod may be selected by two (IST0110), and in ambient namespaces they do nothing (IST0167).
struct SidecarSelectorAnalyzer: Analyzer {
    let name = "sidecar.SelectorAnalyzer"
    let reportsSelectorsWithoutPods = true
    let summary = "Checks that Sidecar resources select pods, one each (needs pods: on files, only with --analyzer)"
    let needsRunningPods = true

    func analyze(_ input: AnalysisInput) -> [AnalysisMessage] {
        var messages: [AnalysisMessage] = []
        let pods = input.resources("Pod", group: "")
        var sidecars: [AnalyzedResource] = []
        for sidecar in input.resources("Sidecar", group: "networking.istio.io") {
            let selector = AnalyzedResource.stringMap(sidecar.spec?["workloadSelector"]?["labels"])
            if let reason = Self.ambientReason(sidecar, selector: selector, pods: pods, input: input) {
                messages.append(.ineffectivePolicy(sidecar, reason))
            } else {
                sidecars.append(sidecar)
            }
        }
        let findings = SelectorFindings(sidecars, pods: pods) { $0.spec?["workloadSelector"]?["labels"] }
        for item in findings.unmatched { messages.append(.referencedResourceNotFound(item.resource, .selector(item.text), at: item.selector)) }
        for group in findings.unselected {
            for sidecar in group.resources {
                messages.append(.multipleSidecarsWithoutWorkloadSelectors(sidecar, sidecars: group.resources.map(\.name), namespace: group.namespace))
            }
        }
        for item in findings.conflicts {
            messages.append(.conflictingSidecarWorkloadSelectors(item.resource, sidecars: item.rivals, pod: item.pod))
        }
        return messages
    }

    /// Why a Sidecar cannot apply in an ambient namespace, or nil when it can.
    static func ambientReason(_ sidecar: AnalyzedResource, selector: [String: String], pods: [AnalyzedResource],
                              input: AnalysisInput) -> AnalysisMessage.AmbientReason? {
        guard let namespace = input.resource("Namespace", namespace: "", name: sidecar.namespaceOrEmpty) else { return nil }
        let labels = namespace.labels
        guard labels["istio.io/dataplane-mode"] == "ambient", labels["istio-injection"] == nil, labels["istio.io/rev"] == nil else { return nil }
        if selector.isEmpty { return .ambientNamespace(namespace.name) }
        let selected = pods.filter { $0.namespaceOrEmpty == sidecar.namespaceOrEmpty && $0.isSelected(by: selector) }
        let ambient = selected.filter { $0.annotations["ambient.istio.io/redirection"] == "enabled" }
        return !selected.isEmpty && ambient.count == selected.count ? .ambientPods : nil
    }
}

/// VirtualServices for the mesh gateway that claim the same host where both are visible (IST0109).
struct ConflictingMeshGatewayHostsAnalyzer: Analyzer {
    let name = "virtualservice.ConflictingMeshGatewayHostsAnalyzer"
    let summary = "Checks that no two VirtualServices bound to the mesh gateway claim the same host"

    func analyze(_ input: AnalysisInput) -> [AnalysisMessage] {
        let services = input.resources("VirtualService", group: "networking.istio.io").filter { service in
            let gateways = (service.spec?["gateways"]?.items ?? []).compactMap(\.scalarText)
            return gateways.isEmpty || gateways.contains("mesh")
        }
        let hostsOf = services.map { service in
            (service.spec?["hosts"]?.items ?? []).compactMap(\.scalarText).map { HostNames.qualified($0, in: service.namespaceOrEmpty) }
        }
        let index = HostIndex(hostsOf.enumerated().flatMap { position, hosts in hosts.map { (host: $0, item: position) } })
        var messages: [AnalysisMessage] = []
        for (position, service) in services.enumerated() {
            var rival: (index: Int, host: String)?
            for host in hostsOf[position] where rival == nil {
                var candidates = index.items(for: host)
                // A wildcard host also meets the names it covers.
                if host.hasPrefix("*") {
                    candidates += hostsOf.indices.filter { other in hostsOf[other].contains { HostNames.overlap($0, host) } }
                }
                rival = candidates.first { $0 != position && services[$0].sharesAudience(with: service) }.map { ($0, host) }
            }
            guard let rival else { continue }
            messages.append(.conflictingMeshGatewayVirtualServiceHosts(service, other: services[rival.index], host: rival.host))
        }
        return messages
    }
}
