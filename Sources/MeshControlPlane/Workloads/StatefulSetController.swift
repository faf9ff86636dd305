import Foundation
import Manifests

/// StatefulSets: pods `NAME-0` .. `NAME-(N-1)`, made in order and one at a time (OrderedReady: the next only once
/// the ones before it are running and ready; Parallel: all at once), removed from the highest ordinal, and on a
/// template change replaced from the highest ordinal down to the partition, one at a time.
final class StatefulSetController: Reconciler {
    let writer: ObjectWriter
    init(writer: ObjectWriter) { self.writer = writer }

    static let revisionLabel = "controller-revision-hash"

    func reconcile(_ view: ClusterView) throws {
        var wrote = false
        for set in try view.all("statefulsets.apps") where !set.isBeingDeleted {
            wrote = try reconcile(set, view) || wrote
        }
        if wrote { view.forget("pods") }
    }

    static func ordinal(_ pod: JSONValue, of set: JSONValue) -> Int? {
        let prefix = set.name + "-"
        guard pod.name.hasPrefix(prefix) else { return nil }
        return Int(pod.name.dropFirst(prefix.count))
    }

    private func reconcile(_ set: JSONValue, _ view: ClusterView) throws -> Bool {
        let spec = set["spec"] ?? .object([])
        let replicas = PodTemplates.clampedCount(spec["replicas"]?.int ?? 1)
        let template = spec["template"] ?? .object([])
        let revision = "\(set.name)-\(PodTemplates.hash(template))"
        let ordered = spec["podManagementPolicy"]?.string != "Parallel"
        let partition = spec["updateStrategy"]?["rollingUpdate"]?["partition"]?.int ?? 0
        let rolling = spec["updateStrategy"]?["type"]?.string != "OnDelete"
        var pods: [Int: JSONValue] = [:]
        for pod in try view.owned("pods", by: set.uid) where !pod.isBeingDeleted {
            if let index = Self.ordinal(pod, of: set) { pods[index] = pod }
        }
        func healthy(_ pod: JSONValue) -> Bool { pod["status"]?["phase"]?.string == "Running" && PodTemplates.isReady(pod) }
        var wrote = false
        // Finished pods are replaced (a StatefulSet's pods always restart).
        for (index, pod) in pods where ["Succeeded", "Failed"].contains(pod["status"]?["phase"]?.string ?? "") {
            try writer.delete("pods", namespace: pod.namespace, name: pod.name)
            pods[index] = nil
            wrote = true
        }
        // Create the missing ordinals below `replicas` (Parallel: at most a burst per pass, as ReplicaSets do).
        var created = 0
        for index in 0..<replicas {
            if let pod = pods[index] {
                if ordered && !healthy(pod) { break }
                continue
            }
            try createPod(set, index: index, template: template, revision: revision)
            wrote = true
            created += 1
            if ordered || created >= ReplicaSetController.burst { break }
        }
        // Remove ordinals at or above `replicas`, highest first, one at a time when ordered.
        let surplus = pods.keys.filter { $0 >= replicas }.sorted(by: >)
        if !surplus.isEmpty && (!ordered || pods.filter({ $0.key < replicas }).values.allSatisfy(healthy)) {
            for index in ordered ? Array(surplus.prefix(1)) : surplus {
                try writer.delete("pods", namespace: set.namespace, name: pods[index]!.name)
                writer.event(set, reason: "SuccessfulDelete", message: "delete Pod \(pods[index]!.name) in StatefulSet \(set.name) successful",
                             component: "statefulset-controller")
                pods[index] = nil
                wrote = true
            }
        }
        // A changed template: replace stale pods from the highest ordinal down to the partition, once all are healthy.
        if rolling && !wrote && pods.count == replicas && pods.values.allSatisfy(healthy) {
            if let index = pods.keys.sorted(by: >).first(where: { $0 >= partition && pods[$0]?.labelMap[Self.revisionLabel] != revision }) {
                try writer.delete("pods", namespace: set.namespace, name: pods[index]!.name)
                pods[index] = nil
                wrote = true
            }
        }
        let live = Array(pods.values)
        let updated = live.filter { $0.labelMap[Self.revisionLabel] == revision }.count
        let previousCurrent = set["status"]?["currentRevision"]?.string
        let current = updated == replicas && live.count == replicas ? revision : (previousCurrent ?? revision)
        let currentCount = live.filter { $0.labelMap[Self.revisionLabel] == current }.count
        let now = writer.clock.now
        let minReady = spec["minReadySeconds"]?.int ?? 0
        let status: JSONValue = .object([
            ("observedGeneration", .int(set.generation)), ("replicas", .int(live.count)),
            ("readyReplicas", .int(live.filter(PodTemplates.isReady).count)), ("currentReplicas", .int(currentCount)),
            ("updatedReplicas", .int(updated)),
            ("availableReplicas", .int(live.filter { PodTemplates.isAvailable($0, minReadySeconds: minReady, now: now) }.count)),
            ("currentRevision", .string(current)), ("updateRevision", .string(revision)), ("collisionCount", .int(0)),
        ])
        try writer.writeStatus("statefulsets.apps", of: set, status)
        return wrote
    }

