import ConfigValues

/// One Istio resource (VirtualService, DestinationRule, PeerAuthentication, Sidecar, ...) with the parts scoping
/// needs already read.
public struct IstioConfig: Sendable {
    public var kind: String
    public var name: String
    public var namespace: String
    public var spec: JSONValue
    /// `exportTo` (empty means everywhere).
    public var exportTo: [String]
    /// `selector.matchLabels` or `workloadSelector.labels`; nil when the resource applies to a whole namespace.
    public var selector: [String: String]?

    init(_ object: JSONValue, kind: String) {
        self.kind = kind
        name = object.value(atPath: "metadata.name")?.string ?? ""
        namespace = object.value(atPath: "metadata.namespace")?.string ?? "default"
        spec = object["spec"] ?? .object([])
        exportTo = (spec["exportTo"]?.array ?? []).compactMap(\.string)
        selector = (spec.value(atPath: "selector.matchLabels") ?? spec.value(atPath: "workloadSelector.labels"))?.stringMap
    }

    /// The path istiod puts in `metadata.filter_metadata.istio.config` (`.../virtual-service/reviews`).
    public var metadataPath: String {
        let resource = kind.reduce(into: "") { text, character in
            if character.isUppercase, !text.isEmpty { text.append("-") }
            text.append(Character(character.lowercased()))
        }
        let group = ["PeerAuthentication", "AuthorizationPolicy", "RequestAuthentication"].contains(kind) ? "security.istio.io/v1beta1" : "networking.istio.io/v1alpha3"
        return "/apis/\(group)/namespaces/\(namespace)/\(resource)/\(name)"
    }

    /// Visible from `namespace` per `exportTo` (`*`, `.`, or names; empty is everywhere).
    public func isVisible(from other: String) -> Bool {
        exportTo.isEmpty || exportTo.contains("*") || exportTo.contains(other) || (exportTo.contains(".") && other == namespace)
    }

    /// Selects the workload: no selector selects every workload of its namespace.
    func selects(_ workload: MeshWorkload) -> Bool {
        guard let selector else { return true }
        return selector.allSatisfy { workload.labels[$0.key] == $0.value }
    }
}

/// Istio's host matching: exact names, and `*.suffix` / `*` wildcards on the config side.
enum HostMatch {
    /// A VirtualService/DestinationRule host written short (`reviews`) means `reviews.NAMESPACE.svc.DOMAIN`.
    static func qualify(_ host: String, namespace: String, domain: String) -> String {
        if host == "*" || host.hasPrefix("*") || host.contains(".") { return host }
        return "\(host).\(namespace).svc.\(domain)"
    }

    static func matches(pattern: String, host: String) -> Bool {
        if pattern == "*" || pattern == host { return true }
        if pattern.hasPrefix("*") { return host.hasSuffix(pattern.dropFirst()) }
        return false
    }
}
