import Manifests

/// A Kubernetes label selector in its text form: `app=web,tier!=db,env in (a,b),!legacy,release`.
public struct LabelSelectorQuery: Sendable, Equatable {
    public enum Requirement: Sendable, Equatable {
        case equals(String, String)
        case notEquals(String, String)
        case isIn(String, Set<String>)
        case notIn(String, Set<String>)
        case exists(String)
        case doesNotExist(String)
    }
    public let requirements: [Requirement]

    public init(parsing text: String) throws(APIError) {
        var requirements: [Requirement] = []
        for part in Self.splitTopLevel(text) {
            let item = part.trimmed
            if item.isEmpty { continue }
            if let range = item.range(of: " notin ") ?? item.range(of: " notin(") {
                requirements.append(.notIn(String(item[..<range.lowerBound]).trimmed, try Self.set(String(item[range.upperBound...]), in: text)))
            } else if let range = item.range(of: " in ") ?? item.range(of: " in(") {
                requirements.append(.isIn(String(item[..<range.lowerBound]).trimmed, try Self.set(String(item[range.upperBound...]), in: text)))
            } else if let range = item.range(of: "!=") {
                requirements.append(.notEquals(String(item[..<range.lowerBound]).trimmed, String(item[range.upperBound...]).trimmed))
            } else if let range = item.range(of: "==") ?? item.range(of: "=") {
                requirements.append(.equals(String(item[..<range.lowerBound]).trimmed, String(item[range.upperBound...]).trimmed))
            } else if item.hasPrefix("!") {
                requirements.append(.doesNotExist(String(item.dropFirst()).trimmed))
            } else {
                requirements.append(.exists(item))
            }
        }
        for requirement in requirements {
            switch requirement {
            case .equals(let key, _), .notEquals(let key, _), .isIn(let key, _), .notIn(let key, _), .exists(let key), .doesNotExist(let key):
                if key.isEmpty || key.contains(" ") { throw APIError.badRequest("unable to parse requirement: invalid label key \"\(key)\" in \"\(text)\"") }
            }
        }
        self.requirements = requirements
    }

    public func matches(_ labels: [String: String]) -> Bool {
        requirements.allSatisfy { requirement in
            switch requirement {
            case .equals(let key, let value): return labels[key] == value
            case .notEquals(let key, let value): return labels[key] != value
            case .isIn(let key, let values): return labels[key].map(values.contains) ?? false
            case .notIn(let key, let values): return !(labels[key].map(values.contains) ?? false)
            case .exists(let key): return labels[key] != nil
            case .doesNotExist(let key): return labels[key] == nil
            }
        }
    }

    /// Splits on commas outside parentheses.
    private static func splitTopLevel(_ text: String) -> [String] {
        var parts: [String] = [], current = "", depth = 0
        for character in text {
            if character == "(" { depth += 1 } else if character == ")" { depth -= 1 }
            if character == "," && depth == 0 { parts.append(current); current = "" } else { current.append(character) }
        }
        parts.append(current)
        return parts
    }

    private static func set(_ text: String, in whole: String) throws(APIError) -> Set<String> {
        let trimmed = text.trimmed
        guard trimmed.hasPrefix("("), trimmed.hasSuffix(")") else { throw APIError.badRequest("unable to parse requirement: expected (values) in \"\(whole)\"") }
        return Set(trimmed.dropFirst().dropLast().split(separator: ",").map { String($0).trimmed })
    }
}

/// A field selector: `metadata.name=x`, `metadata.namespace!=y` (the fields every kind supports), and the fields
/// kube-apiserver supports for some kinds (`involvedObject.name` on events, `status.phase` on pods, `type` on secrets).
public struct FieldSelectorQuery: Sendable {
    let requirements: [(field: String, value: String, equal: Bool)]

    /// Fields beyond metadata.name and metadata.namespace, by storage key.
    static let kindFields: [String: Set<String>] = [
        "events": ["involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid", "involvedObject.apiVersion",
                   "involvedObject.resourceVersion", "involvedObject.fieldPath", "reason", "reportingComponent", "source", "type"],
        "pods": ["spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName", "spec.hostNetwork", "status.phase",
                 "status.podIP", "status.nominatedNodeName"],
        "secrets": ["type"],
        "namespaces": ["status.phase"],
        "nodes": ["spec.unschedulable"],
        "replicasets.apps": ["status.replicas"],
        "jobs.batch": ["status.successful"],
    ]

    /// Parses a selector for objects stored under `resource` (a storage key); other fields are refused as kube-apiserver does.
    public init(parsing text: String, resource: String) throws(APIError) {
        let supported = Self.kindFields[resource, default: []].union(["metadata.name", "metadata.namespace"])
        try self.init(parsing: text, supported: supported)
    }

    public init(parsing text: String, supported: Set<String> = ["metadata.name", "metadata.namespace"]) throws(APIError) {
        var requirements: [(String, String, Bool)] = []
        for part in text.split(separator: ",") {
            let item = String(part)
            let equal = !item.contains("!=")
            let separator = item.contains("!=") ? "!=" : item.contains("==") ? "==" : "="
            guard let range = item.range(of: separator) else { throw APIError.badRequest("invalid field selector \"\(text)\"") }
            let field = String(item[..<range.lowerBound]).trimmed
            guard supported.contains(field) else {
                throw APIError.badRequest("field label not supported: \(field)")
            }
            requirements.append((field, String(item[range.upperBound...]).trimmed, equal))
        }
        self.requirements = requirements
    }

    public func matches(_ object: JSONValue) -> Bool {
        requirements.allSatisfy { requirement in
            let value: String
            switch object.value(atPath: requirement.field) {
            case .string(let text)?: value = text
            case .bool(let flag)?: value = flag ? "true" : "false"
            case .number(let text)?: value = text
            default: value = requirement.field == "spec.hostNetwork" || requirement.field == "spec.unschedulable" ? "false" : ""
            }
            return (value == requirement.value) == requirement.equal
        }
    }
}
