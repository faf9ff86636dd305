/// Routes that match on JWT claims (`@request.auth.claims.*` headers) only work at gateways whose pods a
/// RequestAuthentication covers, since that is what validates the token and exposes its claims (IST0149).
struct JWTClaimRouteAnalyzer: Analyzer {
    let name = "virtualservice.JWTClaimRouteAnalyzer"
    let summary = "Checks that routes matching JWT claims go through gateways with a RequestAuthentication"

    static let claimPrefix = "@request.auth.claims"

    /// The first claim header a VirtualService's HTTP matches use.
    static func claimKey(_ spec: YAMLNode?) -> String? {
        for route in spec?["http"]?.items ?? [] {
            for match in route["match"]?.items ?? [] {
                for field in ["headers", "withoutHeaders"] {
                    if let key = (match[field]?.pairs ?? []).compactMap(\.key.scalarText).first(where: { $0.hasPrefix(claimPrefix) }) { return key }
                }
            }
        }
        return nil
    }

    func analyze(_ input: AnalysisInput) -> [AnalysisMessage] {
        let authentications = input.resources("RequestAuthentication", group: "security.istio.io")
        var messages: [AnalysisMessage] = []
        for service in input.resources("VirtualService", group: "networking.istio.io") {
            guard let key = Self.claimKey(service.spec) else { continue }
            for reference in (service.spec?["gateways"]?.items ?? []).compactMap(\.scalarText) where reference != "mesh" {
                let (namespace, name) = VirtualServiceGatewayAnalyzer.split(reference, defaultNamespace: service.namespaceOrEmpty)
                guard let gateway = input.resource("Gateway", namespace: namespace, name: name), gateway.group == "networking.istio.io" else { continue }
                let gatewayLabels = AnalyzedResource.stringMap(gateway.spec?["selector"])
                let covered = authentications.contains { authentication in
                    let selector = AnalyzedResource.stringMap(authentication.spec?["selector"]?["matchLabels"])
                    if selector.isEmpty { return authentication.namespaceOrEmpty == input.istioNamespace }
                    return authentication.namespaceOrEmpty == gateway.namespaceOrEmpty && selector.allSatisfy { gatewayLabels[$0.key] == $0.value }
                }
                if covered { continue }
                messages.append(.jwtClaimBasedRoutingWithoutRequestAuthN(service, claim: key, gateway: reference,
                                                                         selector: LabelSelector.text(gatewayLabels)))
                break
            }
        }
        return messages
    }
}
