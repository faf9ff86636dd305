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

/// A field selector: `metadata.name=x`, `metadata.namespace!=y` (the fields every kind supports).
public struct FieldSelectorQuery: Sendable {
    let requirements: [(field: String, value: String, equal: Bool)]

    public init(parsing text: String) throws(APIError) {
        var requirements: [(String, String, Bool)] = []
        for part in text.split(separator: ",") {
            let item = String(part)
            let equal = !item.contains("!=")
            let separator = item.contains("!=") ? "!=" : item.contains("==") ? "==" : "="
            guard let range = item.range(of: separator) else { throw APIError.badRequest("invalid field selector \"\(text)\"") }
            let field = String(item[..<range.lowerBound]).trimmed
            guard ["metadata.name", "metadata.namespace"].contains(field) else {
                throw APIError.badRequest("field label not supported: \(field)")
            }
            requirements.append((field, String(item[range.upperBound...]).trimmed, equal))
        }
        self.requirements = requirements
    }

    public func matches(_ object: JSONValue) -> Bool {
        requirements.allSatisfy { requirement in
            let value = object.value(atPath: requirement.field)?.string ?? ""
            return (value == requirement.value) == requirement.equal
        }
    }
}
