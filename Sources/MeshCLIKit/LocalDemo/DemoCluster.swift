import Foundation
import KubeClient
import Manifests

/// What the demo reads from the local control plane through its API: how the rollout goes, which pods serve, and a
/// sidecar's configuration (its admin `/config_dump`, through the pod proxy as proxy-config reads it).
struct DemoCluster {
    let client: KubernetesClient

    /// The sidecar's container and the init containers Istio's injector adds beside it.
    static let istioContainers: Set<String> = ["istio-proxy", "istio-init", "istio-validation"]

    /// A shop pod whose sidecar is not ready, and why.
    struct SidecarProblem: Equatable {
        var namespace: String
        var pod: String
        var problem: String
        var text: String { "\(namespace)/\(pod): \(problem)" }
    }

    /// Where the rollout stands.
    struct Rollout: Equatable {
        /// `frontend 1/1, cart-v1 0/1 (istio-proxy: ContainerCreating)`.
        var summary: String
        var complete: Bool
        /// Shop pods whose sidecar is not ready, with the container's state.
        var sidecarsNotReady: [SidecarProblem]
        /// A sidecar that cannot start at all (the kubelet cannot run its image): no point in waiting.
        var sidecarCannotRun: String?
    }

    func rollout() throws -> Rollout {
        var parts: [String] = [], complete = true, notReady: [SidecarProblem] = [], cannotRun: String?
        var podsByNamespace: [String: [JSONValue]] = [:]
        for namespace in Set(DemoManifests.deployments.map(\.namespace)) {
            podsByNamespace[namespace] = try client.list("/api/v1/namespaces/\(namespace)/pods").filter { $0["metadata"]?["deletionTimestamp"] == nil }
        }
        for (namespace, name) in DemoManifests.deployments {
            let deployment = try ClusterConnection.notFoundAsNil { try client.get("/apis/apps/v1/namespaces/\(namespace)/deployments/\(name)") }
            let wanted = deployment?["spec"]?["replicas"]?.int ?? 1
            let ready = deployment?["status"]?["readyReplicas"]?.int ?? 0
            let updated = deployment?["status"]?["updatedReplicas"]?.int ?? 0
            let selector = deployment?["spec"]?["selector"]?["matchLabels"]?.stringMap ?? [:]
            let pods = (podsByNamespace[namespace] ?? []).filter { pod in !selector.isEmpty && selector.allSatisfy { pod.labelMap[$0.key] == $0.value } }
            var waitingFor: [String] = []
            for pod in pods {
                let podName = pod["metadata"]?["name"]?.string ?? "?"
                let sidecar = Self.sidecarState(pod)
                if namespace == DemoManifests.shopNamespace, let problem = sidecar.problem {
                    notReady.append(SidecarProblem(namespace: namespace, pod: podName, problem: problem))
                    if sidecar.cannotRun { cannotRun = cannotRun ?? "\(namespace)/\(podName): \(problem)" }
                }
                waitingFor += Self.waitingContainers(pod)
            }
            let done = deployment != nil && ready >= wanted && updated >= wanted
            if !done { complete = false }
            parts.append("\(name) \(ready)/\(wanted)" + (done || waitingFor.isEmpty ? "" : " (\(Set(waitingFor).sorted().joined(separator: ", ")))"))
        }
        return Rollout(summary: parts.joined(separator: ", "), complete: complete && notReady.isEmpty, sidecarsNotReady: notReady, sidecarCannotRun: cannotRun)
    }

    /// A shop pod's sidecar: nil problem when its `istio-proxy` container is ready; `cannotRun` when the kubelet
    /// refuses its image or one of Istio's init containers' (this build of local mode does not run sidecars).
    static func sidecarState(_ pod: JSONValue) -> (problem: String?, cannotRun: Bool) {
        let declared = ((pod["spec"]?["containers"]?.array ?? []) + (pod["spec"]?["initContainers"]?.array ?? [])).compactMap { $0["name"]?.string }
        guard declared.contains("istio-proxy") else { return ("no istio-proxy container: the pod was not injected", false) }
        let statuses = (pod["status"]?["containerStatuses"]?.array ?? []) + (pod["status"]?["initContainerStatuses"]?.array ?? [])
        for status in statuses {
            guard let name = status["name"]?.string, istioContainers.contains(name),
                  let waiting = status["state"]?["waiting"], let reason = waiting["reason"]?.string,
                  ["ErrImageNeverPull", "ErrImagePull", "ImagePullBackOff", "InvalidImageName"].contains(reason) else { continue }
            return ("container \(name) waits (\(reason)" + (waiting["message"]?.string.map { ": \($0)" } ?? "") + ")", true)
        }
        let proxy = statuses.first { $0["name"]?.string == "istio-proxy" }
        if proxy?["ready"]?.bool == true { return (nil, false) }
        let state = proxy?["state"]?.object?.first.map { $0.key + (($0.value["reason"]?.string).map { " (\($0))" } ?? "") } ?? "no status yet"
        return ("istio-proxy is not ready: \(state)", false)
    }

