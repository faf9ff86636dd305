import Manifests

/// How the server treats fields an object's schema does not know, as the `fieldValidation` query parameter asks:
/// Strict refuses the request (400), Warn stores the object without them and says so in a `Warning` header,
/// Ignore drops them silently. kube-apiserver's default is Warn.
enum FieldValidation: String, Sendable {
    case strict = "Strict"
    case warn = "Warn"
    case ignore = "Ignore"

    init(query: String?) throws(APIError) {
        guard let query, !query.isEmpty else { self = .warn; return }
        guard let mode = FieldValidation(rawValue: query) else {
            throw APIError.badRequest("fieldValidation must be one of Strict, Warn or Ignore, not \"\(query)\"")
        }
        self = mode
    }

    /// `object` checked against `schema`: unknown fields dropped (or refused when Strict, or reported through
    /// `warnings` when Warn); wrong types, missing required fields and values outside an enum refused with 422.
    /// With `unknownFieldsOnly`, other findings are left to another validator (Istio's kinds have meshctl's own).
    func check(_ object: JSONValue, _ schema: FieldSchema, type: ResourceType, version: String, name: String,
               warnings: inout [String], unknownFieldsOnly: Bool = false) throws(APIError) -> JSONValue {
        var findings = SchemaFindings()
        let pruned = SchemaCheck.check(object, schema, findings: &findings)
        // Server-owned and identifying fields are checked elsewhere; an object's own kind can always be named.
        let unknown = findings.unknownFields
        if !unknown.isEmpty {
            let listed = unknown.map { "unknown field \"\($0)\"" }
            switch self {
            case .strict:
                throw APIError.badRequest("\(type.kind) in version \"\(version)\" cannot be handled as a \(type.kind): strict decoding error: "
                                          + listed.joined(separator: ", "))
            case .warn: warnings += listed
            case .ignore: break
            }
        }
        if !findings.invalid.isEmpty && !unknownFieldsOnly {
            throw APIError.invalid(type, name, causes: findings.invalid)
        }
        return pruned
    }
}
