/// Mesh networks may only draw endpoints from registries Istio knows: this cluster ("Kubernetes") and the
/// clusters of remote secrets (IST0126).
struct MeshNetworksAnalyzer: Analyzer {
    let name = "meshnetworks.MeshNetworksAnalyzer"
    let summary = "Checks that mesh networks name service registries (clusters) Istio knows"

    func analyze(_ input: AnalysisInput) -> [AnalysisMessage] {
        guard let networks = input.meshNetworks?["networks"]?.pairs else { return [] }
        var known: Set<String> = ["Kubernetes"]
        for secret in input.resources("Secret", group: "") where secret.labels["istio/multiCluster"] == "true" {
            for field in ["data", "stringData"] { known.formUnion((secret.node[field]?.pairs ?? []).compactMap(\.key.scalarText)) }
        }
        // The networks are reported on a stand-in object, as Istio reports them on its MeshNetworks resource.
        let holderNode = YAMLNode.mapping([
            ("kind", .string("MeshNetworks")),
            ("metadata", .mapping([("name", .string("meshnetworks")), ("namespace", .string(input.istioNamespace))])),
        ])
        guard let holder = AnalyzedResource(holderNode) else { return [] }
        var messages: [AnalysisMessage] = []
        for network in networks {
            for endpoint in network.value["endpoints"]?.items ?? [] {
                guard let registry = endpoint["fromRegistry"]?.scalarText, !known.contains(registry) else { continue }
                messages.append(.unknownMeshNetworksServiceRegistry(holder, registry: registry, network: network.key.scalarText ?? "",
                                                                    location: endpoint.location))
            }
        }
        return messages
    }
}
