import Foundation
import Manifests

/// Pods made from a workload's pod template, and what controllers read off pods.
enum PodTemplates {
    /// The label that ties a Deployment's ReplicaSet and its pods to one template.
    static let hashLabel = "pod-template-hash"

    /// The letters Kubernetes uses in generated names (no vowels, no look-alikes).
    static let safeAlphabet = Array("bcdfghjklmnpqrstvwxz2456789")

    /// A stable short hash of a template, in the shape Kubernetes writes it (`7d9f8c6b5`): FNV-1a over the
    /// template's canonical JSON, the 32-bit value's decimal digits mapped onto the safe alphabet.
    static func hash(_ template: JSONValue, collisionCount: Int = 0) -> String {
        var value: UInt32 = 2_166_136_261
        for byte in withoutEmptyValues(template).canonicalText.utf8 { value = (value ^ UInt32(byte)) &* 16_777_619 }
        if collisionCount > 0 { for byte in String(collisionCount).utf8 { value = (value ^ UInt32(byte)) &* 16_777_619 } }
        return String(String(value).utf8.map { safeAlphabet[Int($0) % safeAlphabet.count] })
    }

    /// The template without the hash label and without empty values (what two ReplicaSets are compared by: a
    /// template kubectl copies back on `rollout undo` carries `creationTimestamp: null`).
    static func withoutHash(_ template: JSONValue?) -> JSONValue {
        var copy = template ?? .object([])
        copy["metadata"]?["labels"]?[hashLabel] = nil
        return withoutEmptyValues(copy)
    }

    /// Drops nulls and empty objects and lists, at every depth.
    static func withoutEmptyValues(_ value: JSONValue) -> JSONValue {
        switch value {
        case .object(let pairs):
            return .object(pairs.compactMap { pair in
                let kept = withoutEmptyValues(pair.value)
                switch kept {
                case .null: return nil
                case .object(let inner) where inner.isEmpty: return nil
                case .array(let inner) where inner.isEmpty: return nil
                default: return (pair.key, kept)
                }
            })
        case .array(let items):
            return .array(items.map(withoutEmptyValues))
        default:
            return value
        }
    }

    /// A pod for `owner` from `template`: its labels and annotations (plus `extraLabels`), spec, and a controller
    /// reference. `name` fixes the name; without it the API generates one after `OWNER-`.
    static func pod(from template: JSONValue, owner: JSONValue, name: String? = nil, generatePrefix: String? = nil,
                    extraLabels: [(String, String)] = [], hostname: String? = nil) -> JSONValue {
        var labels = template["metadata"]?["labels"] ?? .object([])
        if labels.isNull { labels = .object([]) }
        for (key, value) in extraLabels { labels[key] = .string(value) }
        var metadata: [(key: String, value: JSONValue)] = [("namespace", .string(owner.namespace))]
        if let name { metadata.append(("name", .string(name))) } else { metadata.append(("generateName", .string(generatePrefix ?? "\(owner.name)-"))) }
        metadata.append(("labels", labels))
        if let annotations = template["metadata"]?["annotations"], !annotations.isNull { metadata.append(("annotations", annotations)) }
        metadata.append(("ownerReferences", .array([OwnerReferences.controllerReference(to: owner)])))
        var spec = template["spec"] ?? .object([])
        if let hostname, spec["hostname"] == nil { spec["hostname"] = .string(hostname) }
        // There is one node: the controllers' pods are bound to it as they are made (bare pods go through NodeScheduler).
        if spec["nodeName"] == nil { spec["nodeName"] = .string(LocalNode.name) }
        return .object([("apiVersion", .string("v1")), ("kind", .string("Pod")), ("metadata", .object(metadata)), ("spec", spec)])
    }

    /// A pod counts while it is not being deleted and has not finished.
    static func isActive(_ pod: JSONValue) -> Bool {
        let phase = pod["status"]?["phase"]?.string
        return !pod.isBeingDeleted && phase != "Succeeded" && phase != "Failed"
    }

    static func isReady(_ pod: JSONValue) -> Bool { Conditions.isTrue(pod, "Ready") }

    /// Ready for at least `minReadySeconds`.
    static func isAvailable(_ pod: JSONValue, minReadySeconds: Int, now: Date) -> Bool {
        guard isReady(pod) else { return false }
        guard minReadySeconds > 0 else { return true }
        let since = (pod["status"]?["conditions"]?.array ?? []).first { $0["type"]?.string == "Ready" }?["lastTransitionTime"]?.string
        guard let since, let date = Timestamps.parse(since) else { return false }
        return now.timeIntervalSince(date) >= Double(minReadySeconds)
    }

    /// Whether a label selector (matchLabels, matchExpressions) selects a pod; an empty or missing one selects nothing.
    static func selects(_ selector: JSONValue?, _ object: JSONValue) -> Bool {
        guard let selector, !selector.isNull,
              !(selector["matchLabels"]?.object ?? []).isEmpty || !(selector["matchExpressions"]?.array ?? []).isEmpty else { return false }
        return BuiltinRules.matches(selector, object.labelMap)
    }

    /// An int-or-percent value (maxSurge, maxUnavailable) of `total`, rounded up or down, within 0...Int32.max
    /// (the fields are int32 in Kubernetes) so that sums with replica counts cannot overflow. A percent is digits and `%`.
    static func scaled(_ value: JSONValue?, of total: Int, roundUp: Bool, default fallback: Int) -> Int {
        guard let value else { return fallback }
        if let number = value.int { return clampedCount(number) }
        guard let text = value.string, text.hasSuffix("%"), text.count > 1, text.dropLast().allSatisfy({ ("0"..."9").contains($0) }),
              let percent = Double(text.dropLast()) else { return fallback }
        let exact = Double(clampedCount(total)) * percent / 100
        return Int(min(Double(Int32.max), roundUp ? exact.rounded(.up) : exact.rounded(.down)))
    }

    /// A user-given count (replicas, surge) held to 0...Int32.max, the range Kubernetes' int32 fields allow.
    static func clampedCount(_ number: Int) -> Int { min(Int(Int32.max), max(0, number)) }
}