    private func createPod(_ set: JSONValue, index: Int, template: JSONValue, revision: String) throws {
        let name = "\(set.name)-\(index)"
        var pod = PodTemplates.pod(from: template, owner: set, name: name,
                                   extraLabels: [(Self.revisionLabel, revision), ("statefulset.kubernetes.io/pod-name", name),
                                                 ("apps.kubernetes.io/pod-index", String(index))], hostname: name)
        if let service = set["spec"]?["serviceName"]?.string, !service.isEmpty, pod["spec"]?["subdomain"] == nil { pod["spec"]?["subdomain"] = .string(service) }
        do {
            try writer.create("pods", pod)
            writer.event(set, reason: "SuccessfulCreate", message: "create Pod \(name) in StatefulSet \(set.name) successful", component: "statefulset-controller")
        } catch let error as APIError where error.code == 409 {
            // The last pod of that name is still there (being replaced): the next pass creates it.
        }
    }
}

/// DaemonSets: one pod on the one node, `meshctl-local`, replaced when the template changes.
final class DaemonSetController: Reconciler {
    let writer: ObjectWriter
    init(writer: ObjectWriter) { self.writer = writer }

    func reconcile(_ view: ClusterView) throws {
        var wrote = false
        for set in try view.all("daemonsets.apps") where !set.isBeingDeleted {
            let template = set["spec"]?["template"] ?? .object([])
            let revision = PodTemplates.hash(template)
            var pods = try view.owned("pods", by: set.uid).filter(PodTemplates.isActive)
            // Extra pods and pods of an older template go; then the one pod is made.
            let stale = pods.filter { $0.labelMap[StatefulSetController.revisionLabel] != revision }
            let keep = pods.filter { $0.labelMap[StatefulSetController.revisionLabel] == revision }
            for pod in stale + keep.dropFirst() {
                try writer.delete("pods", namespace: pod.namespace, name: pod.name)
                wrote = true
            }
            pods = Array(keep.prefix(1))
            if pods.isEmpty && stale.isEmpty {
                var pod = PodTemplates.pod(from: template, owner: set, extraLabels: [(StatefulSetController.revisionLabel, revision),
                                                                                     ("pod-template-generation", String(set.generation))])
                pod["spec"]?["nodeName"] = .string(LocalNode.name)
                let created = try writer.create("pods", pod)
                writer.event(set, reason: "SuccessfulCreate", message: "Created pod: \(created.name)", component: "daemonset-controller")
                wrote = true
            }
            let ready = pods.filter(PodTemplates.isReady).count
            let available = pods.filter { PodTemplates.isAvailable($0, minReadySeconds: set["spec"]?["minReadySeconds"]?.int ?? 0, now: writer.clock.now) }.count
            var pairs: [(key: String, value: JSONValue)] = [
                ("currentNumberScheduled", .int(pods.count)), ("desiredNumberScheduled", .int(1)), ("numberMisscheduled", .int(0)),
                ("numberReady", .int(ready)), ("observedGeneration", .int(set.generation)), ("updatedNumberScheduled", .int(pods.count)),
                ("numberAvailable", .int(available)),
            ]
            if available < 1 { pairs.append(("numberUnavailable", .int(1 - available))) }
            try writer.writeStatus("daemonsets.apps", of: set, .object(pairs))
        }
        if wrote { view.forget("pods") }
    }
}
