/// A Kubernetes or Istio object under analysis, with where it came from.
public struct AnalyzedResource: Sendable {
    public var node: YAMLNode
    public var file: String?
    public var kind: String
    public var group: String
    public var version: String
    /// nil when the object names none (files analyzed without a default namespace).
    public var namespace: String?
    public var name: String
    /// The cluster it was read from, when several are analyzed together (nil: the only one).
    public var cluster: String?

    public init?(_ node: YAMLNode, file: String? = nil, defaultNamespace: String? = nil) {
        guard let kind = node["kind"]?.scalarText, !kind.isEmpty else { return nil }
        let apiVersion = node["apiVersion"]?.scalarText ?? ""
        let parts = apiVersion.split(separator: "/", maxSplits: 1).map(String.init)
        self.node = node
        self.file = file
        self.kind = kind
        self.group = parts.count == 2 ? parts[0] : ""
        self.version = parts.last ?? ""
        let namespace = node["metadata"]?["namespace"]?.scalarText
        let clusterScoped = Self.clusterScopedKinds.contains(kind)
        self.namespace = clusterScoped ? nil : (namespace?.isEmpty ?? true) ? defaultNamespace : namespace
        self.name = node["metadata"]?["name"]?.scalarText ?? ""
    }

    /// Kinds that live outside namespaces: they never take the default namespace.
    public static let clusterScopedKinds: Set<String> = [
        "Namespace", "Node", "PersistentVolume", "StorageClass", "PriorityClass", "IngressClass", "GatewayClass", "RuntimeClass",
        "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "APIService", "CertificateSigningRequest",
        "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration", "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding",
    ]

    /// The objects in a document: the document itself, or the items of a list (see `KubernetesList`).
    public static func all(in node: YAMLNode, file: String? = nil, defaultNamespace: String? = nil) -> [AnalyzedResource]? {
        if KubernetesList.isList(node) {
            return KubernetesList.objects(in: node).compactMap { AnalyzedResource($0, file: file, defaultNamespace: defaultNamespace) }
        }
        return AnalyzedResource(node, file: file, defaultNamespace: defaultNamespace).map { [$0] }
    }

    public var location: SourceLocation { node.location }

    /// `Kind namespace/name`, or `Kind name` for an object without a namespace.
    public var origin: String { "\(kind) \(qualifiedName)" }

    /// `namespace/name`, or `name` for an object without a namespace.
    public var qualifiedName: String { namespace.map { "\($0)/\(name)" } ?? name }

    /// The namespace used to resolve names the object refers to ("" when it has none).
    public var namespaceOrEmpty: String { namespace ?? "" }

    public var spec: YAMLNode? { node["spec"] }
    /// A Pod's Istio proxy: the istio-proxy container, or the native sidecar of that name among its init containers.
    public var sidecarProxy: YAMLNode? { Self.sidecarProxy(inPodSpec: spec) }

    public static func sidecarProxy(inPodSpec spec: YAMLNode?) -> YAMLNode? {
        ((spec?["containers"]?.items ?? []) + (spec?["initContainers"]?.items ?? [])).first { $0["name"]?.scalarText == "istio-proxy" }
    }
    public var labels: [String: String] { Self.stringMap(node["metadata"]?["labels"]) }
    public var annotations: [String: String] { Self.stringMap(node["metadata"]?["annotations"]) }

    /// The namespaces `spec.exportTo` makes this object visible in (`.` being its own); nil means every namespace.
    public var exportedNamespaces: Set<String>? {
        let list = (spec?["exportTo"]?.items ?? []).compactMap(\.scalarText)
        if list.isEmpty || list.contains("*") { return nil }
        return Set(list.map { $0 == "." ? namespaceOrEmpty : $0 })
    }

    /// Whether `spec.exportTo` makes this object visible in `namespace`.
    public func isVisible(in namespace: String) -> Bool {
        exportedNamespaces?.contains(namespace) ?? true
    }

