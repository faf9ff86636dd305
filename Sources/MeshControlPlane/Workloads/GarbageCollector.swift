import Foundation
import Manifests

/// Deletes objects whose owners (by ownerReferences' uid) are all gone: a deleted Deployment takes its ReplicaSets,
/// and they their pods, over the next passes (background propagation, what kubectl asks for by default).
final class GarbageCollector: Reconciler {
    let writer: ObjectWriter
    init(writer: ObjectWriter) { self.writer = writer }

    /// Kinds that own others here, by the kind an ownerReference names.
    static let owners: [String: String] = [
        "Deployment": "deployments.apps", "ReplicaSet": "replicasets.apps", "StatefulSet": "statefulsets.apps", "DaemonSet": "daemonsets.apps",
        "Job": "jobs.batch", "CronJob": "cronjobs.batch", "Service": "services",
    ]
    static let dependents = ["replicasets.apps", "pods", "jobs.batch", "endpointslices.discovery.k8s.io"]

    func reconcile(_ view: ClusterView) throws {
        // Dependents are read before owners (the pass's lists are read when first asked for): an owner made after this
        // read cannot be missed, since its dependents come later still.
        var candidates: [(resource: String, object: JSONValue)] = []
        for resource in Self.dependents {
            candidates += try view.all(resource).filter { !OwnerReferences.all($0).isEmpty }.map { (resource, $0) }
        }
        guard !candidates.isEmpty else { return }
        // Only the owner kinds the candidates name are read, each once per pass.
        var uids: [String: Set<String>] = [:]
        for kind in Set(candidates.flatMap { OwnerReferences.all($0.object).map(\.kind) }) {
            guard let resource = Self.owners[kind] else { continue }
            uids[kind] = Set(try view.all(resource).map(\.uid))
        }
        var deleted = Set<String>()
        for (resource, object) in candidates {
            let references = OwnerReferences.all(object)
            // Owners of kinds this collector does not know are taken to exist.
            let gone = references.allSatisfy { reference in uids[reference.kind].map { !$0.contains(reference.uid) } ?? false }
            guard gone else { continue }
            // Confirmed owner by owner from the store before anything is deleted, as Kubernetes' collector does.
            let confirmed = try references.allSatisfy { reference in
                guard let ownerResource = Self.owners[reference.kind] else { return false }
                // Every owner kind here is namespaced, in its dependents' namespace.
                return try writer.store.get(ownerResource, namespace: object.namespace, name: reference.name)?.uid != reference.uid
            }
            guard confirmed else { continue }
            try writer.delete(resource, namespace: object.namespace, name: object.name)
            deleted.insert(resource)
        }
        for resource in deleted { view.forget(resource) }
    }
}

/// The node every pod runs on, and the scheduler that puts pods there.
enum LocalNode {
    static let name = "meshctl-local"

    static func object(now: String, previous: JSONValue?) -> JSONValue {
        let cpus = ProcessInfo.processInfo.activeProcessorCount
        let memory = "\(ProcessInfo.processInfo.physicalMemory / 1024)Ki"
        var arch = "amd64"
        #if arch(arm64)
        arch = "arm64"
        #endif
        let capacity: JSONValue = .object([("cpu", .string(String(cpus))), ("memory", .string(memory)), ("pods", .string("110")),
                                           ("ephemeral-storage", .string("0"))])
        func condition(_ type: String, _ status: String, _ reason: String, _ message: String) -> JSONValue {
            .object([("type", .string(type)), ("status", .string(status)), ("lastHeartbeatTime", .string(now)),
                     ("lastTransitionTime", .string(now)), ("reason", .string(reason)), ("message", .string(message))])
        }
        return .object([
            ("apiVersion", .string("v1")), ("kind", .string("Node")),
            ("metadata", .object([("name", .string(name)), ("labels", .object([
                ("kubernetes.io/hostname", .string(name)), ("kubernetes.io/os", .string("linux")), ("kubernetes.io/arch", .string(arch)),
                ("beta.kubernetes.io/os", .string("linux")), ("beta.kubernetes.io/arch", .string(arch)),
                ("node-role.kubernetes.io/control-plane", .string("")),
            ]))])),
            ("spec", .object([("podCIDR", .string("127.10.0.0/16")), ("podCIDRs", .array([.string("127.10.0.0/16")]))])),
            ("status", .object([
                ("capacity", capacity), ("allocatable", capacity),
                ("conditions", .array([
                    condition("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
                    condition("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                    condition("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
                    condition("Ready", "True", "KubeletReady", "meshctl local mode runs pods as local processes"),
                ])),
                ("addresses", .array([.object([("type", .string("InternalIP")), ("address", .string("127.0.0.1"))]),
                                      .object([("type", .string("Hostname")), ("address", .string(name))])])),
                ("nodeInfo", .object([("kubeletVersion", .string("v1.32.0")), ("kubeProxyVersion", .string("v1.32.0")),
                                      ("operatingSystem", .string("linux")), ("architecture", .string(arch)),
                                      ("containerRuntimeVersion", .string("meshctl://local-processes")),
                                      ("osImage", .string(ProcessInfo.processInfo.operatingSystemVersionString)),
                                      ("kernelVersion", .string(""))])),
            ])),
        ])
    }
}

/// Makes the node object and binds every unscheduled pod to it.
final class NodeScheduler: Reconciler {
    let writer: ObjectWriter
    private var registered = false
    init(writer: ObjectWriter) { self.writer = writer }

    func reconcile(_ view: ClusterView) throws {
        let now = Timestamps.format(writer.clock.now)
        if !registered {
            if try writer.store.get("nodes", namespace: "", name: LocalNode.name) == nil {
                try writer.create("nodes", LocalNode.object(now: now, previous: nil))
            }
            // Ready since this start.
            try writer.modify("nodes", namespace: "", name: LocalNode.name) { current in
                var updated = current
                updated["status"] = LocalNode.object(now: now, previous: current)["status"]
                return updated
            }
            registered = true
        }
        var bound = false
        for pod in try view.all("pods") where (pod["spec"]?["nodeName"]?.string ?? "").isEmpty && !pod.isBeingDeleted {
            try writer.modify("pods", namespace: pod.namespace, name: pod.name) { current in
                guard current.uid == pod.uid else { return nil }
                var updated = current
                updated["spec"]?["nodeName"] = .string(LocalNode.name)
                var status = updated["status"] ?? .object([])
                status["conditions"] = .array([Conditions.make("PodScheduled", true, previous: nil, now: now)])
                updated["status"] = status
                return updated
            }
            writer.event(pod, reason: "Scheduled", message: "Successfully assigned \(pod.namespace)/\(pod.name) to \(LocalNode.name)", component: "default-scheduler")
            bound = true
        }
        if bound { view.forget("pods") }
    }
}
