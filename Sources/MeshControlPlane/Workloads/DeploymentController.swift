import Foundation
import Manifests

/// Deployments: one ReplicaSet per template (`NAME-HASH`), rolled over by the strategy (RollingUpdate within
/// maxSurge and maxUnavailable, or Recreate), revisions in `deployment.kubernetes.io/revision` for
/// `kubectl rollout history|undo`, old ReplicaSets kept up to revisionHistoryLimit, and the status fields and
/// conditions `kubectl rollout status` reads.
final class DeploymentController: Reconciler {
    static let revisionAnnotation = "deployment.kubernetes.io/revision"
    static let changeCauseAnnotation = "kubernetes.io/change-cause"
    let writer: ObjectWriter
    init(writer: ObjectWriter) { self.writer = writer }

    func reconcile(_ view: ClusterView) throws {
        var wrote = false
        for deployment in try view.all("deployments.apps") where !deployment.isBeingDeleted {
            wrote = try reconcile(deployment, view) || wrote
        }
        if wrote { view.forget("replicasets.apps") }
    }

    static func revision(_ set: JSONValue) -> Int { Int(set["metadata"]?["annotations"]?[revisionAnnotation]?.string ?? "") ?? 0 }

    /// Returns whether a ReplicaSet was written.
    private func reconcile(_ deployment: JSONValue, _ view: ClusterView) throws -> Bool {
        let spec = deployment["spec"] ?? .object([])
        let replicas = PodTemplates.clampedCount(spec["replicas"]?.int ?? 1)
        let template = spec["template"] ?? .object([])
        var sets = try view.owned("replicasets.apps", by: deployment.uid)
        let pods = try view.all("pods")
        func podsOf(_ set: JSONValue) -> [JSONValue] { pods.filter { OwnerReferences.controller($0)?.uid == set.uid && PodTemplates.isActive($0) } }
        let now = writer.clock.now
        let minReady = spec["minReadySeconds"]?.int ?? 0
        func available(_ set: JSONValue) -> Int { podsOf(set).filter { PodTemplates.isAvailable($0, minReadySeconds: minReady, now: now) }.count }
        func specReplicas(_ set: JSONValue) -> Int { set["spec"]?["replicas"]?.int ?? 0 }

        var wrote = false
        let maxRevision = sets.map(Self.revision).max() ?? 0
        var newSet = sets.first { PodTemplates.withoutHash($0["spec"]?["template"]) == PodTemplates.withoutHash(template) }
        var createdNew = false
        let strategy = spec["strategy"]?["type"]?.string ?? "RollingUpdate"
        let surge = PodTemplates.scaled(spec["strategy"]?["rollingUpdate"]?["maxSurge"], of: replicas, roundUp: true, default: 1)
        var unavailable = PodTemplates.scaled(spec["strategy"]?["rollingUpdate"]?["maxUnavailable"], of: replicas, roundUp: false, default: 0)
        if surge == 0 && unavailable == 0 { unavailable = 1 }
        let paused = spec["paused"]?.bool ?? false

        if newSet == nil && !paused {
            let totalNow = sets.reduce(0) { $0 + specReplicas($1) }
            let oldPods = sets.reduce(0) { $0 + podsOf($1).count }
            let initial = strategy == "Recreate" ? (oldPods == 0 && totalNow == 0 ? replicas : 0)
                : min(replicas, max(0, replicas + surge - totalNow))
            newSet = try createReplicaSet(deployment, template: template, replicas: initial, revision: maxRevision + 1, sets: sets)
            if let newSet { sets.append(newSet); createdNew = true; wrote = true }
        }
        var oldSets = sets.filter { $0.uid != newSet?.uid }.sorted { Self.revision($0) < Self.revision($1) }

        if let current = newSet, !paused {
            // A template rolled back to an older ReplicaSet's makes that one the newest revision again.
            var annotations: [(String, String)] = []
            if Self.revision(current) < maxRevision { annotations.append((Self.revisionAnnotation, String(maxRevision + 1))) }
            if let cause = deployment["metadata"]?["annotations"]?[Self.changeCauseAnnotation]?.string,
               current["metadata"]?["annotations"]?[Self.changeCauseAnnotation]?.string != cause { annotations.append((Self.changeCauseAnnotation, cause)) }
            var target = specReplicas(current)
            switch strategy {
            case "Recreate":
                for set in oldSets where specReplicas(set) > 0 { try scale(set, to: 0, deployment); wrote = true }
                let oldPods = oldSets.reduce(0) { $0 + podsOf($1).count }
                target = oldPods == 0 ? replicas : 0
            default:
                if target > replicas {
                    target = replicas
                } else if target < replicas {
                    let total = sets.reduce(0) { $0 + specReplicas($1) }
                    target = min(replicas, target + max(0, replicas + surge - total))
                }
                // Old pods go while enough stay available: unavailable ones first, then within maxUnavailable.
                let totalAvailable = sets.reduce(0) { $0 + available($1) }
                var budget = max(0, totalAvailable - (replicas - unavailable))
                let newSpec = max(target, specReplicas(current))
                var totalAfter = oldSets.reduce(0) { $0 + specReplicas($1) } + newSpec
                for index in oldSets.indices {
                    let set = oldSets[index]
                    let count = specReplicas(set)
                    guard count > 0 else { continue }
                    let unhealthy = max(0, count - available(set))
                    var remove = min(count, unhealthy)
                    let extra = min(count - remove, budget)
                    remove += extra
                    budget -= extra
                    // Never below what is needed: replicas stay at least `replicas - maxUnavailable` in total.
                    remove = min(remove, max(0, totalAfter - (replicas - unavailable)))
                    if remove > 0 {
                        try scale(set, to: count - remove, deployment)
                        oldSets[index]["spec"]?["replicas"] = .int(count - remove)
                        totalAfter -= remove
                        wrote = true
                    }
                }
            }
            if target != specReplicas(current) || !annotations.isEmpty {
                try scale(current, to: target, deployment, annotations: annotations)
                newSet?["spec"]?["replicas"] = .int(target)
                wrote = true
            }
            try trimHistory(deployment, oldSets: oldSets, podsOf: podsOf)
        }

        // The Deployment's revision annotation follows its newest ReplicaSet.
        if let current = newSet {
            let revision = String(max(Self.revision(current), createdNew ? maxRevision + 1 : 0, Self.revision(current) < maxRevision ? maxRevision + 1 : 0))
            if deployment["metadata"]?["annotations"]?[Self.revisionAnnotation]?.string != revision {
                try writer.modify("deployments.apps", namespace: deployment.namespace, name: deployment.name) { current in
                    var updated = current
                    if updated["metadata"]?["annotations"] == nil || updated["metadata"]?["annotations"]?.isNull == true { updated["metadata"]?["annotations"] = .object([]) }
                    updated["metadata"]?["annotations"]?[Self.revisionAnnotation] = .string(revision)
                    return updated
                }
            }
        }
        let status = Self.status(deployment, newSet: newSet, sets: sets, podsOf: podsOf, available: available, unavailableAllowed: unavailable,
                                 createdNew: createdNew, now: now)
        try writer.writeStatus("deployments.apps", of: deployment, status)
        return wrote
    }

