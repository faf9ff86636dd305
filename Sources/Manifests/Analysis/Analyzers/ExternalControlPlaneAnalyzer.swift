/// Istio's injection and validation webhooks that reach an external control plane by URL: the URL must
/// be set (IST0163), and should name a host rather than an IP address (IST0164).
struct ExternalControlPlaneAnalyzer: Analyzer {
    let name = "externalcontrolplane.ExternalControlPlaneAnalyzer"
    let summary = "Checks the URLs Istio's webhooks use to reach an external control plane"

    func analyze(_ input: AnalysisInput) -> [AnalysisMessage] {
        var messages: [AnalysisMessage] = []
        let configurations = input.resources("MutatingWebhookConfiguration", group: "admissionregistration.k8s.io")
            + input.resources("ValidatingWebhookConfiguration", group: "admissionregistration.k8s.io")
        for configuration in configurations {
            for webhook in configuration.node["webhooks"]?.items ?? [] {
                let webhookName = webhook["name"]?.scalarText ?? ""
                guard webhookName.hasSuffix("istio.io"), let client = webhook["clientConfig"],
                      client.pairs?.contains(where: { $0.key.scalarText == "url" }) == true else { continue }
                let url = client["url"]?.scalarText ?? ""
                if url.isEmpty {
                    messages.append(.invalidExternalControlPlaneConfig(configuration, webhook: webhookName, at: client))
                    break
                }
                if let host = Self.host(of: url), IPAddressText.isAddress(host) {
                    messages.append(.externalControlPlaneAddressIsNotAHostname(configuration, webhook: webhookName, address: host, at: client["url"]))
                    break
                }
            }
        }
        return messages
    }

    /// The host of `scheme://host[:port]/path`, without IPv6 brackets.
    static func host(of url: String) -> String? {
        let parts = url.split(separator: "://", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2 else { return nil }
        let authority = parts[1].prefix { $0 != "/" }
        if authority.hasPrefix("["), let close = authority.firstIndex(of: "]") {
            return String(authority[authority.index(after: authority.startIndex)..<close])
        }
        return String(authority.prefix { $0 != ":" })
    }
}
