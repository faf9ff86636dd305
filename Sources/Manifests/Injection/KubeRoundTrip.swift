/// What a Kubernetes object looks like after Go decodes it into its API type and encodes it again, as
/// kube-inject's output does: `null`s and empty optional fields disappear, and structs that are always
/// written appear even when empty (`resources: {}`, `status: {}`, `strategy: {}`).
public enum KubeRoundTrip {
    /// Workload kinds and the empty status Go writes for each.
    static let emptyStatus: [String: YAMLNode] = [
        "Deployment": .mapping([]),
        "Job": .mapping([]),
        "CronJob": .mapping([]),
        "Pod": .mapping([]),
        "DeploymentConfig": .mapping([
            ("availableReplicas", .int(0)), ("latestVersion", .int(0)), ("observedGeneration", .int(0)),
            ("replicas", .int(0)), ("unavailableReplicas", .int(0)), ("updatedReplicas", .int(0)),
        ]),
        "StatefulSet": .mapping([("availableReplicas", .int(0)), ("replicas", .int(0))]),
        "DaemonSet": .mapping([
            ("currentNumberScheduled", .int(0)), ("desiredNumberScheduled", .int(0)),
            ("numberMisscheduled", .int(0)), ("numberReady", .int(0)),
        ]),
        "ReplicaSet": .mapping([("replicas", .int(0))]),
        "ReplicationController": .mapping([("replicas", .int(0))]),
    ]

    /// Map-typed fields (`map[string]string`): dropped when empty.
    static let mapFields: Set<String> = [
        "labels", "annotations", "nodeSelector", "matchLabels", "limits", "requests", "overhead", "claims",
    ]

    /// Integer fields written only when non-zero.
    static let omitZeroIntegers: Set<String> = [
        "initialDelaySeconds", "timeoutSeconds", "periodSeconds", "successThreshold", "failureThreshold",
        "hostPort", "minReadySeconds",
    ]

    /// Boolean fields written only when true.
    static let omitFalseBooleans: Set<String> = [
        "stdin", "stdinOnce", "tty", "hostNetwork", "hostPID", "hostIPC", "readOnly", "paused",
    ]

    /// String fields written even when empty, by the list or object they belong to.
    static func keepsEmptyString(_ key: String, parent: String?) -> Bool {
        switch key {
        case "name", "mountPath", "fieldPath", "resource", "key", "devicePath", "ip", "topologyKey": return true
        case "path": return parent == "items"
        case "value": return parent == "httpHeaders"
        case "serviceName": return true
        default: return false
        }
    }

    /// The object as Go would write it back. `kind` is the top-level kind, for the status it gets.
    public static func normalize(_ object: YAMLNode, kind: String) -> YAMLNode {
        var node = clean(object, key: nil, parent: nil)
        guard node.pairs != nil else { return node }
        if node["metadata"] == nil { node["metadata"] = .mapping([]) }
        if let status = emptyStatus[kind], node["status"] == nil { node["status"] = status }
        if var spec = node["spec"], spec.pairs != nil {
            switch kind {
            case "Deployment": if spec["strategy"] == nil { spec["strategy"] = .mapping([]) }
            case "StatefulSet", "DaemonSet": if spec["updateStrategy"] == nil { spec["updateStrategy"] = .mapping([]) }
            case "DeploymentConfig":
                var strategy = spec["strategy"] ?? .mapping([])
                if strategy["resources"] == nil { strategy["resources"] = .mapping([]) }
                spec["strategy"] = strategy
                if spec["triggers"] == nil { spec["triggers"] = .null }
                if spec["replicas"] == nil { spec["replicas"] = .int(0) }
                if spec["test"] == nil { spec["test"] = .bool(false) }
            default: break
            }
            node["spec"] = spec
        }
        return node
    }

    /// The pod template parts Go always writes: `metadata: {}` and containers' `resources: {}`.
    public static func normalizePodTemplate(_ template: YAMLNode) -> YAMLNode {
        var node = template
        if node["metadata"] == nil { node["metadata"] = .mapping([]) }
        if var spec = node["spec"] {
            for field in ["containers", "initContainers"] {
                guard let containers = spec[field]?.items else { continue }
                spec[field] = .sequence(containers.map { container in
                    var copy = container
                    if copy.pairs != nil, copy["resources"] == nil { copy["resources"] = .mapping([]) }
                    return copy
                })
            }
            node["spec"] = spec
        }
        return node
    }

    private static func clean(_ node: YAMLNode, key: String?, parent: String?) -> YAMLNode {
        switch node.content {
        case .mapping(let pairs):
            var kept: [YAMLPair] = []
            // The values of a map (labels, annotations) are kept as they are, "" included.
            if let key, mapFields.contains(key) { return node }
            for pair in pairs {
                guard let name = pair.key.scalarText else { continue }
                let value = clean(pair.value, key: name, parent: key)
                if dropped(value, key: name, parent: key) { continue }
                kept.append(YAMLPair(key: pair.key, value: value))
            }
            return YAMLNode(.mapping(kept), location: node.location)
        case .sequence(let items):
            return YAMLNode(.sequence(items.map { clean($0, key: key, parent: parent) }), location: node.location)
        case .scalar:
            return node
        }
    }

    private static func dropped(_ value: YAMLNode, key: String, parent: String?) -> Bool {
        switch value.content {
        case .scalar(let scalar):
            switch scalar.kind {
            case .null: return key != "triggers"
            case .string: return scalar.text.isEmpty && !keepsEmptyString(key, parent: parent)
            case .int: return omitZeroIntegers.contains(key) && value.int == 0
            case .bool: return omitFalseBooleans.contains(key) && value.bool == false
            case .float: return false
            }
        case .sequence(let items):
            return items.isEmpty && key != "containers"
        case .mapping(let pairs):
            return pairs.isEmpty && mapFields.contains(key)
        }
    }
}
