/// Subsets a VirtualService routes or mirrors to must be defined by a DestinationRule for that host (IST0101).
struct VirtualServiceDestinationRuleAnalyzer: Analyzer {
    let name = "virtualservice.DestinationRuleAnalyzer"
    let summary = "Checks that the subsets a VirtualService routes to are defined by a DestinationRule"

    func analyze(_ input: AnalysisInput) -> [AnalysisMessage] {
        var rulesByHost: [String: [AnalyzedResource]] = [:]
        for rule in input.resources("DestinationRule", group: "networking.istio.io") {
            guard let host = rule.spec?["host"]?.scalarText else { continue }
            rulesByHost[HostNames.qualified(host, in: rule.namespaceOrEmpty), default: []].append(rule)
        }
        var messages: [AnalysisMessage] = []
        for service in input.resources("VirtualService", group: "networking.istio.io") {
            let namespace = service.namespaceOrEmpty
            for target in RouteTarget.all(in: service.spec) {
                guard let destination = target.node, let subset = destination["subset"]?.scalarText, !subset.isEmpty,
                      let hostNode = destination["host"], let host = hostNode.scalarText else { continue }
                let wanted = HostNames.qualified(host, in: namespace)
                let defined = (rulesByHost[wanted] ?? []).contains { rule in
                    rule.isVisible(in: namespace) && (rule.spec?["subsets"]?.items ?? []).contains { $0["name"]?.scalarText == subset }
                }
                if !defined {
                    // Istio points at the destination's host, the field that names what is missing with the subset.
                    let missing: AnalysisMessage.MissingReference = target.isMirror ? .mirrorSubset(host: host, subset: subset)
                        : .subset(host: host, subset: subset)
                    messages.append(.referencedResourceNotFound(service, missing, at: hostNode))
                }
            }
        }
        return messages
    }
}
