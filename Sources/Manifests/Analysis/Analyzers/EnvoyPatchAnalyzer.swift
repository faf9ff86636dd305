/// EnvoyFilter patches that Istio ignores or may apply in the wrong order: relative operations without a
/// priority (IST0151, IST0155 with a proxyVersion match), REPLACE outside HTTP and network filters
/// (IST0152), ADD and REMOVE on route configurations and routes (IST0153, IST0154). One message of each
/// kind per EnvoyFilter.
struct EnvoyPatchAnalyzer: Analyzer {
    let name = "envoyfilter.EnvoyPatchAnalyzer"
    let summary = "Checks EnvoyFilter patch operations that are ignored or depend on the order filters are applied in"

    static let routeTargets: Set<String> = ["ROUTE_CONFIGURATION", "HTTP_ROUTE"]

    func analyze(_ input: AnalysisInput) -> [AnalysisMessage] {
        var messages: [AnalysisMessage] = []
        for filter in input.resources("EnvoyFilter", group: "networking.istio.io") {
            let prioritized = (filter.spec?["priority"]?.int ?? 0) != 0
            var emitted: Set<String> = []
            func emit(_ type: MessageType, _ text: String, at node: YAMLNode) {
                guard emitted.insert(type.code).inserted else { return }
                messages.append(AnalysisMessage(type, text, on: filter, at: node))
            }
            func relative(_ patch: YAMLNode, _ operation: String) {
                guard !prioritized else { return }
                if !(patch["match"]?["proxy"]?["proxyVersion"]?.scalarText ?? "").isEmpty {
                    emit(Messages.envoyFilterUsesRelativeOperationWithProxyVersion,
                         "a patch uses the relative operation \(operation) and matches a proxyVersion, without a priority: after an upgrade "
                            + "it may apply in another order or not at all; set spec.priority, or use ADD or INSERT_FIRST", at: patch)
                } else {
                    emit(Messages.envoyFilterUsesRelativeOperation,
                         "a patch uses the relative operation \(operation) without a priority, so whether it applies depends on the order "
                            + "of EnvoyFilters; set spec.priority, or use ADD or INSERT_FIRST", at: patch)
                }
            }
            for patch in filter.spec?["configPatches"]?.items ?? [] {
                let applyTo = patch["applyTo"]?.scalarText ?? ""
                switch patch["patch"]?["operation"]?.scalarText ?? "" {
                case "INSERT_BEFORE", "INSERT_AFTER":
                    relative(patch, patch["patch"]!["operation"]!.scalarText!)
                case "REPLACE":
                    if !prioritized {
                        relative(patch, "REPLACE")
                    } else if applyTo != "HTTP_FILTER" && applyTo != "NETWORK_FILTER" {
                        emit(Messages.envoyFilterUsesReplaceOperationIncorrectly,
                             "REPLACE only works on HTTP_FILTER and NETWORK_FILTER; this patch applies to \(applyTo) and is ignored", at: patch)
                    }
                case "ADD" where Self.routeTargets.contains(applyTo):
                    emit(Messages.envoyFilterUsesAddOperationIncorrectly,
                         "ADD is ignored for \(applyTo); use MERGE to change a route configuration", at: patch)
                case "REMOVE":
                    if Self.routeTargets.contains(applyTo) {
                        emit(Messages.envoyFilterUsesRemoveOperationIncorrectly, "REMOVE is ignored for \(applyTo)", at: patch)
                    } else {
                        relative(patch, "REMOVE")
                    }
                default:
                    break
                }
            }
        }
        return messages
    }
}
