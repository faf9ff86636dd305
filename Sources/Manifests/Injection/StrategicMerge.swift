/// Kubernetes' strategic merge patch for Pods, as the injector applies a rendered template to a pod:
/// mappings merge key by key, `null` deletes, lists with a merge key (containers by name, ports by
/// containerPort, ...) merge item by item, and other lists are replaced.
public enum StrategicMerge {
    /// The merge key of each list field in a Pod, by the field's path of keys (list indexes dropped).
    static func mergeKey(for path: [String]) -> String? {
        guard let field = path.last else { return nil }
        let parent = path.dropLast().last
        switch field {
        case "containers", "initContainers", "ephemeralContainers", "volumes", "imagePullSecrets", "env":
            return "name"
        case "ports" where parent == "containers" || parent == "initContainers" || parent == "ephemeralContainers":
            return "containerPort"
        case "volumeMounts":
            return "mountPath"
        case "volumeDevices":
            return "devicePath"
        case "hostAliases":
            return "ip"
        case "topologySpreadConstraints":
            return "topologyKey"
        case "resourceClaims", "schedulingGates":
            return "name"
        default:
            return nil
        }
    }

    /// The patch applied to the original.
    public static func apply(_ patch: YAMLNode, to original: YAMLNode) -> YAMLNode {
        merge(original, patch, path: [])
    }

    private static func merge(_ original: YAMLNode, _ patch: YAMLNode, path: [String]) -> YAMLNode {
        switch (original.content, patch.content) {
        case (.mapping(let base), .mapping(let changes)):
            var result = base
            for change in changes {
                guard let key = change.key.scalarText else { continue }
                let index = result.firstIndex { $0.key.scalarText == key }
                if change.value.isNull {
                    if let index { result.remove(at: index) }
                    continue
                }
                if let index {
                    result[index].value = merge(result[index].value, change.value, path: path + [key])
                } else {
                    result.append(YAMLPair(key: change.key, value: removingNulls(change.value)))
                }
            }
            return YAMLNode(.mapping(result), location: original.location)
        case (.sequence(let base), .sequence(let changes)):
            guard let key = mergeKey(for: path) else { return removingNulls(patch) }
            return YAMLNode(.sequence(mergeList(base, changes, key: key, path: path)), location: original.location)
        default:
            return removingNulls(patch)
        }
    }

    /// Merges list items by key, then orders them as Kubernetes does: patch items in patch order and
    /// items only in the original in original order, interleaved so that items both lists know keep
    /// their original relative order.
    private static func mergeList(_ base: [YAMLNode], _ changes: [YAMLNode], key: String, path: [String]) -> [YAMLNode] {
        func keyOf(_ node: YAMLNode) -> String? { node[key]?.scalarText }
        var merged = base
        for change in changes {
            if let name = keyOf(change), let index = merged.firstIndex(where: { keyOf($0) == name }) {
                merged[index] = merge(merged[index], change, path: path)
            } else {
                merged.append(removingNulls(change))
            }
        }
        let patchKeys = changes.compactMap(keyOf)
        let originalKeys = base.compactMap(keyOf)
        // Items named by the patch, in patch order; the rest in original order.
        var patchItems: [YAMLNode] = []
        for name in patchKeys {
            if let item = merged.first(where: { keyOf($0) == name }), !patchItems.contains(where: { keyOf($0) == name }) {
                patchItems.append(item)
            }
        }
        let serverOnly = merged.filter { item in keyOf(item).map { !patchKeys.contains($0) } ?? true }
        // Interleave: take the server-only item first only when both are in the original and it came first.
        var result: [YAMLNode] = []
        var left = serverOnly[...], right = patchItems[...]
        while let l = left.first, let r = right.first {
            if let li = keyOf(l).flatMap({ originalKeys.firstIndex(of: $0) }),
               let ri = keyOf(r).flatMap({ originalKeys.firstIndex(of: $0) }), li < ri {
                result.append(l)
                left = left.dropFirst()
            } else {
                result.append(r)
                right = right.dropFirst()
            }
        }
        return result + left + right
    }

    /// A patch value added where the original had nothing: its `null`s mean nothing to delete.
    private static func removingNulls(_ node: YAMLNode) -> YAMLNode {
        switch node.content {
        case .mapping(let pairs):
            return YAMLNode(.mapping(pairs.filter { !$0.value.isNull }.map { YAMLPair(key: $0.key, value: removingNulls($0.value)) }),
                            location: node.location)
        case .sequence(let items):
            return YAMLNode(.sequence(items.map(removingNulls)), location: node.location)
        case .scalar:
            return node
        }
    }
}
