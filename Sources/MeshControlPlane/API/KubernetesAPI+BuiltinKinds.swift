import Foundation
import Manifests
import MeshNet

/// What a write asks of the server beyond its body: how to treat unknown fields and who is writing; it collects
/// the warnings the response carries in `Warning` headers.
final class WriteContext {
    let fieldValidation: FieldValidation
    let fieldManager: String?
    var warnings: [String] = []

    init(fieldValidation: FieldValidation = .warn, fieldManager: String? = nil) {
        self.fieldValidation = fieldValidation
        self.fieldManager = fieldManager
    }

    /// The request's `fieldValidation` and `fieldManager` query parameters.
    convenience init(_ request: HTTPRequest) throws {
        let query = request.query
        self.init(fieldValidation: try FieldValidation(query: query["fieldValidation"]), fieldManager: query["fieldManager"])
    }

    /// `Warning` headers as kube-apiserver writes them (code 299, agent "-"), which kubectl prints as `Warning: ...`.
    var headers: [(name: String, value: String)] {
        warnings.map { warning in
            let quoted = warning.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            return ("Warning", "299 - \"\(quoted)\"")
        }
    }
}

// Objects as kube-apiserver stores them: checked against their kind's schema (built in, or from its CRD),
// defaulted, and held to their kind's rules.
extension KubernetesAPI {
    /// `object` (a create when `current` is nil, else an update of `current`) pruned, defaulted and checked.
    func admitBuiltIn(_ object: JSONValue, _ target: Target, name: String, current: JSONValue?, _ context: WriteContext) throws -> JSONValue {
        let type = target.type
        guard let schema = KindSchemas.builtIn[type.key] ?? customKinds.schema(type, version: target.version) else { return object }
        var checked = try context.fieldValidation.check(object, schema, type: type, version: target.version, name: name, warnings: &context.warnings)
        if type.kind == "Secret" { BuiltinDefaults.foldStringData(&checked) }
        if type.kind == "Service", let current, checked["spec"]?["type"]?.string != "ExternalName" {
            // A Service keeps its cluster IP when an update leaves it out.
            for key in ["clusterIP", "clusterIPs"] where checked["spec"]?[key] == nil { checked["spec"]?[key] = current["spec"]?[key] }
        }
        let namespace = target.namespace ?? ""
        BuiltinDefaults.apply(&checked, kind: type.kind) {
            // An update runs inside the store's write: no lookups there, the address follows from the name.
            current == nil ? freeClusterIP(namespace: namespace, name: name) : ClusterIPRange.address(namespace: namespace, name: name, attempt: 0)
        }
        if WorkloadStatus.kinds.contains(type.kind), let current {
            // Status is the system's: a write of the object itself does not change it.
            checked["status"] = current["status"]
        }
        let problems = BuiltinRules.problems(checked, kind: type.kind, current: current)
        if !problems.isEmpty { throw APIError.invalid(type, name, causes: problems) }
        return checked
    }

    /// A cluster IP no stored Service has.
    private func freeClusterIP(namespace: String, name: String) -> String {
        let used = Set(store.list("services", namespace: nil).items.compactMap { $0["spec"]?["clusterIP"]?.string })
        for attempt in 0..<64 {
            let address = ClusterIPRange.address(namespace: namespace, name: name, attempt: attempt)
            if !used.contains(address) { return address }
        }
        return ClusterIPRange.address(namespace: namespace, name: name + UUID().uuidString, attempt: 0)
    }
}

/// Service addresses in 10.96.0.0/12 (kube's default service range), spread by name.
enum ClusterIPRange {
    static func address(namespace: String, name: String, attempt: Int) -> String {
        var hash: UInt64 = 0xcbf29ce484222325
        for byte in "\(namespace)/\(name)/\(attempt)".utf8 { hash = (hash ^ UInt64(byte)) &* 0x100000001b3 }
        // 2^20 addresses; .0.0 to .0.9 are left for well-known Services.
        let offset = 10 + Int(hash % UInt64((1 << 20) - 20))
        return "10.\(96 + offset >> 16).\((offset >> 8) & 0xff).\(offset & 0xff)"
    }
}
