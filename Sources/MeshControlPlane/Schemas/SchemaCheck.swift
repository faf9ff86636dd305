import Manifests

/// What checking an object against its schema found: fields the schema does not know (by path, e.g.
/// `spec.replica`) and values of the wrong type or outside their enum, as kube-apiserver words them.
struct SchemaFindings {
    var unknownFields: [String] = []
    var invalid: [(field: String, message: String)] = []
}

/// Checks a value against a `FieldSchema` and returns it without the fields the schema does not know (what the
/// API server prunes), recording what it found.
enum SchemaCheck {
    static func check(_ value: JSONValue, _ schema: FieldSchema, findings: inout SchemaFindings) -> JSONValue {
        check(value, schema, path: "", findings: &findings)
    }

    private static func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    private static func typeName(_ value: JSONValue) -> String {
        switch value {
        case .null: return "null"
        case .bool: return "boolean"
        case .number(let text): return Int(text) != nil ? "integer" : "number"
        case .string: return "string"
        case .array: return "array"
        case .object: return "object"
        }
    }

    private static func shown(_ value: JSONValue) -> String {
        switch value {
        case .string(let text): return "\"\(text)\""
        case .object, .array: return typeName(value)
        default: return value.serialized
        }
    }

    private static func wrongType(_ value: JSONValue, _ expected: String, _ path: String, _ findings: inout SchemaFindings) {
        findings.invalid.append((path, "Invalid value: \(shown(value)): \(path) in body must be of type \(expected): \"\(typeName(value))\""))
    }

    private static func check(_ value: JSONValue, _ schema: FieldSchema, path: String, findings: inout SchemaFindings) -> JSONValue {
        if value.isNull {
            // Kubernetes treats an explicit null as absent, except where a schema says it is a value.
            return value
        }
        switch schema.shape {
        case .any:
            return value
        case .object(let fields, let required):
            guard let pairs = value.object else { wrongType(value, "object", path, &findings); return value }
            var kept: [(key: String, value: JSONValue)] = []
            for pair in pairs {
                let fieldPath = join(path, pair.key)
                if let field = fields.first(where: { $0.name == pair.key }) {
                    kept.append((pair.key, check(pair.value, field.schema, path: fieldPath, findings: &findings)))
                } else if schema.preserveUnknown {
                    kept.append(pair)
                } else {
                    findings.unknownFields.append(fieldPath)
                }
            }
            for name in required where value[name] == nil || value[name]?.isNull == true {
                findings.invalid.append((join(path, name), "Required value"))
            }
            return .object(kept)
        case .map(let values):
            guard let pairs = value.object else { wrongType(value, "object", path, &findings); return value }
            return .object(pairs.map { ($0.key, check($0.value, values, path: join(path, $0.key), findings: &findings)) })
        case .array(let items):
            guard let elements = value.array else { wrongType(value, "array", path, &findings); return value }
            return .array(elements.enumerated().map { check($0.element, items, path: "\(path)[\($0.offset)]", findings: &findings) })
        case .string(let allowed):
            guard let text = value.string else { wrongType(value, "string", path, &findings); return value }
            if let allowed, !allowed.contains(text) {
                findings.invalid.append((path, "Unsupported value: \"\(text)\": supported values: "
                                         + allowed.map { "\"\($0)\"" }.joined(separator: ", ")))
            }
            return value
        case .integer:
            guard case .number(let text) = value, value.int != nil else { wrongType(value, "integer", path, &findings); return value }
            checkRange(Double(text) ?? 0, value, schema, path, &findings)
            return value
        case .number:
            guard case .number(let text) = value, let number = Double(text), number.isFinite else {
                wrongType(value, "number", path, &findings)
                return value
            }
            checkRange(number, value, schema, path, &findings)
            return value
        case .boolean:
            if value.bool == nil { wrongType(value, "boolean", path, &findings) }
            return value
        case .intOrString:
            switch value {
            case .string: return value
            case .number where value.int != nil: return value
            default:
                findings.invalid.append((path, "Invalid value: \(shown(value)): \(path) in body must be an integer or a string"))
                return value
            }
        }
    }

    private static func checkRange(_ number: Double, _ value: JSONValue, _ schema: FieldSchema, _ path: String, _ findings: inout SchemaFindings) {
        if let minimum = schema.minimum, number < minimum {
            findings.invalid.append((path, "Invalid value: \(value.serialized): \(path) in body should be greater than or equal to \(format(minimum))"))
        }
        if let maximum = schema.maximum, number > maximum {
            findings.invalid.append((path, "Invalid value: \(value.serialized): \(path) in body should be less than or equal to \(format(maximum))"))
        }
    }

    private static func format(_ number: Double) -> String {
        number == number.rounded() && abs(number) < 1e15 ? String(Int(number)) : String(number)
    }
}
