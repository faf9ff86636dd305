import Foundation
import Manifests

/// One Kubernetes or Istio object of the evidence, with where it was read (`istio.yaml:42`).
public struct MeshObject: Sendable {
    public var kind: String
    public var namespace: String
    public var name: String
    public var json: JSONValue
    public var file: String
    public var line: Int
    /// The object as read, with positions (nil for objects from a cluster).
    public var node: YAMLNode?

    /// `istio.yaml:61:7: DestinationRule shop/inventory spec.trafficPolicy: {...}`: a field with its place and value.
    public func field(_ path: String) -> String {
        var node = self.node
        var value: JSONValue? = json
        for part in Self.pathParts(path) {
            if let index = Int(part) {
                node = node?[index]
                value = value?.array.flatMap { index < $0.count ? $0[index] : nil }
            } else {
                node = node?[part]
                value = value?[part]
            }
        }
        let place = node.map { "\(file):\($0.location.line):\($0.location.column)" } ?? "\(file):\(line)"
        let shown = value.map { $0.string ?? $0.serialized } ?? "(not set)"
        return "\(place): \(kind) \(namespace.isEmpty ? name : "\(namespace)/\(name)") \(path): \(shown)"
    }

    /// `spec.http[0].fault` → `["spec", "http", "0", "fault"]`.
    static func pathParts(_ path: String) -> [String] {
        path.replacingOccurrences(of: "[", with: ".").replacingOccurrences(of: "]", with: "").split(separator: ".").map(String.init)
    }

    /// `DestinationRule shop/inventory (istio.yaml:58)`.
    public var reference: String { "\(kind) \(namespace.isEmpty ? name : "\(namespace)/\(name)") (\(file):\(line))" }
    public var spec: JSONValue { json["spec"] ?? .object([]) }
    public var labels: [String: String] { json["metadata"]?["labels"]?.stringMap ?? [:] }
}

/// A workload as the evidence shows it: a Deployment (or StatefulSet, DaemonSet, ReplicaSet) and its pod
/// template, or a Pod.
public struct MeshWorkload: Sendable {
    public var object: MeshObject
    public var podLabels: [String: String]
    public var podAnnotations: [String: String]
    public var containers: [JSONValue]
    public var replicas: Int

    /// Whether the pod spec already holds the istio-proxy container (an injected Pod, or a kube-inject'ed template).
    public var hasProxyContainer: Bool {
        (containers + initContainers).contains { $0["name"]?.string == "istio-proxy" }
    }

    /// Init containers (Istio's native sidecar runs as one).
    public var initContainers: [JSONValue] = []

    /// Application containers (everything but istio-proxy).
    public var appContainers: [JSONValue] { containers.filter { $0["name"]?.string != "istio-proxy" } }

    /// The container ports of the app containers: number and name.
    public var containerPorts: [(number: Int, name: String)] {
        appContainers.flatMap { container in
            (container["ports"]?.array ?? []).compactMap { port in
                port["containerPort"]?.int.map { ($0, port["name"]?.string ?? "") }
            }
        }
    }
}

/// The Kubernetes and Istio objects of a capture's `istio.yaml` (or of a cluster), with the lookups a diagnosis needs.
public struct MeshObjects: Sendable {
    public var objects: [MeshObject]
    public static let podKinds: Set<String> = ["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Pod"]

    public init(objects: [MeshObject] = []) { self.objects = objects }

    /// Reads every document of a YAML stream; documents without a kind are skipped.
    public init(yaml text: String, file: String) throws(YAMLError) {
        var objects: [MeshObject] = []
        for document in try YAMLParser.parse(text, file: file) {
            for resource in AnalyzedResource.all(in: document.root, file: file) ?? [] {
                objects.append(MeshObject(kind: resource.kind, namespace: resource.namespace ?? "", name: resource.name,
                                          json: JSONValue(yaml: resource.node), file: file, line: resource.node.location.line,
                                          node: resource.node))
            }
        }
        self.objects = objects
    }

    public func all(_ kind: String) -> [MeshObject] { objects.filter { $0.kind == kind } }

    // MARK: Services and workloads

    /// The Service of a host name: `name.ns.svc.cluster.local`, `name.ns.svc`, `name.ns` or `name` (in `namespace`).
    public func service(host: String, namespace: String = "") -> MeshObject? {
        let (name, ns) = Self.serviceName(host: host, namespace: namespace)
        return all("Service").first { $0.name == name && $0.namespace == ns }
    }

    /// The Service name and namespace a host means, Istio's short-name rule included.
    public static func serviceName(host: String, namespace: String) -> (String, String) {
        let bare = Self.withoutPort(host)
        let labels = bare.split(separator: ".").map(String.init)
        if labels.count == 1 { return (labels[0], namespace) }
        return (labels[0], labels[1])
    }

