/// Service ports whose protocol Istio cannot tell from the name or appProtocol (IST0118), and
/// ExternalName services whose ports Istio would treat as plain TCP (IST0150).
struct ServicePortNameAnalyzer: Analyzer {
    let name = "service.PortNameAnalyzer"
    let summary = "Checks that Service port names tell Istio the protocol (<protocol>[-<suffix>] or appProtocol)"

    /// Namespaces of Kubernetes itself, whose Services Istio leaves alone.
    static let systemNamespaces: Set<String> = ["kube-system", "kube-public", "kube-node-lease", "local-path-storage"]

    /// Protocols Istio reads from a port name's prefix or from appProtocol.
    static let protocols: Set<String> = ["http", "http2", "https", "http_proxy", "grpc", "grpc-web", "tcp", "tls", "udp", "mongo",
                                         "mysql", "redis", "thrift", "hbone"]
    static let appProtocolAliases: Set<String> = ["kubernetes.io/h2c", "kubernetes.io/ws", "kubernetes.io/wss"]

    /// The protocol Istio assigns to a port, or nil when it cannot tell.
    static func portProtocol(name: String, transport: String, appProtocol: String?) -> String? {
        if transport.uppercased() == "UDP" { return "udp" }
        if let appProtocol, !appProtocol.isEmpty {
            let lower = appProtocol.lowercased()
            if protocols.contains(lower) { return lower }
            if appProtocolAliases.contains(lower) { return lower == "kubernetes.io/h2c" ? "http2" : "http" }
        }
        let lower = name.lowercased()
        let prefix = lower.split(separator: "-", maxSplits: 1).first.map(String.init) ?? ""
        if protocols.contains(lower) { return lower }
        if protocols.contains(prefix) { return prefix }
        return nil
    }

    func analyze(_ input: AnalysisInput) -> [AnalysisMessage] {
        var messages: [AnalysisMessage] = []
        for service in input.resources("Service", group: "") {
            if Self.systemNamespaces.contains(service.namespaceOrEmpty) { continue }
            let labels = service.labels
            if labels["istio"] != nil || labels["release"] == "istio" || labels["gateway.networking.k8s.io/gateway-name"] != nil { continue }
            let external = service.spec?["type"]?.scalarText == "ExternalName"
            for port in service.spec?["ports"]?.items ?? [] {
                let portName = port["name"]?.scalarText ?? ""
                let detected = Self.portProtocol(name: portName, transport: port["protocol"]?.scalarText ?? "TCP",
                                                 appProtocol: port["appProtocol"]?.scalarText)
                if external {
                    if detected == nil || detected == "tcp" {
                        messages.append(.externalNameServiceTypeInvalidPortName(service, portName: portName, at: port))
                    }
                } else if detected == nil {
                    let number = port["port"]?.scalarText ?? "0"
                    let target = port["targetPort"]?.scalarText ?? number
                    messages.append(.portNameIsNotUnderNamingConvention(service, portName: portName, port: number, targetPort: target, at: port))
                }
            }
        }
        return messages
    }
}
