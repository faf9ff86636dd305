/// RequestAuthentications make istiod fetch JWKS URIs; without BLOCKED_CIDRS_IN_JWKS_URIS on istiod,
/// any address can be fetched (IST0175).
struct BlockedCIDRsAnalyzer: Analyzer {
    let name = "authn.BlockedCIDRsAnalyzer"
    let summary = "Checks that istiod restricts JWKS URI fetches (BLOCKED_CIDRS_IN_JWKS_URIS) when RequestAuthentications exist"

    func analyze(_ input: AnalysisInput) -> [AnalysisMessage] {
        let requestAuthentications = input.resources("RequestAuthentication", group: "security.istio.io")
        guard !requestAuthentications.isEmpty else { return [] }
        var messages: [AnalysisMessage] = []
        for istiod in input.resources("Deployment", group: "apps") where istiod.namespaceOrEmpty == input.istioNamespace
            && (istiod.name == "istiod" || istiod.name.hasPrefix("istiod-")) {
            let containers = istiod.spec?["template"]?["spec"]?["containers"]?.items ?? []
            let configured = containers.contains { container in
                (container["env"]?.items ?? []).contains { $0["name"]?.scalarText == "BLOCKED_CIDRS_IN_JWKS_URIS" && !($0["value"]?.scalarText ?? "").isEmpty }
            }
            if configured { continue }
            let names = requestAuthentications.map { $0.origin.dropFirst("RequestAuthentication ".count) }.joined(separator: ", ")
            messages.append(AnalysisMessage(Messages.jwksUriFetchUnrestricted,
                "istiod does not set BLOCKED_CIDRS_IN_JWKS_URIS, but \(requestAuthentications.count) RequestAuthentication(s) (\(names)) "
                    + "make it fetch JWKS URIs; set it to the networks istiod must not reach, e.g. 10.0.0.0/8,192.168.0.0/16",
                on: istiod))
        }
        return messages
    }
}
