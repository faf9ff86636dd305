import Foundation
import Manifests
import MeshNet
import MeshHTTP1

// Writing: create, replace (PUT and every patch), delete and delete-collection, and the start-up objects.
extension KubernetesAPI {
    func create(_ input: JSONValue, _ target: Target, dryRun: Bool, _ context: WriteContext = WriteContext()) throws -> JSONValue {
        var object = input
        guard object.object != nil else { throw APIError.badRequest("the body must be a JSON object") }
        let type = target.type
        if object["apiVersion"] == nil { object["apiVersion"] = .string(type.apiVersion(target.version)) }
        if object["kind"] == nil { object["kind"] = .string(type.kind) }
        try requireDecodable(object, type)
        var metadata = object["metadata"] ?? .object([])
        if metadata["name"]?.string?.isEmpty ?? true, let prefix = metadata["generateName"]?.string {
            let letters = Array("bcdfghjklmnpqrstvwxz2456789")
            metadata["name"] = .string(prefix + String((0..<5).map { _ in letters.randomElement()! }))
        }
        guard let name = metadata["name"]?.string, !name.isEmpty else {
            throw APIError.invalid(type, "", causes: [("metadata.name", "Required value: name or generateName is required")])
        }
        if let problem = ObjectShape.nameProblem(name, type) { throw APIError.invalid(type, name, causes: [problem]) }
        if type.namespaced {
            let given = metadata["namespace"]?.string
            guard let namespace = target.namespace else { throw APIError.badRequest("a \(type.kind) must be created in a namespace") }
            if let given, !given.isEmpty, given != namespace {
                throw APIError.badRequest("the namespace of the provided object does not match the namespace sent on the request")
            }
            metadata["namespace"] = .string(namespace)
            try requireNamespace(namespace)
        } else {
            metadata["namespace"] = nil
        }
        object["metadata"] = metadata
        if type.plural == "pods", let namespace = target.namespace { object = try Injection.admit(pod: object, namespace: namespace, store: store) }
        object = try admitBuiltIn(object, target, name: name, current: nil, context)
        try admit(object, type, name: name)
        if type.plural == "namespaces" {
            if object["status"]?["phase"] == nil { object["status"] = .object([("phase", .string("Active"))]) }
            // As the API server does: every namespace carries its name as a label, for selectors.
            if object["metadata"]?["labels"] == nil { object["metadata"]?["labels"] = .object([]) }
            object["metadata"]?["labels"]?["kubernetes.io/metadata.name"] = .string(name)
        }
        let managedFields = managedFields(old: nil, new: object, given: nil, config: context.isApply ? input : nil, target, context)
        let controllersWriteStatus = runsWorkloads
        let prepare: (Int64) -> JSONValue = { version in
            var stored = object
            stored["metadata"]?["uid"] = .string(UUID().uuidString.lowercased())
            stored["metadata"]?["resourceVersion"] = .string(String(version))
            stored["metadata"]?["creationTimestamp"] = .string(Timestamps.now())
            stored["metadata"]?["generation"] = .int(1)
            stored["metadata"]?["managedFields"] = managedFields
            if !controllersWriteStatus { WorkloadStatus.observe(&stored) }
            return stored
        }
        if dryRun { return prepare(store.resourceVersion) }
        do {
            return try store.create(type.key, namespace: target.storageNamespace, name: name, prepare)
        } catch StoreError.alreadyExists {
            throw APIError.alreadyExists(type, name)
        }
    }

    /// Refuses a body kube-apiserver's decoder could not read as `type` (400, in its words).
    func requireDecodable(_ object: JSONValue, _ type: ResourceType) throws {
        guard let problem = ObjectShape.decodingProblem(object, type) else { return }
        let version = object["apiVersion"]?.string.map { String($0.split(separator: "/").last ?? "") } ?? ""
        throw APIError.badRequest("\(object["kind"]?.string ?? type.kind) in version \"\(version)\" cannot be handled as a \(type.kind): \(problem)")
    }

