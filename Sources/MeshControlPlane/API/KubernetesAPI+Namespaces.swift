import Foundation
import Manifests
import MeshNet

// Namespace lifecycle: the protected ones, refusing content in missing or terminating ones, and deletion.
extension KubernetesAPI {
    static let protectedNamespaces: Set<String> = ["default", "kube-system", "kube-public"]

    func requireNamespace(_ namespace: String) throws {
        guard let object = try store.get("namespaces", namespace: "", name: namespace) else {
            throw APIError(404, "NotFound", "namespaces \"\(namespace)\" not found", details: .object([("name", .string(namespace)), ("kind", .string("namespaces"))]))
        }
        if object["status"]?["phase"]?.string == "Terminating" {
            throw APIError(403, "Forbidden", "unable to create new content in namespace \(namespace) because it is being terminated")
        }
    }

    /// Deletes a namespace as Kubernetes does: Terminating first; its contents and then the namespace go a little later.
    func terminateNamespace(_ name: String, _ target: Target, dryRun: Bool) throws -> JSONValue {
        let type = target.type
        if Self.protectedNamespaces.contains(name) {
            throw APIError(403, "Forbidden", "namespaces \"\(name)\" is forbidden: this namespace may not be deleted")
        }
        let (object, _) = try replace(name, target, dryRun: dryRun) { current in
            var terminating = current
            terminating["metadata"]?["deletionTimestamp"] = current["metadata"]?["deletionTimestamp"] ?? .string(Timestamps.now())
            return terminating
        }
        if dryRun { return object }
        let result = try store.update(type.key, namespace: "", name: name) { current, version in
            guard current["status"]?["phase"]?.string != "Terminating" else { return nil }
            var terminating = current
            terminating["status"] = .object([("phase", .string("Terminating"))])
            terminating["metadata"]?["resourceVersion"] = .string(String(version))
            return terminating
        }
        purgeQueue.asyncAfter(deadline: .now() + namespacePurgeDelay) { [self] in purgeNamespace(name) }
        return result
    }

    /// Finishes deletions a stopped server left halfway: namespaces still Terminating lose their contents and go.
    func finishTerminatingNamespaces() throws {
        for namespace in try store.list("namespaces", namespace: "").items where namespace["status"]?["phase"]?.string == "Terminating" {
            if let name = namespace["metadata"]?["name"]?.string { purgeNamespace(name) }
        }
    }

    /// Removes a terminating namespace's contents, then the namespace.
    func purgeNamespace(_ name: String) {
        do {
            for kind in ResourceCatalog.all where kind.namespaced {
                for item in try store.list(kind.key, namespace: name).items {
                    do {
                        _ = try store.delete(kind.key, namespace: name, name: item["metadata"]?["name"]?.string ?? "")
                    } catch StoreError.notFound {
                        continue  // deleted meanwhile
                    }
                }
            }
            _ = try store.delete("namespaces", namespace: "", name: name)
        } catch StoreError.notFound {
            return
        } catch {
            log("\(Timestamps.now()) purging namespace \(name) failed: \(error)")
        }
    }
}
