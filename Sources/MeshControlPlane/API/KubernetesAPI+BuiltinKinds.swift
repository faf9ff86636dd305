import Foundation
import Manifests
import MeshNet
import MeshHTTP1

/// What a write asks of the server beyond its body: how to treat unknown fields and who is writing; it collects
/// the warnings the response carries in `Warning` headers.
final class WriteContext {
    let fieldValidation: FieldValidation
    /// The field manager managedFields record: `fieldManager`, else the User-Agent's product name, as kube-apiserver names it.
    let manager: String
    /// Server-side apply: take over fields other managers own (`force=true`).
    let force: Bool
    /// The write is a server-side apply (the object's managedFields come from it, not from an Update).
    var isApply = false
    var warnings: [String] = []

    init(fieldValidation: FieldValidation = .warn, manager: String = "meshctl-local", force: Bool = false) {
        self.fieldValidation = fieldValidation
        self.manager = manager
        self.force = force
    }

    /// The request's `fieldValidation`, `fieldManager` and `force` query parameters.
    convenience init(_ request: HTTPRequest) throws {
        let query = request.query
        let agent = request.header("User-Agent").flatMap { $0.split(separator: "/").first.map(String.init) }
        let manager = query["fieldManager"].flatMap { $0.isEmpty ? nil : $0 } ?? agent ?? "unknown"
        guard manager.count <= 128 else { throw APIError.badRequest("fieldManager must be at most 128 characters") }
        self.init(fieldValidation: try FieldValidation(query: query["fieldValidation"]), manager: manager,
                  force: ["true", "1", "True"].contains(query["force"] ?? ""))
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
        if let istio = IstioKindSchemas.schema(type) {
            // Istio's kinds: unknown fields as kubectl's fieldValidation asks; everything else is meshctl's validator's.
            return try context.fieldValidation.check(object, istio, type: type, version: target.version, name: name, warnings: &context.warnings,
                                                     unknownFieldsOnly: true)
        }
        guard let schema = KindSchemas.builtIn[type.key] ?? customKinds.schema(type, version: target.version) else { return object }
        var checked = try context.fieldValidation.check(object, schema, type: type, version: target.version, name: name, warnings: &context.warnings)
        if type.kind == "Secret" { BuiltinDefaults.foldStringData(&checked) }
        if type.kind == "Service", let current, checked["spec"]?["type"]?.string != "ExternalName" {
            // A Service keeps its cluster IP when an update leaves it out.
            for key in ["clusterIP", "clusterIPs"] where checked["spec"]?[key] == nil { checked["spec"]?[key] = current["spec"]?[key] }
        }
        let namespace = target.namespace ?? ""
        // An update runs inside the store's write: no lookups there, addresses and ports follow from the name.
        let services = type.kind == "Service" && current == nil ? try store.list("services", namespace: nil).items : []
        let usedAddresses = Set(services.compactMap { $0["spec"]?["clusterIP"]?.string })
        // Spread by this cluster's own seed, so two control planes on one machine (two state directories) do not both
        // listen on the same Service addresses.
        let seed = type.kind == "Service" && current == nil ? (try store.get("namespaces", namespace: "", name: "kube-system"))?["metadata"]?["uid"]?.string ?? "" : ""
        BuiltinDefaults.apply(&checked, kind: type.kind) { ClusterIPRange.free(namespace: namespace, name: name, used: usedAddresses, seed: seed) }
        if type.kind == "Service" {
            let usedPorts = Set(services.flatMap { ($0["spec"]?["ports"]?.array ?? []).compactMap { $0["nodePort"]?.int } })
            NodePortRange.assign(&checked, current: current, used: usedPorts, seed: "\(namespace)/\(name)")
        }
        if WorkloadStatus.kinds.union(["Job", "CronJob"]).contains(type.kind), target.subresource != "status", let current {
            // Status is the system's: a write of the object itself does not change it.
            checked["status"] = current["status"]
        }
        if target.subresource != "status" && customKinds.hasStatusSubresource(type, version: target.version) {
            // With a status subresource, only writes to it set the status.
            checked["status"] = current?["status"]
        }
        let problems = BuiltinRules.problems(checked, kind: type.kind, current: current)
        if !problems.isEmpty { throw APIError.invalid(type, name, causes: problems) }
        return checked
    }

    /// Which lists of `type` merge by key in server-side apply and managedFields: built-in kinds' as their strategic
    /// merge keys say; the lists of custom and Istio kinds are single values.
    func listKeys(_ type: ResourceType) -> FieldSet.ListKeys {
        type.builtIn ? { field, items in Patches.mergeKey(for: field, parent: "", items: items) } : { _, _ in nil }
    }

