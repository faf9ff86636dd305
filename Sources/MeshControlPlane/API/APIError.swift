import Foundation
import Manifests

/// A refusal the API sends as a Kubernetes `Status` object, with kubectl's reason names.
public struct APIError: Error, Sendable {
    public let code: Int
    public let reason: String
    public let message: String
    public var details: JSONValue?

    public init(_ code: Int, _ reason: String, _ message: String, details: JSONValue? = nil) {
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
    }

    static func notFound(_ type: ResourceType, _ name: String) -> APIError {
        APIError(404, "NotFound", "\(type.qualifiedName) \"\(name)\" not found", details: details(type, name))
    }

    /// 404 for a subresource the local control plane does not serve (`kubectl debug` asks for pods/ephemeralcontainers).
    static func noSubresource(_ type: ResourceType, _ name: String, _ subresource: String) -> APIError {
        let reason = type.plural == "pods" ? ": its containers are local processes, with no ephemeral containers to debug with" : ""
        return APIError(404, "NotFound", "\(type.qualifiedName) \"\(name)\" has no \(subresource) subresource in meshctl's local control plane\(reason)",
                        details: details(type, name))
    }

    static func alreadyExists(_ type: ResourceType, _ name: String) -> APIError {
        APIError(409, "AlreadyExists", "\(type.qualifiedName) \"\(name)\" already exists", details: details(type, name))
    }

    static func conflict(_ type: ResourceType, _ name: String) -> APIError {
        APIError(409, "Conflict", "Operation cannot be fulfilled on \(type.qualifiedName) \"\(name)\": the object has been modified; "
                 + "please apply your changes to the latest version and try again", details: details(type, name))
    }

    static func badRequest(_ message: String) -> APIError { APIError(400, "BadRequest", message) }

    static var methodNotAllowed: APIError {
        APIError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource", details: .object([]))
    }

    /// 500: the server failed (its store), with the cause.
    static func internalError(_ cause: String) -> APIError {
        APIError(500, "InternalError", "Internal error occurred: \(cause)", details: .object([("causes", .array([.object([("message", .string(cause))])]))]))
    }

    /// 422 with one cause per field, as the API server reports failed validation.
    static func invalid(_ type: ResourceType, _ name: String, causes: [(field: String, message: String)]) -> APIError {
        let summary = causes.map { "\($0.field): \($0.message)" }.joined(separator: ", ")
        var detail = details(type, name)
        detail["kind"] = .string(type.kind)  // Invalid names the kind, where NotFound names the resource
        detail["causes"] = .array(causes.map { .object([("reason", .string(causeReason($0.message))), ("message", .string($0.message)),
                                                         ("field", .string($0.field))]) })
        let qualifiedKind = type.group.isEmpty ? type.kind : "\(type.kind).\(type.group)"
        return APIError(422, "Invalid", "\(qualifiedKind) \"\(name)\" is invalid: \(summary)", details: detail)
    }

    /// A cause's reason, from how its message begins (`Required value: ...` is FieldValueRequired), as Kubernetes names them.
    private static func causeReason(_ message: String) -> String {
        let reasons = [("Required value", "FieldValueRequired"), ("Unsupported value", "FieldValueNotSupported"),
                       ("Duplicate value", "FieldValueDuplicate"), ("Forbidden", "FieldValueForbidden"), ("Too long", "FieldValueTooLong"),
                       ("Too many", "FieldValueTooMany")]
        return reasons.first { message.hasPrefix($0.0) }?.1 ?? "FieldValueInvalid"
    }

    private static func details(_ type: ResourceType, _ name: String) -> JSONValue {
        var pairs: [(key: String, value: JSONValue)] = [("name", .string(name))]
        if !type.group.isEmpty { pairs.append(("group", .string(type.group))) }
        pairs.append(("kind", .string(type.plural)))
        return .object(pairs)
    }

    /// The `Status` object.
    var status: JSONValue {
        var pairs: [(key: String, value: JSONValue)] = [
            ("kind", .string("Status")), ("apiVersion", .string("v1")), ("metadata", .object([])), ("status", .string("Failure")),
            ("message", .string(message)), ("reason", .string(reason)),
        ]
        if let details { pairs.append(("details", details)) }
        pairs.append(("code", .int(code)))
        return .object(pairs)
    }
}
