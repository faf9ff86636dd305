import Manifests

/// What kubectl reads to learn the API: discovery (aggregated v2, and the older per-group documents) and OpenAPI v3
/// documents just rich enough for `kubectl apply`'s default validation to hand checking to the server.
enum Discovery {
    static let aggregatedContentType = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"

    /// Whether the client asked for aggregated discovery v2.
    static func wantsAggregated(_ accept: String?) -> Bool {
        guard let accept else { return false }
        return accept.split(separator: ",").contains { $0.contains("as=APIGroupDiscoveryList") && $0.contains("v=v2") && !$0.contains("v=v2beta1") }
    }

    /// The verbs a kind serves: all of them, but namespaces have no deletecollection (a 405, as on kube-apiserver).
    private static func verbs(_ type: ResourceType) -> JSONValue {
        .array(ResourceCatalog.allVerbs.filter { !(type.plural == "namespaces" && type.group.isEmpty && $0 == "deletecollection") }.map { .string($0) })
    }

    private static func resourceEntry(_ type: ResourceType, version: String) -> JSONValue {
        var pairs: [(key: String, value: JSONValue)] = [
            ("resource", .string(type.plural)),
            ("responseKind", .object([("group", .string(type.group)), ("version", .string(version)), ("kind", .string(type.kind))])),
            ("scope", .string(type.namespaced ? "Namespaced" : "Cluster")),
            ("singularResource", .string(type.singular)),
            ("verbs", verbs(type)),
        ]
        if !type.shortNames.isEmpty { pairs.append(("shortNames", .array(type.shortNames.map { .string($0) }))) }
        if !type.categories.isEmpty { pairs.append(("categories", .array(type.categories.map { .string($0) }))) }
        return .object(pairs)
    }

    /// `/api` (core: true) or `/apis` as an APIGroupDiscoveryList.
    static func aggregated(core: Bool, _ types: [ResourceType]) -> JSONValue {
        let items: [JSONValue] = ResourceCatalog.groups(types).filter { $0.name.isEmpty == core }.map { group in
            let versions: [JSONValue] = group.versions.map { version in
                .object([("version", .string(version)),
                         ("resources", .array(types.filter { $0.group == group.name && $0.versions.contains(version) }
                            .map { resourceEntry($0, version: version) })),
                         ("freshness", .string("Current"))])
            }
            let metadata: JSONValue = group.name.isEmpty ? .object([]) : .object([("name", .string(group.name))])
            return .object([("metadata", metadata), ("versions", .array(versions))])
        }
        return .object([("kind", .string("APIGroupDiscoveryList")), ("apiVersion", .string("apidiscovery.k8s.io/v2")),
                        ("metadata", .object([])), ("items", .array(items))])
    }

    static func apiVersions(serverAddress: String) -> JSONValue {
        .object([("kind", .string("APIVersions")), ("versions", .array([.string("v1")])),
                 ("serverAddressByClientCIDRs", .array([.object([("clientCIDR", .string("0.0.0.0/0")), ("serverAddress", .string(serverAddress))])]))])
    }

    private static func group(_ name: String, _ versions: [String]) -> JSONValue {
        let entries: [JSONValue] = versions.map { .object([("groupVersion", .string("\(name)/\($0)")), ("version", .string($0))]) }
        return .object([("name", .string(name)), ("versions", .array(entries)), ("preferredVersion", entries[0])])
    }

    static func groupList(_ types: [ResourceType]) -> JSONValue {
        .object([("kind", .string("APIGroupList")), ("apiVersion", .string("v1")),
                 ("groups", .array(ResourceCatalog.groups(types).filter { !$0.name.isEmpty }.map { group($0.name, $0.versions) }))])
    }

    static func apiGroup(_ name: String, _ types: [ResourceType]) -> JSONValue? {
        guard let entry = ResourceCatalog.groups(types).first(where: { $0.name == name && !name.isEmpty }) else { return nil }
        var value = group(entry.name, entry.versions)
        value = .object([("kind", .string("APIGroup")), ("apiVersion", .string("v1"))] + (value.object ?? []))
        return value
    }