    private func createReplicaSet(_ deployment: JSONValue, template: JSONValue, replicas: Int, revision: Int, sets: [JSONValue]) throws -> JSONValue? {
        var collisions = deployment["status"]?["collisionCount"]?.int ?? 0
        for _ in 0..<5 {
            let hash = PodTemplates.hash(template, collisionCount: collisions)
            var podTemplate = template
            if podTemplate["metadata"] == nil || podTemplate["metadata"]?.isNull == true { podTemplate["metadata"] = .object([]) }
            if podTemplate["metadata"]?["labels"] == nil || podTemplate["metadata"]?["labels"]?.isNull == true { podTemplate["metadata"]?["labels"] = .object([]) }
            podTemplate["metadata"]?["labels"]?[PodTemplates.hashLabel] = .string(hash)
            var selector = deployment["spec"]?["selector"] ?? .object([])
            if selector["matchLabels"] == nil { selector["matchLabels"] = .object([]) }
            selector["matchLabels"]?[PodTemplates.hashLabel] = .string(hash)
            let desired = PodTemplates.clampedCount(deployment["spec"]?["replicas"]?.int ?? 1)
            var annotations: [(key: String, value: JSONValue)] = [
                (Self.revisionAnnotation, .string(String(revision))),
                ("deployment.kubernetes.io/desired-replicas", .string(String(desired))),
                ("deployment.kubernetes.io/max-replicas", .string(String(desired + 1))),
            ]
            if let cause = deployment["metadata"]?["annotations"]?[Self.changeCauseAnnotation] { annotations.append((Self.changeCauseAnnotation, cause)) }
            let set: JSONValue = .object([
                ("apiVersion", .string("apps/v1")), ("kind", .string("ReplicaSet")),
                ("metadata", .object([("name", .string("\(deployment.name)-\(hash)")), ("namespace", .string(deployment.namespace)),
                                      ("labels", podTemplate["metadata"]?["labels"] ?? .object([])), ("annotations", .object(annotations)),
                                      ("ownerReferences", .array([OwnerReferences.controllerReference(to: deployment)]))])),
                ("spec", .object([("replicas", .int(replicas)), ("minReadySeconds", .int(deployment["spec"]?["minReadySeconds"]?.int ?? 0)),
                                  ("selector", selector), ("template", podTemplate)])),
            ])
            do {
                let created = try writer.create("replicasets.apps", set)
                writer.event(deployment, reason: "ScalingReplicaSet", message: "Scaled up replica set \(created.name) from 0 to \(replicas)",
                             component: "deployment-controller")
                return created
            } catch let error as APIError where error.code == 409 {
                // A ReplicaSet of that name with another template: count the collision and hash again, as Kubernetes does.
                collisions += 1
                let count = collisions
                try writer.modify("deployments.apps", namespace: deployment.namespace, name: deployment.name) { current in
                    var updated = current
                    if updated["status"] == nil { updated["status"] = .object([]) }
                    updated["status"]?["collisionCount"] = .int(count)
                    return updated
                }
            }
        }
        return nil
    }

