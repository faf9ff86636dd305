/// Hosts a VirtualService routes to must be Services or ServiceEntries visible where the VirtualService
/// applies (IST0101), with a port that exists and, when the Service has several, a port named (IST0112).
/// Routes from a gateway that skip the subsets the mesh's own VirtualService uses are noted (IST0140).
struct VirtualServiceDestinationHostAnalyzer: Analyzer {
    let name = "virtualservice.DestinationHostAnalyzer"
    let summary = "Checks that the hosts and ports a VirtualService routes to exist and are visible to it"

    /// Namespaces a Service is exported to (`networking.istio.io/exportTo`); nil means all.
    static func serviceExports(_ service: AnalyzedResource) -> Set<String>? {
        guard let text = service.annotations["networking.istio.io/exportTo"], !text.isEmpty else { return nil }
        let list = text.split(separator: ",").map { String($0).trimmed }
        if list.contains("*") { return nil }
        return Set(list.map { $0 == "." ? service.namespaceOrEmpty : $0 })
    }

    func analyze(_ input: AnalysisInput) -> [AnalysisMessage] {
        let services = input.resources("Service", group: "")
        let entries = HostIndex(serviceEntries: input.resources("ServiceEntry", group: "networking.istio.io"))
        var servicesByHost: [String: [AnalyzedResource]] = [:]
        for service in services { servicesByHost[HostNames.qualified(service.name, in: service.namespaceOrEmpty), default: []].append(service) }
        var messages: [AnalysisMessage] = []
        for virtualService in input.resources("VirtualService", group: "networking.istio.io") {
            let namespace = virtualService.namespaceOrEmpty
            // Where the VirtualService applies: its exportTo namespaces, else its own.
            let exports = (virtualService.spec?["exportTo"]?.items ?? []).compactMap(\.scalarText)
            let audiences = exports.isEmpty || exports.contains("*") ? [namespace] : exports.map { $0 == "." ? namespace : $0 }
            for destination in RouteTarget.all(in: virtualService.spec) {
                let hostNode = destination.node?["host"]
                let host = hostNode?.scalarText ?? ""
                let qualified = HostNames.qualified(host, in: namespace)
                let visibleServices = (servicesByHost[qualified] ?? []).filter { service in
                    guard let allowed = Self.serviceExports(service) else { return true }
                    return audiences.allSatisfy(allowed.contains)
                }
                let visibleEntry = entries.items(for: qualified).contains { entry in
                    audiences.allSatisfy(entry.isVisible(in:))
                }
                guard let service = visibleServices.first else {
                    if !visibleEntry {
                        messages.append(.referencedResourceNotFound(virtualService, .host(host), at: hostNode ?? destination.container))
                    }
                    continue
                }
                let ports = (service.spec?["ports"]?.items ?? []).compactMap { $0["port"]?.int }
                if let portNode = destination.node?["port"]?["number"], let port = portNode.int {
                    if !ports.contains(port) { messages.append(.referencedResourceNotFound(virtualService, .hostPort(host: host, port: port), at: portNode)) }
                } else if ports.count > 1 {
                    messages.append(.virtualServiceDestinationPortSelectorRequired(virtualService, host: host, ports: ports, at: hostNode))
                }
            }
        }
        messages += ingressSubsetNotes(input)
        return messages
    }

    /// IST0140: a gateway's VirtualService routes to a host without a subset, while the mesh VirtualService
    /// for that host splits by subset; the split does not apply to traffic entering through the gateway.
    func ingressSubsetNotes(_ input: AnalysisInput) -> [AnalysisMessage] {
        let all = input.resources("VirtualService", group: "networking.istio.io")
        var meshSubsetRules: [String: AnalyzedResource] = [:]
        for service in all {
            let gateways = (service.spec?["gateways"]?.items ?? []).compactMap(\.scalarText)
            guard gateways.isEmpty || gateways.contains("mesh") else { continue }
            let usesSubsets = RouteTarget.all(in: service.spec).contains { !($0.node?["subset"]?.scalarText ?? "").isEmpty }
            guard usesSubsets else { continue }
            for host in (service.spec?["hosts"]?.items ?? []).compactMap(\.scalarText) {
                meshSubsetRules[HostNames.qualified(host, in: service.namespaceOrEmpty)] = service
            }
        }
        var messages: [AnalysisMessage] = []
        for service in all {
            let gateways = (service.spec?["gateways"]?.items ?? []).compactMap(\.scalarText)
            guard !gateways.isEmpty, !gateways.contains("mesh") else { continue }
            for target in RouteTarget.all(in: service.spec) where (target.node?["subset"]?.scalarText ?? "").isEmpty {
                guard let host = target.node?["host"]?.scalarText,
                      let meshRule = meshSubsetRules[HostNames.qualified(host, in: service.namespaceOrEmpty)] else { continue }
                messages.append(.ingressRouteRulesNotAffected(service, meshRule: meshRule, host: host, at: target.node))
                break
            }
        }
        return messages
    }
}