    /// Server-side apply of `config` onto `current`: the merged object with its managedFields, or 409 on conflicts.
    func serverSideApply(_ config: JSONValue, onto current: JSONValue, _ target: Target, _ context: WriteContext) throws -> JSONValue {
        var managed = ManagedFields(current["metadata"]?["managedFields"])
        var applied = config
        applied["metadata"]?["managedFields"] = nil
        let apiVersion = target.type.apiVersion(target.version), keys = listKeys(target.type)
        var result: JSONValue
        do {
            var attempt = managed
            result = try attempt.apply(applied, to: current, manager: context.manager, apiVersion: apiVersion, force: context.force, listKeys: keys)
            managed = attempt
        } catch {
            // As kube-apiserver does, kubectl's first server-side apply after client-side ones takes over, without
            // conflicts, the fields still as kubectl last applied them (its last-applied-configuration annotation).
            let allowed = context.manager == "kubectl" ? Self.unchangedSinceLastApplied(current, listKeys: keys) : []
            guard !allowed.isEmpty, error.conflicts.allSatisfy({ allowed.contains($0.path) }) else { throw error.apiError }
            result = try managed.apply(applied, to: current, manager: context.manager, apiVersion: apiVersion, force: true, listKeys: keys)
        }
        result["metadata"]?["managedFields"] = managed.json ?? .array([])
        return result
    }

    /// The fields of an object's last-applied-configuration whose live values are still the applied ones.
    static func unchangedSinceLastApplied(_ live: JSONValue, listKeys: FieldSet.ListKeys) -> Set<FieldSet.Path> {
        guard let text = live["metadata"]?["annotations"]?["kubectl.kubernetes.io/last-applied-configuration"]?.string,
              let lastApplied = try? JSONValue.parse(text) else { return [] }
        return FieldSet.of(lastApplied, listKeys: listKeys).paths.filter { FieldSet.value(lastApplied, at: $0) == FieldSet.value(live, at: $0) }
    }

    /// The managedFields an object gets when it is written: those the write brought (an apply, or a client that
    /// sets them) or the current ones, plus this Update's manager.
    func managedFields(old current: JSONValue?, new object: JSONValue, given: JSONValue?, config: JSONValue?, _ target: Target,
                       _ context: WriteContext) -> JSONValue? {
        let apiVersion = target.type.apiVersion(target.version)
        let currentFields = current?["metadata"]?["managedFields"]
        if context.isApply {
            if current == nil, let config {
                var managed = ManagedFields(nil)
                _ = try? managed.apply(config, to: nil, manager: context.manager, apiVersion: apiVersion, force: true, listKeys: listKeys(target.type))
                return managed.json
            }
            return given.flatMap { $0.array?.isEmpty == true ? nil : $0 }
        }
        var managed = ManagedFields(given.map { $0 != currentFields ? $0 : currentFields } ?? currentFields)
        managed.recordUpdate(manager: context.manager, apiVersion: apiVersion, old: current, new: object, listKeys: listKeys(target.type))
        return managed.json
    }

}

/// Node ports (30000-32767) for NodePort and LoadBalancer Services: kept from the Service as it was, else chosen
/// by name among those no other Service has.
enum NodePortRange {
    static let range = 30000...32767

    static func assign(_ service: inout JSONValue, current: JSONValue?, used: Set<Int>, seed: String) {
        guard ["NodePort", "LoadBalancer"].contains(service["spec"]?["type"]?.string ?? ""), var ports = service["spec"]?["ports"]?.array else { return }
        let previous = current?["spec"]?["ports"]?.array ?? []
        var taken = used.union(ports.compactMap { $0["nodePort"]?.int })
        for index in ports.indices where ports[index].object != nil && ports[index]["nodePort"] == nil {
            let kept = previous.first { $0["port"] == ports[index]["port"] && $0["protocol"] == ports[index]["protocol"] }?["nodePort"]?.int
            let chosen = kept ?? (0..<256).lazy.map { attempt in port(seed: "\(seed)/\(index)/\(attempt)") }.first { !taken.contains($0) }
            guard let chosen else { continue }
            taken.insert(chosen)
            ports[index]["nodePort"] = .int(chosen)
        }
        service["spec"]?["ports"] = .array(ports)
    }

    private static func port(seed: String) -> Int {
        var hash: UInt64 = 0xcbf29ce484222325
        for byte in seed.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100000001b3 }
        return range.lowerBound + Int(hash % UInt64(range.count))
    }
}

/// Service addresses in 127.96.0.0/12: kube's default service range (10.96.0.0/12) moved onto loopback, where local
/// mode's service proxy listens on them (apart from the pod addresses local mode hands out); spread by name and by a
/// seed of the cluster's own (its kube-system namespace's uid), so each control plane's addresses differ.
enum ClusterIPRange {
    /// An address for the Service that is not in `used`.
    static func free(namespace: String, name: String, used: Set<String>, seed: String = "") -> String {
        for attempt in 0..<64 {
            let candidate = address(namespace: namespace, name: name, attempt: attempt, seed: seed)
            if !used.contains(candidate) { return candidate }
        }
        return address(namespace: namespace, name: name + UUID().uuidString, attempt: 0, seed: seed)
    }

    static func address(namespace: String, name: String, attempt: Int, seed: String = "") -> String {
        var hash: UInt64 = 0xcbf29ce484222325
        for byte in "\(seed)/\(namespace)/\(name)/\(attempt)".utf8 { hash = (hash ^ UInt64(byte)) &* 0x100000001b3 }
        // 2^20 addresses; .0.0 to .0.9 are left for well-known Services.
        let offset = 10 + Int(hash % UInt64((1 << 20) - 20))
        return "127.\(96 + offset >> 16).\((offset >> 8) & 0xff).\(offset & 0xff)"
    }
}
