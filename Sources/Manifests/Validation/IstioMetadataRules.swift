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
            }
            if let reserved = reserved.first(where: { $0.name == name }) {
                problems.append(ValidationProblem(.error, path: path, location: pair.key.location, message: reserved.message))
            }
        }
        return problems
    }
}
