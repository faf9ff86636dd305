/// A Kubernetes label selector (`matchLabels` and `matchExpressions`), as webhooks and workloads use them.
public struct LabelSelector: Sendable {
    public var matchLabels: [String: String]
    /// (key, operator, values): In, NotIn, Exists, DoesNotExist.
    public var expressions: [(key: String, op: String, values: [String])]

    /// Reads a selector node; nil or an empty node selects everything.
    public init(_ node: YAMLNode?) {
        matchLabels = AnalyzedResource.stringMap(node?["matchLabels"])
        expressions = (node?["matchExpressions"]?.items ?? []).map { expression in
            (expression["key"]?.scalarText ?? "", expression["operator"]?.scalarText ?? "",
             (expression["values"]?.items ?? []).compactMap(\.scalarText))
        }
    }

    /// `k1=v1,k2=v2`, sorted by key: how messages print a label map.
    public static func text(_ labels: [String: String]) -> String {
        labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
    }

    /// Whether `labels` satisfy every requirement; an unknown operator matches nothing, as in Kubernetes.
    public func matches(_ labels: [String: String]) -> Bool {
        guard matchLabels.allSatisfy({ labels[$0.key] == $0.value }) else { return false }
        return expressions.allSatisfy { expression in
            switch expression.op {
            case "In": return labels[expression.key].map(expression.values.contains) ?? false
            case "NotIn": return !(labels[expression.key].map(expression.values.contains) ?? false)
            case "Exists": return labels[expression.key] != nil
            case "DoesNotExist": return labels[expression.key] == nil
            default: return false
            }
        }
    }
}
