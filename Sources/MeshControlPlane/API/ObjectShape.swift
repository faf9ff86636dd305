import Manifests

/// What kube-apiserver refuses before validation proper: a body its decoder cannot read as the URL's kind (no object,
/// another kind or group-version, strings that are numbers), and names that are no DNS names.
enum ObjectShape {
    /// Why `object` cannot be read as a `type`, or nil when it can. Checks the fields clients read as strings.
    static func decodingProblem(_ object: JSONValue, _ type: ResourceType) -> String? {
        guard object.object != nil else { return "the body is \(describe(object)), not an object" }
        guard let kind = object["kind"]?.string, kind == type.kind else {
            return "the kind is \(object["kind"]?.serialized ?? "missing"), not \(type.kind)"
        }
        guard let apiVersion = object["apiVersion"]?.string, type.versions.contains(where: { type.apiVersion($0) == apiVersion }) else {
            return "the apiVersion is \(object["apiVersion"]?.serialized ?? "missing"); \(type.kind) is served as "
                + type.versions.map { type.apiVersion($0) }.joined(separator: ", ")
        }
        if let metadata = object["metadata"] {
            guard metadata.object != nil else { return "metadata must be an object, not \(describe(metadata))" }
            for field in ["name", "namespace", "generateName", "resourceVersion", "uid"] {
                if let value = metadata[field], value.string == nil, !value.isNull { return "metadata.\(field) must be a string, not \(describe(value))" }
            }
            for field in ["labels", "annotations"] {
                if let problem = stringMapProblem(metadata[field], "metadata.\(field)") { return problem }
            }
        }
        var stringMaps: [String] = []
        switch type.key {
        case "configmaps": stringMaps = ["data", "binaryData"]
        case "secrets": stringMaps = ["data", "stringData"]
        default: break
        }
        for field in stringMaps {
            if let problem = stringMapProblem(object[field], field) { return problem }
        }
        return nil
    }

    /// A map whose values must all be strings (null, or absent, is fine).
    private static func stringMapProblem(_ value: JSONValue?, _ path: String) -> String? {
        guard let value, !value.isNull else { return nil }
        guard let pairs = value.object else { return "\(path) must be an object of strings, not \(describe(value))" }
        for (key, entry) in pairs where entry.string == nil && !entry.isNull {
            return "\(path).\(key) must be a string, not \(describe(entry))"
        }
        return nil
    }

    private static func describe(_ value: JSONValue) -> String {
        switch value {
        case .object: return "an object"
        case .array: return "an array"
        case .string: return "a string"
        case .bool: return "a boolean"
        case .null: return "null"
        case .number: return "a number"
        }
    }

    // MARK: Names

    /// The cause when `name` is not a valid name for `type`, as kube-apiserver checks `metadata.name`.
    static func nameProblem(_ name: String, _ type: ResourceType) -> (field: String, message: String)? {
        let invalid = "Invalid value: \(JSONValue.string(name).serialized): "
        switch type.key {
        case "namespaces":
            guard isLabel(name, firstIsLetter: false) else {
                return ("metadata.name", invalid + "must be a lowercase RFC 1123 label: at most 63 characters of a-z, 0-9 and '-', "
                        + "beginning and ending with a letter or digit (for example 'shop')")
            }
        case "services":
            guard isLabel(name, firstIsLetter: true) else {
                return ("metadata.name", invalid + "must be a DNS-1035 label: at most 63 characters of a-z, 0-9 and '-', "
                        + "beginning with a letter and ending with a letter or digit (for example 'web')")
            }
        case let key where key.hasSuffix(".rbac.authorization.k8s.io"):
            // RBAC names are path segments (system:controller:...).
            guard name != ".", name != "..", !name.contains("/"), !name.contains("%") else {
                return ("metadata.name", invalid + "may not be '.' or '..' and may not contain '/' or '%'")
            }
        default:
            guard name.utf8.count <= 253, name.split(separator: ".", omittingEmptySubsequences: false).allSatisfy({ isLabel(String($0), firstIsLetter: false) })
            else {
                return ("metadata.name", invalid + "must be a lowercase RFC 1123 subdomain: at most 253 characters of a-z, 0-9, '-' and '.', "
                        + "beginning and ending with a letter or digit (for example 'web' or 'web.v1')")
            }
        }
        return nil
    }

    private static func isLabel(_ text: String, firstIsLetter: Bool) -> Bool {
        let bytes = Array(text.utf8)
        func alphanumeric(_ byte: UInt8) -> Bool { (97...122).contains(byte) || (48...57).contains(byte) }
        guard let first = bytes.first, let last = bytes.last, bytes.count <= 63 else { return false }
        guard firstIsLetter ? (97...122).contains(first) : alphanumeric(first), alphanumeric(last) else { return false }
        return bytes.allSatisfy { alphanumeric($0) || $0 == UInt8(ascii: "-") }
    }
}
