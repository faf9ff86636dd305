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

    /// A policy's `selector`: the workload selector's rules, label values of at most 63 characters (as the
    /// CRDs say), and Istio's warning for a selector without labels (it selects every workload).
    static let policySelector = ObjectType("WorkloadSelector", ["matchLabels": .map(.string(maxLength: 63))], rules: workloadSelector.rules + [
        ObjectRule { node, path in
            guard (node["matchLabels"]?.pairs ?? []).isEmpty else { return [] }
            return [ValidationProblem(.warning, path: path, location: node.location,
                                      message: "workload selector specified without labels: it selects every workload in the namespace")]
        },
    ])

    /// The kinds a policy's targetRef may name (Istio's webhook): a Service, a ServiceEntry, a Gateway API Gateway or GatewayClass.
    static let policyTargetKinds: [(group: String, kind: String)] = [
        ("", "Service"), ("networking.istio.io", "ServiceEntry"),
        ("gateway.networking.k8s.io", "Gateway"), ("gateway.networking.k8s.io", "GatewayClass"),
    ]

    /// A policy's target reference: the CRD's rules, and one of the kinds Istio can attach a policy to.
    static let policyTargetReference = ObjectType("PolicyTargetReference", targetReference.fields, required: targetReference.required,
                                                  rules: targetReference.rules + [
        ObjectRule { reference, path in
            guard let kindNode = reference["kind"], let kind = kindNode.scalarText else { return [] }
            var group = reference["group"]?.scalarText ?? ""
            if group == "core" { group = "" }
            guard !policyTargetKinds.contains(where: { $0.group == group && $0.kind == kind }) else { return [] }
            let allowed = policyTargetKinds.map { $0.group.isEmpty ? $0.kind : "\($0.group)/\($0.kind)" }.joined(separator: ", ")
            return [problem(kindNode, path + [.key("kind")],
                            "targetRef must be to one of \(allowed), but was \(group.isEmpty ? kind : "\(group)/\(kind)")")]
        },
    ])

    /// At most one of `selector`, `targetRef` and `targetRefs`.
    static let oneTargeting = ObjectRule.require("only one of targetRefs or selector can be set") { spec in
        ["selector", "targetRef", "targetRefs"].filter { spec[$0] != nil && !(spec[$0]!.isNull) }.count <= 1
    }

    /// The fields that pick the workloads a policy applies to.
    static var targeting: [String: SchemaType] {
        ["selector": .object(policySelector), "targetRef": .object(policyTargetReference),
         "targetRefs": .list(.object(policyTargetReference), maxItems: 16)]
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