    private func scale(_ set: JSONValue, to replicas: Int, _ deployment: JSONValue, annotations: [(String, String)] = []) throws {
        let before = set["spec"]?["replicas"]?.int ?? 0
        try writer.modify("replicasets.apps", namespace: set.namespace, name: set.name) { current in
            var updated = current
            if updated["spec"]?["replicas"]?.int != replicas {
                updated["spec"]?["replicas"] = .int(replicas)
                updated["metadata"]?["generation"] = .int(current.generation + 1)
            }
            for (key, value) in annotations {
                if updated["metadata"]?["annotations"] == nil { updated["metadata"]?["annotations"] = .object([]) }
                updated["metadata"]?["annotations"]?[key] = .string(value)
            }
            return updated
        }
        if before != replicas {
            writer.event(deployment, reason: "ScalingReplicaSet",
                         message: "Scaled \(replicas > before ? "up" : "down") replica set \(set.name) from \(before) to \(replicas)", component: "deployment-controller")
        }
    }

    /// Old ReplicaSets scaled to zero beyond revisionHistoryLimit are deleted, oldest first.
    private func trimHistory(_ deployment: JSONValue, oldSets: [JSONValue], podsOf: (JSONValue) -> [JSONValue]) throws {
        let limit = deployment["spec"]?["revisionHistoryLimit"]?.int ?? 10
        let idle = oldSets.filter { ($0["spec"]?["replicas"]?.int ?? 0) == 0 && podsOf($0).isEmpty }
        guard idle.count > limit else { return }
        for set in idle.prefix(idle.count - limit) { try writer.delete("replicasets.apps", namespace: set.namespace, name: set.name) }
    }

