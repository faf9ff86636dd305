/// Istio's checks that need more of the resource than its spec: its name, namespace or labels.
extension NetworkingRules {
    /// A rule on a whole resource document (apiVersion, kind, metadata, spec).
    typealias ResourceRule = @Sendable (_ document: YAMLNode) -> [ValidationProblem]

    private static func problem(_ node: YAMLNode, _ path: [YAMLPathComponent], _ message: String) -> ValidationProblem {
        ValidationProblem(.error, path: path, location: node.location, message: message)
    }

    /// A Gateway's name is a DNS label.
    static let gatewayName: ResourceRule = { document in
        guard let node = document["metadata"]?["name"], let name = node.scalarText, !name.isEmpty, !IstioNames.isDNSLabel(name) else { return [] }
        return [problem(node, [.key("metadata"), .key("name")], "invalid gateway name \"\(name)\": a Gateway's name must be a DNS label (no dots)")]
    }

    /// `.` and the resource's own namespace are the same exportTo entry.
    static let exportToOwnNamespace: ResourceRule = { document in
        guard let namespace = document["metadata"]?["namespace"]?.scalarText, let items = document["spec"]?["exportTo"]?.items else { return [] }
        let values = items.map { $0.scalarText ?? "" }
        guard values.contains("."), let index = values.firstIndex(of: namespace) else { return [] }
        return [problem(items[index], [.key("spec"), .key("exportTo"), .index(index)],
                        "duplicate entries in exportTo: . and current namespace \(namespace)")]
    }

    /// A DestinationRule with a workload selector is exported to its own namespace only; configmap:// credentials are
    /// read from that namespace.
    static let destinationRuleNamespace: ResourceRule = { document in
        guard let namespace = document["metadata"]?["namespace"]?.scalarText, let spec = document["spec"] else { return [] }
        var problems: [ValidationProblem] = []
        if spec["workloadSelector"] != nil, let items = spec["exportTo"]?.items,
           let index = items.firstIndex(where: { !["", ".", "*", "~", namespace].contains($0.scalarText ?? "") }) {
            problems.append(problem(items[index], [.key("spec"), .key("exportTo"), .index(index)],
                                    "destination rule with workload selector cannot have exportTo beyond current namespace \(namespace)"))
        }
        var policies: [(YAMLNode, [YAMLPathComponent])] = []
        func add(_ policy: YAMLNode?, _ path: [YAMLPathComponent]) {
            guard let policy else { return }
            policies.append((policy, path))
            for (index, port) in (policy["portLevelSettings"]?.items ?? []).enumerated() { policies.append((port, path + [.key("portLevelSettings"), .index(index)])) }
        }
        add(spec["trafficPolicy"], [.key("spec"), .key("trafficPolicy")])
        for (index, subset) in (spec["subsets"]?.items ?? []).enumerated() {
            add(subset["trafficPolicy"], [.key("spec"), .key("subsets"), .index(index), .key("trafficPolicy")])
        }
        for (policy, path) in policies {
            guard let credential = policy["tls"]?["credentialName"], let text = credential.scalarText, text.hasPrefix("configmap://") else { continue }
            let owner = text.dropFirst("configmap://".count).split(separator: "/", omittingEmptySubsequences: false).first.map(String.init) ?? ""
            if !owner.isEmpty && owner != namespace {
                problems.append(problem(credential, path + [.key("tls"), .key("credentialName")],
                                        "invalid configmap:// credentialName: namespace must match the configuration namespace \"\(namespace)\""))
            }
        }
        return problems
    }

    /// MESH_INTERNAL DYNAMIC_DNS ServiceEntries cannot go through a waypoint (`istio.io/use-waypoint`).
    static let serviceEntryWaypoint: ResourceRule = { document in
        guard let spec = document["spec"], spec["resolution"]?.scalarText == "DYNAMIC_DNS", spec["location"]?.scalarText == "MESH_INTERNAL",
              let waypoint = document["metadata"]?["labels"]?["istio.io/use-waypoint"]?.scalarText,
              !waypoint.isEmpty, waypoint.lowercased() != "none" else { return [] }
        return [problem(spec["location"]!, [.key("spec"), .key("location")],
                        "location MESH_INTERNAL with resolution type DYNAMIC_DNS is not supported when using waypoints (label istio.io/use-waypoint)")]
    }
}
