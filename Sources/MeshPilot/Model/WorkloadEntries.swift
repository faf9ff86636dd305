import ConfigValues

/// A workload outside Kubernetes' pods as istiod reads it: a WorkloadEntry, or one of a ServiceEntry's inline
/// `endpoints` (the same fields). It becomes an endpoint of each service port it serves.
struct WorkloadEntryEndpoint {
    static let storageKey = "workloadentries.networking.istio.io"

    /// The WorkloadEntry's name (for an inline endpoint, the ServiceEntry's name and the endpoint's index).
    var name: String
    var namespace: String
    /// The entry's spec: `address`, `ports`, `labels`, `locality`, `weight`, `network`, `serviceAccount`.
    var spec: JSONValue

    var address: String? { spec["address"]?.string.flatMap { $0.isEmpty ? nil : $0 } }
    var labels: [String: String] { spec["labels"]?.stringMap ?? [:] }
    var serviceAccount: String? { spec["serviceAccount"]?.string.flatMap { $0.isEmpty ? nil : $0 } }

    /// istiod's rule: the `security.istio.io/tlsMode` label when set, else `istio` when the entry names a service
    /// account (it runs a sidecar with that identity), else `disabled`.
    var tlsMode: String {
        labels["security.istio.io/tlsMode"] ?? (serviceAccount == nil ? "disabled" : "istio")
    }

    /// `locality` (`region/zone/subzone`), else the `istio-locality` label (`region.zone.subzone`).
    var locality: Locality {
        if let text = spec["locality"]?.string, !text.isEmpty { return Locality(label: text.replacingOccurrences(of: "/", with: ".")) }
        return labels["istio-locality"].map { Locality(label: $0) } ?? Locality()
    }

    /// The telemetry metadata istiod attaches (`name;namespace;canonical name;canonical revision;cluster`; a revision
    /// of `latest` is left empty). The workload name is the `service.istio.io/workload-name` label or the entry's name.
    var workloadMetadata: String {
        let workload = labels["service.istio.io/workload-name"] ?? name
        let canonical = labels["service.istio.io/canonical-name"] ?? labels["app.kubernetes.io/name"] ?? labels["app"] ?? workload
        let revision = labels["service.istio.io/canonical-revision"] ?? labels["app.kubernetes.io/version"] ?? labels["version"] ?? "latest"
        return "\(workload);\(namespace);\(canonical);\(revision == "latest" ? "" : revision);Kubernetes"
    }

    /// The entry's endpoint for one service port: the entry's port of that name, else the port's target port, else
    /// the port's number; nil without an address or with a port out of range.
    func endpoint(for port: ServicePort) -> ServiceEndpoint? {
        guard let address else { return nil }
        let target = spec["ports"]?[port.name]?.int ?? port.targetPort?.int ?? port.port
        guard MeshService.validPorts.contains(target) else { return nil }
        var endpoint = ServiceEndpoint(address: address, port: target, workload: nil, labels: labels, serviceAccount: serviceAccount,
                                       tlsMode: tlsMode, locality: locality, weight: spec["weight"]?.int ?? 1)
        endpoint.network = spec["network"]?.string ?? ""
        endpoint.workloadMetadata = workloadMetadata
        return endpoint
    }

    /// The stored WorkloadEntries of a snapshot.
    static func all(in snapshot: MeshSnapshot) -> [WorkloadEntryEndpoint] {
        snapshot.items(storageKey).compactMap { object in
            guard let name = object.value(atPath: "metadata.name")?.string, let spec = object["spec"] else { return nil }
            return WorkloadEntryEndpoint(name: name, namespace: object.value(atPath: "metadata.namespace")?.string ?? "default", spec: spec)
        }
    }

    /// Whether a workload selector (`labels`) in `namespace` selects this entry: same namespace, every label equal.
    func isSelected(by selector: [String: String], in namespace: String) -> Bool {
        !selector.isEmpty && self.namespace == namespace && selector.allSatisfy { labels[$0.key] == $0.value }
    }
}