    /// Replaces an object with what `change` makes of it; no change writes nothing. Returns the result and whether it changed.
    func replace(_ name: String, _ target: Target, dryRun: Bool, _ context: WriteContext = WriteContext(),
                 _ change: (JSONValue) throws -> JSONValue) throws -> (JSONValue, Bool) {
        let type = target.type
        var changed = false
        // A dry run writes nothing, but answers with the object as the change would have stored it.
        var wouldStore: JSONValue?
        do {
            let result = try store.update(type.key, namespace: target.storageNamespace, name: name) { current, version in
                var updated = try change(current)
                let givenFields = updated["metadata"]?["managedFields"]
                if let wanted = updated["metadata"]?["resourceVersion"]?.string, !wanted.isEmpty, wanted != current["metadata"]?["resourceVersion"]?.string {
                    throw APIError.conflict(type, name)
                }
                guard updated["metadata"]?["name"]?.string == name || updated["metadata"]?["name"] == nil else {
                    throw APIError.badRequest("the name of the object (\(updated["metadata"]?["name"]?.string ?? "")) does not match the name on the URL (\(name))")
                }
                if updated["apiVersion"] == nil { updated["apiVersion"] = current["apiVersion"] }
                if updated["kind"] == nil { updated["kind"] = current["kind"] }
                // A patch may make anything of the object; what cannot be read back as the kind is refused, as kube-apiserver does.
                if let problem = ObjectShape.decodingProblem(updated, type) {
                    throw APIError.invalid(type, name, causes: [("patch", "Invalid value: the patched object cannot be read as a \(type.kind): \(problem)")])
                }
                // What the server owns stays as it is.
                var metadata = updated["metadata"] ?? .object([])
                for key in ["uid", "creationTimestamp", "namespace", "name", "deletionTimestamp"] { metadata[key] = current["metadata"]?[key] }
                metadata["resourceVersion"] = current["metadata"]?["resourceVersion"]
                metadata["generation"] = current["metadata"]?["generation"]
                metadata["managedFields"] = nil
                updated["metadata"] = metadata
                if type.plural == "namespaces" { updated["status"] = current["status"] }
                if target.subresource == "status" {
                    // The status subresource changes the status and nothing else.
                    var statusOnly = current
                    statusOnly["status"] = updated["status"]
                    statusOnly["metadata"] = updated["metadata"]
                    for key in ["labels", "annotations", "finalizers", "ownerReferences"] { statusOnly["metadata"]?[key] = current["metadata"]?[key] }
                    updated = statusOnly
                }
                updated = try admitBuiltIn(updated, target, name: name, current: current, context)
                let fields = managedFields(old: current, new: updated, given: givenFields, config: nil, target, context)
                updated["metadata"]?["managedFields"] = fields
                if updated == current { return nil }
                try admit(updated, type, name: name)
                if updated["spec"] != current["spec"] {
                    updated["metadata"]?["generation"] = .int((current["metadata"]?["generation"]?.int ?? 0) + 1)
                }
                if !runsWorkloads { WorkloadStatus.observe(&updated) }
                changed = true
                // A dry run keeps the stored version, as kube-apiserver's does (kubectl diff shows no version change).
                if dryRun { wouldStore = updated; return nil }
                updated["metadata"]?["resourceVersion"] = .string(String(version))
                return updated
            }
            return (wouldStore ?? result, changed)
        } catch StoreError.notFound {
            throw APIError.notFound(type, name)
        }
    }