    static func resourceList(group: String, version: String, _ types: [ResourceType]) -> JSONValue? {
        let types = types.filter { $0.group == group && $0.versions.contains(version) }
        guard !types.isEmpty else { return nil }
        let resources: [JSONValue] = types.map { type in
            var pairs: [(key: String, value: JSONValue)] = [
                ("name", .string(type.plural)), ("singularName", .string(type.singular)), ("namespaced", .bool(type.namespaced)),
                ("kind", .string(type.kind)), ("verbs", verbs(type)),
            ]
            if !type.shortNames.isEmpty { pairs.append(("shortNames", .array(type.shortNames.map { .string($0) }))) }
            if !type.categories.isEmpty { pairs.append(("categories", .array(type.categories.map { .string($0) }))) }
            return .object(pairs)
        }
        return .object([("kind", .string("APIResourceList")), ("groupVersion", .string(group.isEmpty ? version : "\(group)/\(version)")),
                        ("resources", .array(resources))])
    }

    // MARK: - OpenAPI v3

    /// `api/v1`, `apis/apps/v1`, ...: the group-versions OpenAPI describes.
    static func openAPIGroupVersions(_ types: [ResourceType]) -> [(path: String, group: String, version: String)] {
        ResourceCatalog.groups(types).flatMap { group in
            group.versions.map { version in (group.name.isEmpty ? "api/\(version)" : "apis/\(group.name)/\(version)", group.name, version) }
        }
    }

    /// The document for one group-version: one PATCH operation per resource that names its kind and takes
    /// `fieldValidation`, which tells kubectl the server validates, and each kind's schema (with descriptions and
    /// its group-version-kind) under `components.schemas`, which `kubectl explain` reads.
    static func openAPIDocument(group: String, version: String, serverVersion: String, _ types: [ResourceType],
                                schema: (ResourceType) -> FieldSchema) -> JSONValue {
        var paths: [(key: String, value: JSONValue)] = []
        var schemas: [(key: String, value: JSONValue)] = []
        let prefix = group.isEmpty ? "/api/\(version)" : "/apis/\(group)/\(version)"
        for type in types where type.group == group && type.versions.contains(version) {
            let item = type.namespaced ? "\(prefix)/namespaces/{namespace}/\(type.plural)/{name}" : "\(prefix)/\(type.plural)/{name}"
            let operation: JSONValue = .object([
                ("parameters", .array([.object([("name", .string("fieldValidation")), ("in", .string("query")),
                                                 ("schema", .object([("type", .string("string"))]))])])),
                ("x-kubernetes-group-version-kind", .object([("group", .string(group)), ("version", .string(version)), ("kind", .string(type.kind))])),
                ("responses", .object([("200", .object([("description", .string("OK"))]))])),
            ])
            paths.append((item, .object([("patch", operation)])))
            var definition = schema(type).openAPI
            definition["x-kubernetes-group-version-kind"] = .array([.object([("group", .string(group)), ("kind", .string(type.kind)),
                                                                             ("version", .string(version))])])
            schemas.append(("io.meshctl.\(group.isEmpty ? "core" : group).\(version).\(type.kind)", definition))
        }
        return .object([("openapi", .string("3.0.0")), ("info", .object([("title", .string("Kubernetes")), ("version", .string(serverVersion))])),
                        ("paths", .object(paths)), ("components", .object([("schemas", .object(schemas))]))])
    }

    /// A hash that changes when the documents do: the catalogue's shape, the server version and `definitions`
    /// (what the applied CRDs are at).
    static func openAPIHash(serverVersion: String, _ types: [ResourceType], definitions: String) -> String {
        var hash: UInt64 = 0xcbf29ce484222325
        for byte in (serverVersion + definitions + types.map { "\($0.group)/\($0.versions)/\($0.plural)/\($0.kind)" }.joined()).utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x100000001b3
        }
        return String(hash, radix: 16)
    }

    static func openAPIRoot(serverVersion: String, _ types: [ResourceType], definitions: String) -> JSONValue {
        let hash = openAPIHash(serverVersion: serverVersion, types, definitions: definitions)
        return .object([("paths", .object(openAPIGroupVersions(types).map {
            ($0.path, .object([("serverRelativeURL", .string("/openapi/v3/\($0.path)?hash=\(hash)"))]))
        }))])
    }
}
