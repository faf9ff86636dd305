/// Istio's webhook checks on any Istio resource's annotations, before its kind's own rules.
enum IstioMetadataRules {
    /// Annotations that istiod sets on the resources it generates, and one that makes the webhook refuse.
    static let reserved: [(name: String, message: String)] = [
        ("internal.istio.io/webhook-always-reject", "\"internal.istio.io/webhook-always-reject\" annotation found, rejecting"),
        ("internal.istio.io/parent-namespace", "\"internal.istio.io/parent-namespace\" annotation found, this may not be set by users"),
        ("internal.istio.io/parents", "\"internal.istio.io/parents\" annotation found, this may not be set by users"),
    ]

    /// The problems of a resource's annotations; `dryRunAllowed` for the kinds that take `istio.io/dry-run`.
    static func problems(_ document: YAMLNode, dryRunAllowed: Bool) -> [ValidationProblem] {
        guard let annotations = document["metadata"]?["annotations"]?.pairs else { return [] }
        var problems: [ValidationProblem] = []
        for pair in annotations {
            let name = pair.key.scalarText ?? ""
            let path: [YAMLPathComponent] = [.key("metadata"), .key("annotations"), .key(name)]
            if name == "istio.io/dry-run" && !dryRunAllowed {
                problems.append(ValidationProblem(.error, path: path, location: pair.key.location,
                                                  message: "unsupported annotation istio.io/dry-run: only an AuthorizationPolicy can be a dry run; remove the annotation"))
            } else if name == "istio.io/dry-run", let problem = dryRunProblem(action: document["spec"]?["action"]?.scalarText ?? "ALLOW",
                                                                               value: pair.value.scalarText ?? "") {
                problems.append(ValidationProblem(.error, path: path, location: pair.value.location, message: problem))
            }
            if let reserved = reserved.first(where: { $0.name == name }) {
                problems.append(ValidationProblem(.error, path: path, location: pair.key.location, message: reserved.message))
            }
        }
        return problems
    }

    /// A dry run is for an ALLOW or DENY policy, and the annotation's value is a boolean as Go reads one.
    static func dryRunProblem(action: String, value: String) -> String? {
        if action != "ALLOW" && action != "DENY" { return "istio.io/dry-run only supports the ALLOW and DENY actions, not \(action)" }
        let booleans = ["1", "t", "T", "TRUE", "true", "True", "0", "f", "F", "FALSE", "false", "False"]
        return booleans.contains(value) ? nil : "istio.io/dry-run must be \"true\" or \"false\", not \"\(value)\""
    }
}