    static func status(_ deployment: JSONValue, newSet: JSONValue?, sets: [JSONValue], podsOf: (JSONValue) -> [JSONValue],
                       available: (JSONValue) -> Int, unavailableAllowed: Int, createdNew: Bool, now: Date) -> JSONValue {
        let replicas = max(0, deployment["spec"]?["replicas"]?.int ?? 1)
        let all = sets.flatMap(podsOf)
        let updated = newSet.map { podsOf($0).count } ?? 0
        let ready = all.filter(PodTemplates.isReady).count
        let availableCount = sets.reduce(0) { $0 + available($1) }
        let previous = deployment["status"]
        let stamp = Timestamps.format(now)
        let availableCondition = availableCount >= replicas - unavailableAllowed
            ? Conditions.make("Available", true, reason: "MinimumReplicasAvailable", message: "Deployment has minimum availability.", previous: previous, now: stamp, updateTime: true)
            : Conditions.make("Available", false, reason: "MinimumReplicasUnavailable", message: "Deployment does not have minimum availability.", previous: previous, now: stamp, updateTime: true)
        let name = newSet?.name ?? ""
        let complete = newSet != nil && updated == replicas && all.count == replicas && availableCount >= replicas
        let progressing: JSONValue
        if deployment["spec"]?["paused"]?.bool == true {
            progressing = Conditions.make("Progressing", false, reason: "DeploymentPaused", message: "Deployment is paused", previous: previous, now: stamp, updateTime: true)
        } else if complete {
            progressing = Conditions.make("Progressing", true, reason: "NewReplicaSetAvailable", message: "ReplicaSet \"\(name)\" has successfully progressed.",
                                          previous: previous, now: stamp, updateTime: true)
        } else {
            let old = (previous?["conditions"]?.array ?? []).first { $0["type"]?.string == "Progressing" }
            let deadline = Double(deployment["spec"]?["progressDeadlineSeconds"]?.int ?? 600)
            let since = old?["lastUpdateTime"]?.string.flatMap(Timestamps.parse)
            let countsMoved = previous?["updatedReplicas"]?.int != updated || previous?["availableReplicas"]?.int != availableCount
                || previous?["replicas"]?.int != all.count || previous?["readyReplicas"]?.int != ready
            if old?["reason"]?.string == "ProgressDeadlineExceeded" && !countsMoved {
                progressing = old!
            } else if !countsMoved, !createdNew, let since, now.timeIntervalSince(since) > deadline, old?["reason"]?.string != "NewReplicaSetAvailable" {
                progressing = Conditions.make("Progressing", false, reason: "ProgressDeadlineExceeded", message: "ReplicaSet \"\(name)\" has timed out progressing.",
                                              previous: previous, now: stamp, updateTime: true)
            } else if createdNew {
                progressing = Conditions.make("Progressing", true, reason: "NewReplicaSetCreated", message: "Created new replica set \"\(name)\"",
                                              previous: previous, now: stamp, updateTime: true)
            } else if !countsMoved, let old, old["status"]?.string == "True", old["reason"]?.string != "NewReplicaSetAvailable" {
                progressing = old
            } else {
                progressing = Conditions.make("Progressing", true, reason: "ReplicaSetUpdated", message: "ReplicaSet \"\(name)\" is progressing.",
                                              previous: previous, now: stamp, updateTime: true)
            }
        }
        var pairs: [(key: String, value: JSONValue)] = [
            ("observedGeneration", .int(deployment.generation)), ("replicas", .int(all.count)), ("updatedReplicas", .int(updated)),
            ("readyReplicas", .int(ready)), ("availableReplicas", .int(availableCount)),
        ]
        if replicas - availableCount > 0 { pairs.append(("unavailableReplicas", .int(replicas - availableCount))) }
        pairs.append(("conditions", .array([availableCondition, progressing])))
        if let collisions = previous?["collisionCount"] { pairs.append(("collisionCount", collisions)) }
        return .object(pairs)
    }
}
