/// TCP ServiceEntries without addresses: the proxy cannot tell their traffic apart by host (IST0134),
/// unless Istio's DNS proxy allocates addresses (DNS capture with auto allocation, or addresses in status).
struct ServiceEntryAddressesAnalyzer: Analyzer {
    let name = "serviceentry.Analyzer"
    let summary = "Checks that ServiceEntries with TCP ports have addresses, or that Istio allocates them"

    func analyze(_ input: AnalysisInput) -> [AnalysisMessage] {
        if input.proxyMetadata("ISTIO_META_DNS_CAPTURE") == "true" && input.proxyMetadata("ISTIO_META_DNS_AUTO_ALLOCATE") == "true" {
            return []
        }
        var messages: [AnalysisMessage] = []
        for entry in input.resources("ServiceEntry", group: "networking.istio.io") {
            let addresses = (entry.spec?["addresses"]?.items ?? []) + (entry.node["status"]?["addresses"]?.items ?? [])
            guard addresses.isEmpty else { continue }
            let tcp = (entry.spec?["ports"]?.items ?? []).first { port in
                let proto = (port["protocol"]?.scalarText ?? "").uppercased()
                return proto.isEmpty || proto == "TCP"
            }
            if let tcp {
                messages.append(AnalysisMessage(Messages.serviceEntryAddressesRequired,
                    "ServiceEntry \(entry.name) has a TCP port (or one without a protocol) but no addresses: the proxy cannot route its "
                        + "traffic by host; set addresses, a protocol such as HTTP or TLS, or enable DNS capture with auto allocation",
                    on: entry, at: tcp))
            }
        }
        return messages
    }
}