    func patch(_ request: HTTPRequest, name: String, _ target: Target, dryRun: Bool, _ context: WriteContext = WriteContext()) throws -> (JSONValue, Bool) {
        let contentType = (request.header("Content-Type") ?? "").split(separator: ";").first.map { String($0).trimmed } ?? ""
        let patch = try body(request)
        let type = target.type
        switch contentType {
        case "application/apply-patch+yaml":
            guard request.query["fieldManager"]?.isEmpty == false else {
                throw APIError.badRequest("fieldManager is required for apply requests (kubectl sets it; with curl add ?fieldManager=NAME)")
            }
            context.isApply = true
            if try store.get(type.key, namespace: target.storageNamespace, name: name) == nil {
                var object = patch
                // Applied to the URL's name: a body naming another object is refused, as kube-apiserver does.
                if let named = object["metadata"]?["name"]?.string, named != name {
                    throw APIError.badRequest("the name of the object (\(named)) does not match the name on the URL (\(name))")
                }
                var metadata = object["metadata"] ?? .object([])
                metadata["name"] = .string(name)
                object["metadata"] = metadata
                return (try create(object, target, dryRun: dryRun, context), true)
            }
            return (try replace(name, target, dryRun: dryRun, context) { current throws in try serverSideApply(patch, onto: current, target, context) }.0, false)
        case "application/merge-patch+json", "application/json":
            return (try replace(name, target, dryRun: dryRun, context) { Patches.merge($0, patch) }.0, false)
        case "application/json-patch+json":
            return (try replace(name, target, dryRun: dryRun, context) { current throws in try Patches.json(current, patch) }.0, false)
        case "application/strategic-merge-patch+json":
            guard type.builtIn else {
                throw APIError(415, "UnsupportedMediaType", "the body of the request was in an unknown format - accepted media types include: "
                               + "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml")
            }
            return (try replace(name, target, dryRun: dryRun, context) { current throws in try Patches.strategic(current, patch) }.0, false)
        default:
            throw APIError(415, "UnsupportedMediaType", "the body of the request was in an unknown format - accepted media types include: "
                           + "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml")
        }
    }

    func delete(_ name: String, _ target: Target, dryRun: Bool) throws -> JSONValue {
        let type = target.type
        if type.plural == "namespaces" { return try terminateNamespace(name, target, dryRun: dryRun) }
        guard !dryRun else {
            guard let object = try store.get(type.key, namespace: target.storageNamespace, name: name) else { throw APIError.notFound(type, name) }
            return object
        }
        do {
            return try store.delete(type.key, namespace: target.storageNamespace, name: name)
        } catch StoreError.notFound {
            throw APIError.notFound(type, name)
        }
    }

    func deleteCollection(_ request: HTTPRequest, _ responder: HTTPResponder, _ target: Target, dryRun: Bool) throws {
        // As kube-apiserver: namespaces have no deletecollection (one request must not end every namespace, istio-system included).
        guard target.type.plural != "namespaces" else { throw APIError.methodNotAllowed }
        let matches = try selected(request, target)
        let items = try store.list(target.type.key, namespace: target.type.namespaced ? target.namespace : nil).items.filter(matches)
        var deleted: [JSONValue] = []
        for item in items {
            guard let name = item["metadata"]?["name"]?.string else { continue }
            let itemTarget = Target(type: target.type, version: target.version, namespace: item["metadata"]?["namespace"]?.string, name: name, subresource: nil)
            do {
                deleted.append(presented(try delete(name, itemTarget, dryRun: dryRun), target))
            } catch let error as APIError where error.code == 404 {
                continue  // deleted meanwhile
            }
        }
        send(responder, 200, .object([("kind", .string("\(target.type.kind)List")), ("apiVersion", .string(target.type.apiVersion(target.version))),
                                      ("metadata", .object([("resourceVersion", .string(String(store.resourceVersion)))])), ("items", .array(deleted))]))
    }

    /// Creates `object` unless one of its kind and name exists (start-up objects).
    func ensure(_ object: JSONValue) throws {
        guard let apiVersion = object["apiVersion"]?.string, let kind = object["kind"]?.string,
              let type = ResourceCatalog.find(apiVersion: apiVersion, kind: kind), let name = object["metadata"]?["name"]?.string else { return }
        let namespace = type.namespaced ? object["metadata"]?["namespace"]?.string : nil
        guard try store.get(type.key, namespace: namespace ?? "", name: name) == nil else { return }
        let version = String(apiVersion.split(separator: "/").last ?? "v1")
        _ = try create(object, Target(type: type, version: version, namespace: namespace, name: nil, subresource: nil), dryRun: false)
    }
}