    /// `host:port` → `host` (IPv6 in brackets kept).
    public static func withoutPort(_ authority: String) -> String {
        if authority.hasPrefix("[") { return authority.split(separator: "]").first.map { String($0) + "]" } ?? authority }
        guard let colon = authority.lastIndex(of: ":"), authority.filter({ $0 == ":" }).count == 1 else { return authority }
        return String(authority[..<colon])
    }

    public var workloads: [MeshWorkload] {
        objects.filter { Self.podKinds.contains($0.kind) }.map { object in
            let isPod = object.kind == "Pod"
            let template = isPod ? object.json : (object.spec["template"] ?? .object([]))
            let metadata = template["metadata"]
            var workload = MeshWorkload(object: object, podLabels: metadata?["labels"]?.stringMap ?? [:],
                                        podAnnotations: metadata?["annotations"]?.stringMap ?? [:],
                                        containers: template["spec"]?["containers"]?.array ?? [],
                                        replicas: isPod ? 1 : (object.spec["replicas"]?.int ?? 1))
            workload.initContainers = template["spec"]?["initContainers"]?.array ?? []
            return workload
        }
    }

    /// The workloads a Service's selector picks (none for a Service without a selector).
    public func workloads(selectedBy service: MeshObject) -> [MeshWorkload] {
        let selector = service.spec["selector"]?.stringMap ?? [:]
        guard !selector.isEmpty else { return [] }
        return workloads.filter { workload in
            workload.object.namespace == service.namespace && selector.allSatisfy { workload.podLabels[$0.key] == $0.value }
        }
    }

    /// The workloads whose pods carry the given labels in a namespace.
    public func workloads(namespace: String, matching labels: [String: String]) -> [MeshWorkload] {
        workloads.filter { workload in workload.object.namespace == namespace && labels.allSatisfy { workload.podLabels[$0.key] == $0.value } }
    }

    // MARK: Sidecars

    /// The namespace's injection label: true for `istio-injection=enabled` or an `istio.io/rev` label, false for
    /// `disabled`, nil when the namespace is not in the evidence or has neither label.
    public func namespaceInjection(_ namespace: String) -> Bool? {
        guard let object = all("Namespace").first(where: { $0.name == namespace }) else { return nil }
        let labels = object.labels
        if let value = labels["istio-injection"] { return value == "enabled" }
        if labels["istio.io/rev"] != nil { return true }
        return nil
    }

    /// What the pod's own `sidecar.istio.io/inject` label or annotation says, if anything.
    public static func podInjectionOverride(_ workload: MeshWorkload) -> Bool? {
        let value = workload.podLabels["sidecar.istio.io/inject"] ?? workload.podAnnotations["sidecar.istio.io/inject"]
        return value.map { $0 == "true" }
    }

    /// Whether the workload's pods run the Istio proxy: an istio-proxy container, else the pod's own injection
    /// label, else its namespace's label.
    public func hasSidecar(_ workload: MeshWorkload) -> Bool {
        if workload.hasProxyContainer { return true }
        // A Pod object shows what runs: without the container it has no proxy, whatever its labels say now.
        if workload.object.kind == "Pod" { return false }
        if let own = Self.podInjectionOverride(workload) { return own }
        return namespaceInjection(workload.object.namespace) ?? false
    }

    /// How a workload came to run without the proxy, in words; nil when it has one.
    public func whyNoSidecar(_ workload: MeshWorkload) -> String? {
        guard !hasSidecar(workload) else { return nil }
        let ns = workload.object.namespace
        if Self.podInjectionOverride(workload) == false {
            return "its pod template sets sidecar.istio.io/inject: \"false\"" + (namespaceInjection(ns) == true ? " although namespace \(ns) has injection enabled" : "")
        }
        if namespaceInjection(ns) == false { return "namespace \(ns) has istio-injection=disabled" }
        return "namespace \(ns) has no istio-injection or istio.io/rev label"
    }

    // MARK: Istio rules

    /// The DestinationRule for a host as seen from `namespace`: an exact host wins over the longest wildcard.
    public func destinationRule(host: String) -> MeshObject? {
        let rules = all("DestinationRule").filter { $0.spec["host"]?.string != nil }
        if let exact = rules.first(where: { Self.fqdn($0.spec["host"]!.string!, namespace: $0.namespace) == host }) { return exact }
        return rules.filter { rule in
            let pattern = rule.spec["host"]!.string!
            return pattern.hasPrefix("*") && host.hasSuffix(pattern.dropFirst())
        }.max { ($0.spec["host"]?.string?.count ?? 0) < ($1.spec["host"]?.string?.count ?? 0) }
    }

