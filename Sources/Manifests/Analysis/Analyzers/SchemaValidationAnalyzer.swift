/// Runs `meshctl validate`'s checks on one kind and reports its errors as IST0106; for VirtualServices
/// also the routes and matches that can never apply (IST0130, IST0131), as Istio's schema analyzer does.
struct SchemaValidationAnalyzer: Analyzer {
    let kind: String
    var name: String { "schema.ValidationAnalyzer.\(kind)" }
    var summary: String { "Runs schema validation on \(kind) resources" }

    /// One analyzer per kind meshctl validates, as Istio registers them.
    static let perKind: [any Analyzer] = ResourceValidator.kinds.map { SchemaValidationAnalyzer(kind: $0.name) }

    func analyze(_ input: AnalysisInput) -> [AnalysisMessage] {
        let group = ResourceValidator.kinds.first { $0.name == kind }?.group
        var messages: [AnalysisMessage] = []
        for resource in input.resources(kind, group: group) {
            if kind == "VirtualService" { messages += RouteReachability.messages(resource) }
            guard case .checked(_, let problems) = ResourceValidator.validate(resource.node) else { continue }
            for problem in problems where problem.severity == .error {
                messages.append(.schemaValidationError(resource, fieldPath: problem.path.fieldPath, problem: problem.message,
                                                       location: problem.location))
            }
        }
        return messages
    }
}
