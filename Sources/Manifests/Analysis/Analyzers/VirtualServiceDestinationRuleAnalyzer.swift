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
            for destination in RouteTarget.all(in: service.spec).compactMap(\.node) {
                guard let subsetNode = destination["subset"], let subset = subsetNode.scalarText, !subset.isEmpty,
                      let host = destination["host"]?.scalarText else { continue }
                let wanted = HostNames.qualified(host, in: namespace)
                let defined = (rulesByHost[wanted] ?? []).contains { rule in
                    rule.isVisible(in: namespace) && (rule.spec?["subsets"]?.items ?? []).contains { $0["name"]?.scalarText == subset }
                }
                if !defined {
                    messages.append(Messages.notFound(service, "host+subset in destinationrule", "\(host)+\(subset)", at: subsetNode))
                }
            }
        }
        return messages
    }
}
