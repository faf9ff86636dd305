/// Workloads that run as UID 1337, the sidecar proxy's user: their traffic would bypass the proxy (IST0144).
struct ApplicationUIDAnalyzer: Analyzer {
    let name = "applicationUID.Analyzer"
    let summary = "Checks that application containers do not run as UID 1337, which the sidecar proxy uses"

    static let proxyUID = "1337"

    func analyze(_ input: AnalysisInput) -> [AnalysisMessage] {
        var messages: [AnalysisMessage] = []
        for workload in input.resources("Pod", group: "") + input.resources("Deployment", group: "apps") {
            let podSpec = workload.kind == "Pod" ? workload.spec : workload.spec?["template"]?["spec"]
            var offending: YAMLNode? = podSpec?["securityContext"]?["runAsUser"]
            if offending?.scalarText != Self.proxyUID { offending = nil }
            for container in podSpec?["containers"]?.items ?? [] where offending == nil && container["name"]?.scalarText != "istio-proxy" {
                if let uid = container["securityContext"]?["runAsUser"], uid.scalarText == Self.proxyUID { offending = uid }
            }
            if let offending {
                messages.append(.invalidApplicationUID(workload, at: offending))
            }
        }
        return messages
    }
}
