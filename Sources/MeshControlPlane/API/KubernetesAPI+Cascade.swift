import Foundation
import Manifests
import MeshNet
import MeshHTTP1

// Deleting an object with dependents: DeleteOptions' propagationPolicy (kubectl delete --cascade).
extension KubernetesAPI {
    /// The request's propagation policy: from its DeleteOptions body, the `propagationPolicy` parameter, or the old
    /// `orphanDependents=true`; nil when none is given (Background).
    func propagationPolicy(_ request: HTTPRequest) -> String? {
        if let given = request.query["propagationPolicy"] { return given }
        if request.query["orphanDependents"] == "true" { return "Orphan" }
        guard !request.body.isEmpty, let options = try? JSONValue.parse(request.body) else { return nil }
        if let policy = options["propagationPolicy"]?.string { return policy }
        if options["orphanDependents"]?.bool == true { return "Orphan" }
        return nil
    }

    /// Before `owner` goes: with Orphan its dependents lose their reference to it and stay; with Foreground they
    /// are deleted first (theirs too). Background leaves them to the garbage collector.
    func propagate(_ policy: String?, from owner: JSONValue) throws {
        guard let policy, policy == "Orphan" || policy == "Foreground" else {
            if let policy, policy != "Background" {
                throw APIError.badRequest("propagationPolicy \"\(policy)\" is not one of Orphan, Background, Foreground")
            }
            return
        }
        let uid = owner["metadata"]?["uid"]?.string ?? ""
        guard !uid.isEmpty else { return }
        for resource in GarbageCollector.dependents {
            let namespace = owner["metadata"]?["namespace"]?.string
            for dependent in try store.list(resource, namespace: namespace).items {
                let references = dependent["metadata"]?["ownerReferences"]?.array ?? []
                guard references.contains(where: { $0["uid"]?.string == uid }) else { continue }
                let name = dependent["metadata"]?["name"]?.string ?? "", space = dependent["metadata"]?["namespace"]?.string ?? ""
                if policy == "Orphan" {
                    _ = try? store.update(resource, namespace: space, name: name) { current, version in
                        var updated = current
                        let kept = (current["metadata"]?["ownerReferences"]?.array ?? []).filter { $0["uid"]?.string != uid }
                        updated["metadata"]?["ownerReferences"] = kept.isEmpty ? nil : .array(kept)
                        updated["metadata"]?["resourceVersion"] = .string(String(version))
                        return updated
                    }
                } else {
                    try propagate("Foreground", from: dependent)
                    _ = try? store.delete(resource, namespace: space, name: name)
                }
            }
        }
    }
}
