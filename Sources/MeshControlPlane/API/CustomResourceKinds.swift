import Foundation
import Manifests

/// The kinds applied CustomResourceDefinitions add: served at their versions from then on, checked against each
/// version's `openAPIV3Schema`, printed with their `additionalPrinterColumns`. A CRD for a kind meshctl already
/// serves (Istio's or the Gateway API's own CRDs) changes nothing: the built-in kind keeps its checks.
final class CustomResourceKinds: @unchecked Sendable {
    static let definitionsKey = "customresourcedefinitions.apiextensions.k8s.io"

    struct Kind {
        let type: ResourceType
        /// Each served version's schema, when the CRD gives one.
        let schemas: [String: FieldSchema]
        /// The versions with a status subresource: there, writes of the object leave its status alone.
        let statusVersions: Set<String>
    }

    private let lock = NSLock()
    private var kinds: [Kind] = []
    private var definitionVersions = ""

    /// Changes whenever a definition does (for OpenAPI's document hashes).
    var signature: String {
        lock.lock(); defer { lock.unlock() }
        return definitionVersions
    }

    var types: [ResourceType] {
        lock.lock(); defer { lock.unlock() }
        return kinds.map(\.type)
    }

    /// The schema objects of `type` are checked against at `version` (nil: not a custom kind, or no schema).
    func schema(_ type: ResourceType, version: String) -> FieldSchema? {
        lock.lock(); defer { lock.unlock() }
        return kinds.first { $0.type.key == type.key }?.schemas[version]
    }

    /// Whether `type` at `version` has a status subresource.
    func hasStatusSubresource(_ type: ResourceType, version: String) -> Bool {
        lock.lock(); defer { lock.unlock() }
        return kinds.first { $0.type.key == type.key }?.statusVersions.contains(version) ?? false
    }

    /// Re-reads the kinds from the stored definitions; the objects of kinds whose definition is gone are deleted.
    func reload(from store: ObjectStore) throws {
        let definitions = try store.list(Self.definitionsKey, namespace: "").items
        let builtIn = Set(ResourceCatalog.all.map(\.key))
        let loaded = definitions.compactMap(Self.kind).filter { !builtIn.contains($0.type.key) }
        lock.lock()
        let removed = kinds.filter { old in !loaded.contains { $0.type.key == old.type.key } }
        kinds = loaded
        definitionVersions = definitions.map { $0["metadata"]?["resourceVersion"]?.string ?? "" }.joined(separator: ",")
        lock.unlock()
        for kind in removed {
            for object in try store.list(kind.type.key, namespace: nil).items {
                do {
                    _ = try store.delete(kind.type.key, namespace: object["metadata"]?["namespace"]?.string ?? "",
                                         name: object["metadata"]?["name"]?.string ?? "")
                } catch StoreError.notFound {
                    // Already gone: what removing the definition asks for.
                }
            }
        }
    }

    /// The kind a definition describes, or nil when it is incomplete.
    static func kind(_ definition: JSONValue) -> Kind? {
        guard let spec = definition["spec"], let group = spec["group"]?.string, let names = spec["names"],
              let plural = names["plural"]?.string, let kindName = names["kind"]?.string else { return nil }
        let versions = (spec["versions"]?.array ?? []).filter { $0["served"]?.bool != false }
        guard !versions.isEmpty else { return nil }
        // The storage version's printer columns describe every version's table.
        let columnSource = versions.first { $0["storage"]?.bool == true } ?? versions[0]
        let columns: [PrinterColumn] = (columnSource["additionalPrinterColumns"]?.array ?? []).compactMap { column in
            guard let name = column["name"]?.string, let text = column["jsonPath"]?.string, let path = PrinterJSONPath(text) else { return nil }
            let type = column["type"]?.string ?? "string"
            return PrinterColumn(name, .cell { path.cell($0, type: type) }, priority: column["priority"]?.int ?? 0)
        }
        var type = ResourceType(group: group, versions: versions.compactMap { $0["name"]?.string }, plural: plural, kind: kindName,
                                namespaced: spec["scope"]?.string != "Cluster",
                                shortNames: (names["shortNames"]?.array ?? []).compactMap(\.string),
                                categories: (names["categories"]?.array ?? []).compactMap(\.string), builtIn: false, columns: columns)
        // As kube-apiserver: a CRD that lists its columns gets those (Age only if it lists it); one that lists none gets Age.
        type.showsAge = columns.isEmpty
        var schemas: [String: FieldSchema] = [:]
        for version in versions {
            guard let name = version["name"]?.string, let schema = version["schema"]?["openAPIV3Schema"] else { continue }
            schemas[name] = objectSchema(FieldSchema(openAPI: schema), kind: kindName)
        }
        let statusVersions = Set(versions.filter { $0["subresources"]?["status"] != nil }.compactMap { $0["name"]?.string })
        return Kind(type: type, schemas: schemas, statusVersions: statusVersions)
    }

    /// A CRD's schema with the fields every object has (apiVersion, kind, metadata) added when it leaves them out.
    private static func objectSchema(_ schema: FieldSchema, kind: String) -> FieldSchema {
        guard case .object(var fields, let required) = schema.shape else { return schema }
        let common: [(String, FieldSchema)] = [
            ("apiVersion", .string("Versioned schema of this representation of the object (group/version).")),
            ("kind", .string("The type of object this is: \(kind).")),
            ("metadata", WorkloadSchemas.objectMeta),
        ]
        for (name, field) in common.reversed() where !fields.contains(where: { $0.name == name }) {
            fields.insert((name: name, schema: field), at: 0)
        }
        if let index = fields.firstIndex(where: { $0.name == "metadata" }), case .object(let metaFields, _) = fields[index].schema.shape, metaFields.isEmpty {
            fields[index].schema = WorkloadSchemas.objectMeta
        }
        var result = schema
        result.shape = .object(fields, required: required)
        if result.description.isEmpty { result.description = "\(kind), a custom resource." }
        return result
    }
}
