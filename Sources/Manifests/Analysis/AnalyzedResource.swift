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
        self.namespace = (namespace?.isEmpty ?? true) ? defaultNamespace : namespace
        self.name = node["metadata"]?["name"]?.scalarText ?? ""
    }

    public var location: SourceLocation { node.location }

    /// `Kind namespace/name`, or `Kind name` for an object without a namespace.
    public var origin: String { "\(kind) " + (namespace.map { "\($0)/" } ?? "") + name }

    /// The namespace used to resolve names the object refers to ("" when it has none).
    public var namespaceOrEmpty: String { namespace ?? "" }

    public var spec: YAMLNode? { node["spec"] }
    public var labels: [String: String] { Self.stringMap(node["metadata"]?["labels"]) }
    public var annotations: [String: String] { Self.stringMap(node["metadata"]?["annotations"]) }

    static func stringMap(_ node: YAMLNode?) -> [String: String] {
        var map: [String: String] = [:]
        for pair in node?.pairs ?? [] { map[pair.key.scalarText ?? ""] = pair.value.scalarText ?? "" }
        return map
    }
}

/// Everything one analysis run sees.
public struct AnalysisInput: Sendable {
    public var resources: [AnalyzedResource]
    /// Where Istio's control plane runs; its objects are Istio's own.
    public var istioNamespace: String

    public init(resources: [AnalyzedResource], istioNamespace: String = "istio-system") {
        self.resources = resources
        self.istioNamespace = istioNamespace
    }

    /// The objects of one kind (Service, VirtualService ...), optionally of one API group.
    public func resources(_ kind: String, group: String? = nil) -> [AnalyzedResource] {
        resources.filter { $0.kind == kind && (group == nil || $0.group == group!) }
    }

    /// The object of a kind with this namespace and name.
    public func resource(_ kind: String, namespace: String, name: String) -> AnalyzedResource? {
        resources.first { $0.kind == kind && $0.namespaceOrEmpty == namespace && $0.name == name }
    }
}
