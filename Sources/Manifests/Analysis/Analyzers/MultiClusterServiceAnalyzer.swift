/// A Service that several clusters of one mesh define differently (IST0170): Istio merges their endpoints under
/// one host, so a port, a protocol or the headless mode that differs makes routing depend on which cluster answers.
struct MultiClusterServiceAnalyzer: Analyzer {
    let name = "services.MultiClusterServiceAnalyzer"
    let summary = "Checks that a Service defined in several clusters of the mesh is defined the same way in each"

    func analyze(_ input: AnalysisInput) -> [AnalysisMessage] {
        var byService: [String: [AnalyzedResource]] = [:]
        var order: [String] = []
        for service in input.resources("Service", group: "") where service.cluster != nil {
            let key = "\(service.namespaceOrEmpty)/\(service.name)"
            if byService[key] == nil { order.append(key) }
            byService[key, default: []].append(service)
        }
        var messages: [AnalysisMessage] = []
        for key in order {
            let services = byService[key]!
            guard Set(services.compactMap(\.cluster)).count > 1, let first = services.first else { continue }
            var differences: [AnalysisMessage.ServiceDifference] = []
            for other in services.dropFirst() {
                for (aspect, value) in Self.aspects(first) where Self.aspects(other)[aspect] != value {
                    let difference = AnalysisMessage.ServiceDifference(aspect: aspect, value: value, cluster: first.cluster!,
                                                                       otherValue: Self.aspects(other)[aspect], otherCluster: other.cluster!)
                    if !differences.contains(difference) { differences.append(difference) }
                }
            }
            guard !differences.isEmpty else { continue }
            messages.append(.multiClusterInconsistentService(first, clusters: services.compactMap(\.cluster), differences: differences))
        }
        return messages
    }

    /// What must agree across clusters: the type, headless or not, and each port's name and protocol.
    static func aspects(_ service: AnalyzedResource) -> [String: String] {
        var result = ["type": service.spec?["type"]?.scalarText ?? "ClusterIP",
                      "headless": service.spec?["clusterIP"]?.scalarText == "None" ? "yes" : "no"]
        var ports: [String] = []
        for port in service.spec?["ports"]?.items ?? [] {
            let number = port["port"]?.scalarText ?? "?"
            ports.append("\(number)/\(port["protocol"]?.scalarText ?? "TCP") \(port["name"]?.scalarText ?? "")")
        }
        result["ports"] = "[" + ports.sorted().joined(separator: ", ") + "]"
        return result
    }
}