    /// The last lines the pod's `istio-proxy` container logged (`kubectl logs POD -c istio-proxy --tail N`), or nil.
    func sidecarLogTail(_ pod: String, namespace: String, lines: Int = 3) -> String? {
        guard let bytes = try? client.raw("GET", "/api/v1/namespaces/\(namespace)/pods/\(pod)/log?container=istio-proxy&tailLines=\(lines)") else { return nil }
        let text = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? nil : text
    }

    /// `istio-proxy: ContainerCreating`: the pod's containers that wait, and why.
    static func waitingContainers(_ pod: JSONValue) -> [String] {
        let statuses = (pod["status"]?["containerStatuses"]?.array ?? []) + (pod["status"]?["initContainerStatuses"]?.array ?? [])
        let waiting = statuses.compactMap { status -> String? in
            guard let name = status["name"]?.string, let reason = status["state"]?["waiting"]?["reason"]?.string else { return nil }
            return "\(name): \(reason)"
        }
        if waiting.isEmpty && statuses.isEmpty { return [pod["status"]?["phase"]?.string ?? "Pending"] }
        return waiting
    }

    /// Ready pods of an app in a namespace, by name.
    func readyPods(app: String, namespace: String) throws -> [JSONValue] {
        try client.list("/api/v1/namespaces/\(namespace)/pods").filter { pod in
            pod.labelMap["app"] == app && pod["metadata"]?["deletionTimestamp"] == nil
                && (pod["status"]?["conditions"]?.array ?? []).contains { $0["type"]?.string == "Ready" && $0["status"]?.string == "True" }
        }.sorted { ($0["metadata"]?["name"]?.string ?? "") < ($1["metadata"]?["name"]?.string ?? "") }
    }

    /// The first ready pod's name of an app.
    func readyPod(app: String, namespace: String) throws -> String? {
        try readyPods(app: app, namespace: namespace).first?["metadata"]?["name"]?.string
    }

    /// Deletes an object; one already gone is fine. Returns whether there was one.
    @discardableResult
    func deleteIfPresent(_ path: String) throws -> Bool {
        do {
            try client.send("DELETE", path)
            return true
        } catch let error as APIStatusError where error.code == 404 {
            return false
        }
    }

    /// The sidecar's configuration as its admin port reports it.
    func configDump(pod: String, namespace: String) throws -> JSONValue {
        let bytes = try ProxyAdminSource.adminGet(client, pod: pod, namespace: namespace, port: 15000, path: "config_dump", checked: true)
        do { return try JSONValue.parse(bytes) } catch { throw CommandFailure("the config_dump of \(pod).\(namespace) is not JSON: \(error)") }
    }
}

/// Questions the demo asks of a sidecar's `/config_dump`, in Envoy's own field names.
enum SidecarConfigQuery {
    /// Whether a route sends weighted traffic to `cluster` (`weighted_clusters.clusters[].name`).
    static func hasWeightedCluster(_ dump: JSONValue, named cluster: String) -> Bool {
        contains(dump) { key, value in
            key == "weighted_clusters" && (value["clusters"]?.array ?? []).contains { $0["name"]?.string == cluster }
        }
    }

    /// Whether some route carries the HTTP fault filter's abort (`typed_per_filter_config["envoy.filters.http.fault"].abort`).
    static func hasFaultAbort(_ dump: JSONValue) -> Bool {
        contains(dump) { key, value in
            key == "envoy.filters.http.fault" && contains(value) { innerKey, _ in innerKey == "abort" }
        }
    }

    /// Whether any member anywhere in `value` satisfies `test`.
    static func contains(_ value: JSONValue, _ test: (String, JSONValue) -> Bool) -> Bool {
        switch value {
        case .object(let pairs): return pairs.contains { test($0.key, $0.value) || contains($0.value, test) }
        case .array(let items): return items.contains { contains($0, test) }
        default: return false
        }
    }
}
