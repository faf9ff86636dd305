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
                messages.append(.serviceEntryAddressesRequired(entry, at: tcp))
            }
        }
        return messages
    }
}

/// ServiceEntries visible in a common namespace that give the same host and port different protocols (IST0177).
struct ConflictingServiceEntryProtocolAnalyzer: Analyzer {
    let name = "serviceentry.ConflictingServiceEntryProtocolAnalyzer"
    let summary = "Checks that ServiceEntries for the same host and port agree on the protocol"

    func analyze(_ input: AnalysisInput) -> [AnalysisMessage] {
        let entries = input.resources("ServiceEntry", group: "networking.istio.io")
        // (host, port) → the entries declaring it, with their protocol.
        var claims: [String: [(entry: Int, proto: String, node: YAMLNode)]] = [:]
        var order: [String] = []
        for (index, entry) in entries.enumerated() {
            for host in (entry.spec?["hosts"]?.items ?? []).compactMap(\.scalarText) {
                for port in entry.spec?["ports"]?.items ?? [] {
                    guard let number = port["number"]?.int else { continue }
                    let key = "\(host):\(number)"
                    if claims[key] == nil { order.append(key) }
                    claims[key, default: []].append((index, (port["protocol"]?.scalarText ?? "TCP").uppercased(), port))
                }
            }
        }
        var reported: Set<Int> = []
        var messages: [AnalysisMessage] = []
        for key in order {
            let claim = claims[key]!
            for item in claim where !reported.contains(item.entry) {
                let rivals = claim.filter { $0.entry != item.entry && $0.proto != item.proto && entries[$0.entry].sharesAudience(with: entries[item.entry]) }
                guard !rivals.isEmpty else { continue }
                reported.insert(item.entry)
                messages.append(.conflictingServiceEntryProtocol(entries[item.entry], entries: ([item] + rivals).map { entries[$0.entry] },
                                                                 hostPort: key, protocols: Set(([item] + rivals).map(\.proto)).sorted(),
                                                                 at: item.node))
            }
        }
        return messages
    }
}
