/// Status conditions that Istio or the Gateway API controllers set to a failing value (IST0171): a
/// waypoint not bound, a policy ztunnel rejected, a route not accepted. Conditions of other controllers
/// (types with another domain, such as argocd.argoproj.io/Synced) are left alone.
struct ConditionAnalyzer: Analyzer {
    let name = "conditions.ConditionAnalyzer"
    let summary = "Reports failing status conditions that Istio set on Services, policies, gateways and routes"

    static let kinds = [("Service", ""), ("ServiceEntry", "networking.istio.io"), ("AuthorizationPolicy", "security.istio.io"),
                        ("Gateway", "gateway.networking.k8s.io"), ("HTTPRoute", "gateway.networking.k8s.io"),
                        ("GRPCRoute", "gateway.networking.k8s.io"), ("TCPRoute", "gateway.networking.k8s.io"),
                        ("TLSRoute", "gateway.networking.k8s.io")]

    func analyze(_ input: AnalysisInput) -> [AnalysisMessage] {
        var messages: [AnalysisMessage] = []
        for (kind, group) in Self.kinds {
            for resource in input.resources(kind, group: group) {
                let status = resource.node["status"]
                let conditions = (status?["conditions"]?.items ?? []) + (status?["parents"]?.items ?? []).flatMap { $0["conditions"]?.items ?? [] }
                let failing = conditions.first { condition in
                    let type = condition["type"]?.scalarText ?? ""
                    guard !type.contains("/") || type.hasPrefix("istio.io/") else { return false }
                    return condition["status"]?.scalarText == "False" || condition["reason"]?.scalarText == "PartiallyInvalid"
                }
                guard let failing else { continue }
                messages.append(.negativeConditionStatus(resource, type: failing["type"]?.scalarText ?? "", status: failing["status"]?.scalarText ?? "",
                                                         reason: failing["reason"]?.scalarText ?? "", message: failing["message"]?.scalarText,
                                                         at: failing))
            }
        }
        return messages
    }
}
