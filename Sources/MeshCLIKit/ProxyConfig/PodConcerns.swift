import Manifests

/// Which Kubernetes and Istio objects concern one pod (`x capture`'s istio.yaml): the Services that select it
/// and their Endpoints, and the Istio objects that apply to it as a workload or to its Services' hosts.
struct PodConcerns {
    let pod: JSONValue
    /// The mesh's root namespace (mesh config `rootNamespace`, else the Istio namespace): its policies apply mesh-wide.
    let rootNamespace: String

    var namespace: String { pod["metadata"]?["namespace"]?.string ?? "" }
    var labels: [String: String] { pod.labelMap }

    /// Services of the pod's namespace whose selector selects it.
    func services(_ all: [JSONValue]) -> [JSONValue] {
        all.filter { service in
            let selector = service["spec"]?["selector"]?.stringMap ?? [:]
            return service["metadata"]?["namespace"]?.string == namespace && !selector.isEmpty && selector.allSatisfy { labels[$0.key] == $0.value }
        }
    }

    /// The Endpoints (same name and namespace) of those Services.
    func endpoints(_ all: [JSONValue], of services: [JSONValue]) -> [JSONValue] {
        let names = Set(services.compactMap { $0["metadata"]?["name"]?.string })
        return all.filter { $0["metadata"]?["namespace"]?.string == namespace && names.contains($0["metadata"]?["name"]?.string ?? "") }
    }

    /// The Istio objects of `kind` that apply to the pod, given its Services' host names
    /// (`reviews.default.svc.cluster.local`).
    func istioObjects(_ all: [JSONValue], kind: String, serviceHosts: Set<String>) -> [JSONValue] {
        all.filter { object in
            let objectNamespace = object["metadata"]?["namespace"]?.string ?? ""
            let spec = object["spec"]
            switch kind {
            case "DestinationRule":
                return Self.hostMatches(spec?["host"]?.string, in: objectNamespace, serviceHosts) || selects(spec?["workloadSelector"]?["matchLabels"], in: objectNamespace)
            case "VirtualService":
                let hosts = (spec?["hosts"]?.array ?? []).compactMap(\.string)
                let destinations = ["http", "tcp", "tls"].flatMap { (spec?[$0]?.array ?? []).flatMap { ($0["route"]?.array ?? []).compactMap { $0["destination"]?["host"]?.string } } }
                return (hosts + destinations).contains { Self.hostMatches($0, in: objectNamespace, serviceHosts) }
            case "ServiceEntry":
                return objectNamespace == namespace || selects(spec?["workloadSelector"]?["labels"], in: objectNamespace)
            default:
                // PeerAuthentication, AuthorizationPolicy, Sidecar: namespace-wide in the pod's namespace, mesh-wide in
                // the root namespace, or a selector that selects the pod.
                let selector = spec?["selector"]?["matchLabels"] ?? spec?["workloadSelector"]?["labels"]
                if (selector?.stringMap ?? [:]).isEmpty { return objectNamespace == namespace || objectNamespace == rootNamespace }
                return selects(selector, in: objectNamespace)
            }
        }
    }

    /// A workload selector that selects the pod: in the pod's namespace, or in the root namespace (mesh-wide).
    func selects(_ selector: JSONValue?, in objectNamespace: String) -> Bool {
        guard let wanted = selector?.stringMap, !wanted.isEmpty, objectNamespace == namespace || objectNamespace == rootNamespace else { return false }
        return wanted.allSatisfy { labels[$0.key] == $0.value }
    }

    /// Whether a host of an object in `objectNamespace` (a short name, `name.ns`, an FQDN or a `*.` wildcard) names
    /// one of the Services.
    static func hostMatches(_ host: String?, in objectNamespace: String, _ serviceHosts: Set<String>) -> Bool {
        guard let host, !host.isEmpty else { return false }
        if host == "*" { return !serviceHosts.isEmpty }
        if host.hasPrefix("*.") { return serviceHosts.contains { $0.hasSuffix(String(host.dropFirst())) } }
        return serviceHosts.contains(DescribeReport.fqdn(host, namespace: objectNamespace))
    }
}