    /// Whether some namespace sees both this object and `other`.
    public func sharesAudience(with other: AnalyzedResource) -> Bool {
        guard let mine = exportedNamespaces, let theirs = other.exportedNamespaces else { return true }
        return !mine.isDisjoint(with: theirs)
    }

    /// For a Namespace: the injector revision its labels ask for ("" for the default injector with
    /// `istio-injection=enabled`, else the `istio.io/rev` value), or nil when it asks for none.
    public var injectionRevision: String? {
        let labels = self.labels
        return labels["istio-injection"] == "enabled" ? "" : labels["istio.io/rev"]
    }

    /// For an injector ConfigMap (`istio-sidecar-injector[-rev]`): its `values`, parsed.
    var injectorValues: YAMLNode? {
        node["data"]?["values"]?.scalarText.flatMap { try? YAMLParser.parse($0).first?.root }
    }

    /// Whether every label of `selector` is on this object; an empty selector selects nothing.
    public func isSelected(by selector: [String: String]) -> Bool {
        let labels = self.labels
        return !selector.isEmpty && selector.allSatisfy { labels[$0.key] == $0.value }
    }

    public static func stringMap(_ node: YAMLNode?) -> [String: String] {
        var map: [String: String] = [:]
        for pair in node?.pairs ?? [] { map[pair.key.scalarText ?? ""] = pair.value.scalarText ?? "" }
        return map
    }
}

/// Everything one analysis run sees, indexed by kind and by name.
public struct AnalysisInput: Sendable {
    public let resources: [AnalyzedResource]
    /// Where Istio's control plane runs; its objects are Istio's own.
    public let istioNamespace: String
    /// The mesh configuration (MeshConfig, as in the `istio` ConfigMap's `mesh` key), when given.
    public let meshConfig: YAMLNode?
    /// The mesh networks configuration (the `istio` ConfigMap's `meshNetworks` key), when given.
    public let meshNetworks: YAMLNode?
    /// Whether the Pods are running ones (from a cluster) rather than manifests in files.
    public let podsAreRunning: Bool
    /// Reads TLS certificates for the checks that need it; nil skips those checks.
    public let credentials: (any CredentialInspector)?
    private let byKind: [String: [Int]]
    private let byName: [String: Int]

    public init(resources: [AnalyzedResource], istioNamespace: String = "istio-system", meshConfig: YAMLNode? = nil,
                meshNetworks: YAMLNode? = nil, podsAreRunning: Bool = true, credentials: (any CredentialInspector)? = nil) {
        self.meshNetworks = meshNetworks
        self.credentials = credentials
        self.resources = resources
        self.istioNamespace = istioNamespace
        self.meshConfig = meshConfig
        self.podsAreRunning = podsAreRunning
        var byKind: [String: [Int]] = [:], byName: [String: Int] = [:]
        for (index, resource) in resources.enumerated() {
            byKind[resource.kind, default: []].append(index)
            // The first object of a name wins, as when several files define the same one.
            let key = Self.key(resource.kind, resource.namespaceOrEmpty, resource.name)
            if byName[key] == nil { byName[key] = index }
        }
        self.byKind = byKind
        self.byName = byName
    }

    private static func key(_ kind: String, _ namespace: String, _ name: String) -> String { "\(kind)\u{0}\(namespace)\u{0}\(name)" }

    /// A `defaultConfig.proxyMetadata` value of the mesh configuration.
    public func proxyMetadata(_ key: String) -> String? {
        meshConfig?["defaultConfig"]?["proxyMetadata"]?[key]?.scalarText
    }

    /// The objects of one kind (Service, VirtualService ...), optionally of one API group.
    public func resources(_ kind: String, group: String? = nil) -> [AnalyzedResource] {
        (byKind[kind] ?? []).map { resources[$0] }.filter { group == nil || $0.group == group! }
    }

    /// The object of a kind with this namespace and name.
    public func resource(_ kind: String, namespace: String, name: String) -> AnalyzedResource? {
        byName[Self.key(kind, namespace, name)].map { resources[$0] }
    }
}
