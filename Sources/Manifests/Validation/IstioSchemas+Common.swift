/// Types many Istio resources share: selectors, policy target references, string matches.
enum CommonSchemas {
    static func problem(_ node: YAMLNode, _ path: [YAMLPathComponent], _ message: String) -> ValidationProblem {
        ValidationProblem(.error, path: path, location: node.location, message: message)
    }

    /// Rules on a label map: keys not empty, no `*` in keys or values.
    static func labelRules(_ map: YAMLNode?, _ path: [YAMLPathComponent], keyWildcard: String, valueWildcard: String) -> [ValidationProblem] {
        var problems: [ValidationProblem] = []
        for pair in map?.pairs ?? [] {
            let key = pair.key.scalarText ?? ""
            if key.isEmpty { problems.append(problem(pair.key, path + [.key(key)], "key must not be empty")) }
            if key.contains("*") { problems.append(problem(pair.key, path + [.key(key)], keyWildcard)) }
            if (pair.value.scalarText ?? "").contains("*") { problems.append(problem(pair.value, path + [.key(key)], valueWildcard)) }
        }
        return problems
    }

    static let workloadSelector = ObjectType("WorkloadSelector", ["matchLabels": .map(.string)], rules: [
        ObjectRule { node, path in
            labelRules(node["matchLabels"], path + [.key("matchLabels")], keyWildcard: "wildcard not allowed in label key match",
                       valueWildcard: "wildcard not allowed in label value match")
        },
    ])

    static let targetReference = ObjectType("PolicyTargetReference", [
        "group": .string(minLength: 0, maxLength: 253, pattern: #"^$|^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"#),
        "kind": .string(minLength: 1, maxLength: 63, pattern: #"^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$"#),
        "name": .string(minLength: 1, maxLength: 253),
        "namespace": .string,
    ], required: ["kind", "name"], rules: [
        .require("cross namespace referencing is not currently supported", at: "namespace") { ($0["namespace"]?.scalarText ?? "").isEmpty },
    ])

    /// At most one of `selector`, `targetRef` and `targetRefs`.
    static let oneTargeting = ObjectRule.require("only one of targetRefs or selector can be set") { spec in
        ["selector", "targetRef", "targetRefs"].filter { spec[$0] != nil && !(spec[$0]!.isNull) }.count <= 1
    }

    /// The fields that pick the workloads a policy applies to.
    static var targeting: [String: SchemaType] {
        ["selector": .object(workloadSelector), "targetRef": .object(targetReference),
         "targetRefs": .list(.object(targetReference), maxItems: 16)]
    }

    static let stringMatch = SchemaType.object(ObjectType("StringMatch", [
        "exact": .string, "prefix": .string, "regex": .string,
    ], rules: [oneOf(["exact", "prefix", "regex"])]))

    /// At most one of the named fields (a protobuf oneof).
    static func oneOf(_ fields: [String]) -> ObjectRule {
        .require("only one of \(fields.joined(separator: ", ")) may be set") { node in fields.filter { node[$0] != nil }.count <= 1 }
    }

    /// The items whose key (a name, a port number) an earlier item already has, with their index and key.
    static func repeats(in items: [YAMLNode], key: (YAMLNode) -> String?) -> [(index: Int, item: YAMLNode, key: String)] {
        var seen: Set<String> = []
        return items.enumerated().compactMap { index, item in
            guard let value = key(item), !seen.insert(value).inserted else { return nil }
            return (index, item, value)
        }
    }

    /// A port number field's rule, in Istio's words.
    static func portRule(_ field: String) -> ObjectRule {
        ObjectRule { node, path in
            guard let value = node[field], let number = value.int else { return [] }
            return (1...65535).contains(number) ? [] : [problem(value, path + [.key(field)], "port must be between 1-65535")]
        }
    }

    static var port: SchemaType { .integer }
}
