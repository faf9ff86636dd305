import ConfigValues

/// A pod as the pilot sees it: where it runs, who it is, and whether it has a sidecar.
public struct MeshWorkload: Sendable {
    public var name: String
    public var namespace: String
    public var ip: String
    public var labels: [String: String]
    public var serviceAccount: String
    /// It has an `istio-proxy` container.
    public var hasSidecar: Bool
    /// Container ports by name (for Service `targetPort` names).
    public var namedPorts: [String: Int]
    public var locality: Locality
    /// The proxy's node metadata `HTTP10` is "1" (the istio-proxy container's `ISTIO_META_HTTP10`, as the injector
    /// writes it from the mesh's `proxyMetadata`): its HTTP listeners take HTTP/1.0 requests instead of answering 426.
    public var acceptsHTTP10 = false
    /// The proxy's own ProxyConfig: the istio-proxy container's `PROXY_CONFIG` (which the injector writes from the
    /// mesh default and the pod's annotation), else the `proxy.istio.io/config` annotation; nil when neither is set.
    public var proxyConfig: JSONValue?

    /// `security.istio.io/tlsMode`: `istio` for pods with a sidecar (the injector sets the label), else `disabled`.
    public var tlsMode: String { labels["security.istio.io/tlsMode"] ?? (hasSidecar ? "istio" : "disabled") }

    /// The address the application listens on behind a sidecar in local mode: 127.11.x.y for pod IP 127.10.x.y.
    public var applicationIP: String {
        let parts = ip.split(separator: ".")
        guard hasSidecar, parts.count == 4, parts[0] == "127", parts[1] == "10" else { return ip }
        return "127.11.\(parts[2]).\(parts[3])"
    }

    /// `name;namespace;app;version;cluster`, as Istio's endpoint metadata names the workload.
    public var workloadMetadata: String {
        let app = labels["service.istio.io/canonical-name"] ?? labels["app.kubernetes.io/name"] ?? labels["app"] ?? name
        let version = labels["service.istio.io/canonical-revision"] ?? labels["app.kubernetes.io/version"] ?? labels["version"] ?? "latest"
        return "\(workloadName);\(namespace);\(app);\(version);Kubernetes"
    }

    /// The owning Deployment's name as Istio guesses it from the pod name (`reviews-v1-5b9f4c-x7k2p` -> `reviews-v1`).
    public var workloadName: String {
        let parts = name.split(separator: "-")
        guard parts.count >= 3 else { return name }
        return parts.dropLast(2).joined(separator: "-")
    }

    func port(named target: JSONValue?) -> Int? {
        if let number = target?.int { return number }
        if let name = target?.string { return Int(name) ?? namedPorts[name] }
        return nil
    }

    /// An `istio-proxy` container that is a sidecar: not a gateway's (`proxy router`), whose pod serves plaintext
    /// on its ports, so its endpoints get no auto mTLS (istiod reads the injector's tlsMode label, which gateways lack).
    static func isSidecar(_ container: JSONValue) -> Bool {
        container["name"]?.string == "istio-proxy" && container["args"]?.array?.dropFirst().first?.string != "router"
    }

    /// A ProxyConfig written as JSON or YAML; nil when it is neither, or not a mapping.
    static func proxyConfig(from text: String) -> JSONValue? {
        guard let document = (try? YAMLParser.parse(text))?.first else { return nil }
        let value = JSONValue(yaml: document.root)
        return value.object == nil ? nil : value
    }

    static func read(_ pod: JSONValue, nodes: [String: Locality]) -> MeshWorkload? {
        guard let name = pod.value(atPath: "metadata.name")?.string else { return nil }
        let containers = pod.value(atPath: "spec.containers")?.array ?? []
        var ports: [String: Int] = [:]
        for container in containers {
            for port in container["ports"]?.array ?? [] {
                if let portName = port["name"]?.string, let number = port["containerPort"]?.int { ports[portName] = number }
            }
        }
        let labels = pod.labelMap
        var locality = pod.value(atPath: "spec.nodeName")?.string.flatMap { nodes[$0] } ?? Locality()
        if let label = labels["istio-locality"] { locality = Locality(label: label) }
        var workload = MeshWorkload(name: name, namespace: pod.value(atPath: "metadata.namespace")?.string ?? "default",
                                    ip: pod.value(atPath: "status.podIP")?.string ?? "", labels: labels,
                                    serviceAccount: pod.value(atPath: "spec.serviceAccountName")?.string ?? "default",
                                    hasSidecar: containers.contains(where: isSidecar), namedPorts: ports, locality: locality)
        let proxyEnvironment = containers.first { $0["name"]?.string == "istio-proxy" }?["env"]?.array ?? []
        workload.acceptsHTTP10 = proxyEnvironment.contains { $0["name"]?.string == "ISTIO_META_HTTP10" && $0["value"]?.string == "1" }
        let injected = proxyEnvironment.first { $0["name"]?.string == "PROXY_CONFIG" }?["value"]?.string
        let annotated = pod.value(atPath: "metadata.annotations")?["proxy.istio.io/config"]?.string
        workload.proxyConfig = (injected ?? annotated).flatMap(Self.proxyConfig(from:))
        return workload
    }
}

/// Region, zone and sub-zone (from the node's `topology.kubernetes.io/*` labels or the pod's `istio-locality`).
public struct Locality: Sendable, Hashable {
    public var region = ""
    public var zone = ""
    public var subZone = ""

    public init(region: String = "", zone: String = "", subZone: String = "") {
        self.region = region
        self.zone = zone
        self.subZone = subZone
    }

    /// `region.zone.subzone`, Istio's label form.
    init(label: String) {
        let parts = label.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        self.init(region: parts.first ?? "", zone: parts.count > 1 ? parts[1] : "", subZone: parts.count > 2 ? parts[2] : "")
    }

    var isEmpty: Bool { region.isEmpty && zone.isEmpty && subZone.isEmpty }
}

/// One address serving one service port.
public struct ServiceEndpoint: Sendable {
    public var address: String
    public var port: Int
    /// The pod behind it, nil for ServiceEntry endpoints and addresses without a known pod.
    public var workload: MeshWorkload?
    public var labels: [String: String]
    public var serviceAccount: String?
    public var tlsMode: String
    public var locality: Locality
    public var weight: Int = 1
    /// The network the endpoint is on (a WorkloadEntry's `network`; empty: the proxy's own).
    public var network = ""
    /// Istio's telemetry metadata for an endpoint without a pod (a WorkloadEntry's); pods' comes from `workload`.
    public var workloadMetadata: String?
}
