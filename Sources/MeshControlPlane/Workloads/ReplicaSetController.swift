import Foundation
import Manifests

/// Keeps each ReplicaSet's pods at `spec.replicas` (names `RS-xxxxx`) and writes its status.
final class ReplicaSetController: Reconciler {
    let writer: ObjectWriter
    init(writer: ObjectWriter) { self.writer = writer }

    /// At most this many pods are created or deleted per ReplicaSet in one pass (the next pass goes on).
    static let burst = 100

    func reconcile(_ view: ClusterView) throws {
        var wrotePods = false
        for set in try view.all("replicasets.apps") where !set.isBeingDeleted {
            let pods = try view.owned("pods", by: set.uid).filter(PodTemplates.isActive)
            let wanted = max(0, set["spec"]?["replicas"]?.int ?? 1)
            if pods.count < wanted {
                for _ in 0..<min(Self.burst, wanted - pods.count) {
                    let pod = PodTemplates.pod(from: set["spec"]?["template"] ?? .object([]), owner: set)
                    do {
                        let created = try writer.create("pods", pod)
                        writer.event(set, reason: "SuccessfulCreate", message: "Created pod: \(created.name)", component: "replicaset-controller")
                    } catch {
                        writer.event(set, type: "Warning", reason: "FailedCreate", message: "Error creating: \(error)", component: "replicaset-controller")
                        break
                    }
                }
                wrotePods = true
            } else if pods.count > wanted {
                for pod in Self.deletionOrder(pods).prefix(min(Self.burst, pods.count - wanted)) {
                    try writer.delete("pods", namespace: pod.namespace, name: pod.name)
                    writer.event(set, reason: "SuccessfulDelete", message: "Deleted pod: \(pod.name)", component: "replicaset-controller")
                }
                wrotePods = true
            }
            try writer.writeStatus("replicasets.apps", of: set, Self.status(set, pods: pods, now: writer.clock.now))
        }
        if wrotePods { view.forget("pods") }
    }

    /// Which pods go first when scaling down: not yet scheduled, then not running, then not ready, then the newest.
    static func deletionOrder(_ pods: [JSONValue]) -> [JSONValue] {
        func rank(_ pod: JSONValue) -> Int {
            if (pod["spec"]?["nodeName"]?.string ?? "").isEmpty { return 0 }
            if pod["status"]?["phase"]?.string != "Running" { return 1 }
            return PodTemplates.isReady(pod) ? 3 : 2
        }
        return pods.sorted { a, b in
            let (ra, rb) = (rank(a), rank(b))
            if ra != rb { return ra < rb }
            return (a["metadata"]?["creationTimestamp"]?.string ?? "") > (b["metadata"]?["creationTimestamp"]?.string ?? "")
        }
    }

    static func status(_ set: JSONValue, pods: [JSONValue], now: Date) -> JSONValue {
        let minReady = set["spec"]?["minReadySeconds"]?.int ?? 0
        let template = set["spec"]?["template"]?["metadata"]?["labels"]?.stringMap ?? [:]
        let labeled = pods.filter { pod in template.allSatisfy { pod.labelMap[$0.key] == $0.value } }.count
        return .object([
            ("replicas", .int(pods.count)), ("fullyLabeledReplicas", .int(labeled)),
            ("readyReplicas", .int(pods.filter(PodTemplates.isReady).count)),
            ("availableReplicas", .int(pods.filter { PodTemplates.isAvailable($0, minReadySeconds: minReady, now: now) }.count)),
            ("observedGeneration", .int(set.generation)),
        ])
    }
}
