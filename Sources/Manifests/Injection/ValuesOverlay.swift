/// Changes to Helm-style values: overlays from IstioOperator files and `--set key=value` flags.
public enum ValuesOverlay {
    /// Helm's merge of an overlay into values: mappings merge, `null` deletes, the rest replaces.
    public static func merge(_ base: YAMLNode, _ overlay: YAMLNode) -> YAMLNode {
        guard var result = base.pairs, let changes = overlay.pairs else { return overlay }
        for change in changes {
            let index = result.firstIndex { $0.key.scalarText == change.key.scalarText }
            if change.value.isNull {
                if let index { result.remove(at: index) }
            } else if let index {
                result[index].value = merge(result[index].value, change.value)
            } else {
                result.append(YAMLPair(key: change.key, value: merge(.mapping([]), change.value)))
            }
        }
        return .mapping(result)
    }

    /// The value at a path of keys replaced, creating mappings on the way.
    public static func setting(_ node: YAMLNode, _ path: [String], _ value: YAMLNode) -> YAMLNode {
        guard let first = path.first else { return value }
        var copy = node.pairs == nil ? YAMLNode.mapping([]) : node
        copy[first] = setting(copy[first] ?? .mapping([]), Array(path.dropFirst()), value)
        return copy
    }

    /// Applies `key=value` as `istioctl install --set` does for values: `values.` is optional, the value is
    /// read as a YAML scalar (`true`, `15020`, `proxyv2`), and `components.cni.enabled` switches the
    /// injector's CNI mode.
    /// - Returns: the changed values, or nil when the text has no `=`.
    public static func applying(_ assignment: String, to values: YAMLNode) -> YAMLNode? {
        guard let equals = assignment.firstIndex(of: "=") else { return nil }
        let path = String(assignment[..<equals]), text = String(assignment[assignment.index(after: equals)...])
        let value = YAMLNode.scalar(YAMLScalar(plain: text))
        if path == "components.cni.enabled" { return setting(values, ["pilot", "cni", "enabled"], value) }
        var keys = (path.hasPrefix("values.") ? String(path.dropFirst(7)) : path).split(separator: ".").map(String.init)
        guard !keys.isEmpty else { return nil }
        // Chart values under "cni" live under "pilot.cni" in the injector's values.
        if keys.first == "cni" { keys.insert("pilot", at: 0) }
        return setting(values, keys, value)
    }
}