    /// VirtualServices that name the host (short names resolved in each VirtualService's namespace).
    public func virtualServices(host: String) -> [MeshObject] {
        all("VirtualService").filter { vs in
            (vs.spec["hosts"]?.array ?? []).compactMap(\.string).contains { Self.fqdn($0, namespace: vs.namespace) == host }
        }
    }

    /// Istio's short-name rule: a name without dots means `name.ns.svc.cluster.local`.
    public static func fqdn(_ host: String, namespace: String) -> String {
        host.contains(".") || host.contains("*") ? host : "\(host).\(namespace).svc.cluster.local"
    }

    /// The mesh config's root namespace (where mesh-wide policies live).
    public var rootNamespace: String { meshConfig?["rootNamespace"]?.string ?? "istio-system" }

    /// The PeerAuthentication mode for a workload (mesh-wide, then namespace, then a selector) and the object that set it.
    public func peerAuthentication(for workload: MeshWorkload) -> (mode: String, object: MeshObject?) {
        var result: (String, MeshObject?) = ("PERMISSIVE", nil)
        let policies = all("PeerAuthentication")
        func mode(_ object: MeshObject) -> String? {
            let value = object.spec["mtls"]?["mode"]?.string
            return value == "UNSET" ? nil : value
        }
        for policy in policies where policy.namespace == rootNamespace && policy.spec["selector"] == nil {
            if let value = mode(policy) { result = (value, policy) }
        }
        for policy in policies where policy.namespace == workload.object.namespace && policy.spec["selector"] == nil {
            if let value = mode(policy) { result = (value, policy) }
        }
        for policy in policies where policy.namespace == workload.object.namespace {
            let selector = policy.spec["selector"]?["matchLabels"]?.stringMap ?? [:]
            guard !selector.isEmpty, selector.allSatisfy({ workload.podLabels[$0.key] == $0.value }), let value = mode(policy) else { continue }
            result = (value, policy)
        }
        return result
    }

    /// AuthorizationPolicies that apply to a workload: its namespace's (selector matching or none) and the root namespace's.
    public func authorizationPolicies(for labels: [String: String], namespace: String) -> [MeshObject] {
        all("AuthorizationPolicy").filter { policy in
            guard policy.namespace == namespace || policy.namespace == rootNamespace else { return false }
            let selector = policy.spec["selector"]?["matchLabels"]?.stringMap ?? [:]
            return selector.allSatisfy { labels[$0.key] == $0.value }
        }
    }

    /// The mesh config (`data.mesh` of ConfigMap istio in the root namespace), parsed.
    public var meshConfig: JSONValue? {
        guard let map = objects.first(where: { $0.kind == "ConfigMap" && $0.name.hasPrefix("istio") && $0.json["data"]?["mesh"] != nil }),
              let text = map.json["data"]?["mesh"]?.string,
              let document = try? YAMLParser.parse(text, file: map.file).first else { return nil }
        return JSONValue(yaml: document.root)
    }

    /// The outbound traffic policy a namespace's sidecars follow, and the object that sets it.
    public func outboundTrafficMode(namespace: String) -> (mode: String, source: String) {
        if let sidecar = all("Sidecar").first(where: { $0.namespace == namespace && $0.spec["outboundTrafficPolicy"]?["mode"]?.string != nil }) {
            return (sidecar.spec["outboundTrafficPolicy"]!["mode"]!.string!, sidecar.reference + " spec.outboundTrafficPolicy.mode")
        }
        if let sidecar = all("Sidecar").first(where: { $0.namespace == rootNamespace && $0.spec["outboundTrafficPolicy"]?["mode"]?.string != nil }) {
            return (sidecar.spec["outboundTrafficPolicy"]!["mode"]!.string!, sidecar.reference + " spec.outboundTrafficPolicy.mode")
        }
        if let mode = meshConfig?["outboundTrafficPolicy"]?["mode"]?.string {
            let map = objects.first { $0.kind == "ConfigMap" && $0.json["data"]?["mesh"] != nil }
            return (mode, "\(map?.reference ?? "mesh config") data.mesh outboundTrafficPolicy.mode")
        }
        return ("ALLOW_ANY", "Istio's default (no outboundTrafficPolicy set)")
    }

    /// ServiceEntries whose hosts cover the host.
    public func serviceEntries(host: String) -> [MeshObject] {
        all("ServiceEntry").filter { entry in
            (entry.spec["hosts"]?.array ?? []).compactMap(\.string).contains { pattern in
                pattern == host || (pattern.hasPrefix("*") && host.hasSuffix(pattern.dropFirst()))
            }
        }
    }
}
