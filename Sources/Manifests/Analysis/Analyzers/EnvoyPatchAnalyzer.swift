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
            // One message of each code per EnvoyFilter.
            func emit(_ message: AnalysisMessage) {
                guard emitted.insert(message.type.code).inserted else { return }
                messages.append(message)
            }
            func relative(_ patch: YAMLNode, _ operation: String) {
                guard !prioritized else { return }
                if !(patch["match"]?["proxy"]?["proxyVersion"]?.scalarText ?? "").isEmpty {
                    emit(.envoyFilterUsesRelativeOperationWithProxyVersion(filter, operation: operation, at: patch))
                } else {
                    emit(.envoyFilterUsesRelativeOperation(filter, operation: operation, at: patch))
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
                        emit(.envoyFilterUsesReplaceOperationIncorrectly(filter, applyTo: applyTo, at: patch))
                    }
                case "ADD" where Self.routeTargets.contains(applyTo):
                    emit(.envoyFilterUsesAddOperationIncorrectly(filter, applyTo: applyTo, at: patch))
                case "REMOVE":
                    if Self.routeTargets.contains(applyTo) {
                        emit(.envoyFilterUsesRemoveOperationIncorrectly(filter, applyTo: applyTo, at: patch))
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
