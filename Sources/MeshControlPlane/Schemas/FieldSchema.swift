import Manifests

/// The shape and meaning of one field, as OpenAPI v3 (and a CRD's `openAPIV3Schema`) describes it: what the server
/// checks objects against, and what `kubectl explain` prints.
public struct FieldSchema: Sendable {
    public indirect enum Shape: Sendable {
        /// Named fields; `required` must be present. Unknown fields are pruned or refused unless `preserveUnknown`.
        case object([(name: String, schema: FieldSchema)], required: [String])
        /// Any keys, each value of one shape (labels, data).
        case map(FieldSchema)
        case array(FieldSchema)
        case string(allowed: [String]?)
        case integer
        case number
        case boolean
        /// An integer or a string (`targetPort`, `maxSurge`).
        case intOrString
        /// Anything at all (`x-kubernetes-preserve-unknown-fields` without a type).
        case any
    }

    public var shape: Shape
    public var description: String
    /// Fields the schema does not name are kept as they are.
    public var preserveUnknown = false
    public var nullable = false
    public var minimum: Double?
    public var maximum: Double?

    public init(_ shape: Shape, _ description: String = "", preserveUnknown: Bool = false) {
        self.shape = shape
        self.description = description
        self.preserveUnknown = preserveUnknown
    }

    // MARK: - Building

    public static func object(_ description: String, _ fields: [(String, FieldSchema)], required: [String] = [],
                              preserveUnknown: Bool = false) -> FieldSchema {
        FieldSchema(.object(fields.map { (name: $0.0, schema: $0.1) }, required: required), description, preserveUnknown: preserveUnknown)
    }
    public static func string(_ description: String, allowed: [String]? = nil) -> FieldSchema { FieldSchema(.string(allowed: allowed), description) }
    public static func integer(_ description: String) -> FieldSchema { FieldSchema(.integer, description) }
    public static func number(_ description: String) -> FieldSchema { FieldSchema(.number, description) }
    public static func boolean(_ description: String) -> FieldSchema { FieldSchema(.boolean, description) }
    public static func intOrString(_ description: String) -> FieldSchema { FieldSchema(.intOrString, description) }
    public static func array(_ description: String, _ items: FieldSchema) -> FieldSchema { FieldSchema(.array(items), description) }
    public static func map(_ description: String, _ values: FieldSchema = .string("")) -> FieldSchema { FieldSchema(.map(values), description) }
    /// A free-form value, kept whole.
    public static func any(_ description: String) -> FieldSchema { FieldSchema(.any, description, preserveUnknown: true) }
    /// An object whose fields are not all listed here: the listed ones are checked, the others kept.
    public static func open(_ description: String, _ fields: [(String, FieldSchema)] = []) -> FieldSchema {
        object(description, fields, preserveUnknown: true)
    }

    /// The same schema with another description (a shared type used for one field).
    public func described(_ text: String) -> FieldSchema {
        var copy = self
        copy.description = text
        return copy
    }

    /// The named field of an object schema.
    public func field(_ name: String) -> FieldSchema? {
        guard case .object(let fields, _) = shape else { return nil }
        return fields.first { $0.name == name }?.schema
    }

    // MARK: - OpenAPI

    /// The schema as an OpenAPI v3 schema object.
    public var openAPI: JSONValue {
        var pairs: [(key: String, value: JSONValue)] = []
        if !description.isEmpty { pairs.append(("description", .string(description))) }
        switch shape {
        case .object(let fields, let required):
            pairs.append(("type", .string("object")))
            if !fields.isEmpty { pairs.append(("properties", .object(fields.map { ($0.name, $0.schema.openAPI) }))) }
            if !required.isEmpty { pairs.append(("required", .array(required.map { .string($0) }))) }
        case .map(let values):
            pairs.append(("type", .string("object")))
            pairs.append(("additionalProperties", values.openAPI))
        case .array(let items):
            pairs.append(("type", .string("array")))
            pairs.append(("items", items.openAPI))
        case .string(let allowed):
            pairs.append(("type", .string("string")))
            if let allowed { pairs.append(("enum", .array(allowed.map { .string($0) }))) }
        case .integer:
            pairs.append(("type", .string("integer")))
        case .number:
            pairs.append(("type", .string("number")))
        case .boolean:
            pairs.append(("type", .string("boolean")))
        case .intOrString:
            pairs.append(("x-kubernetes-int-or-string", .bool(true)))
        case .any:
            break
        }
        if let minimum { pairs.append(("minimum", .number(Self.numberText(minimum)))) }
        if let maximum { pairs.append(("maximum", .number(Self.numberText(maximum)))) }
        if nullable { pairs.append(("nullable", .bool(true))) }
        if preserveUnknown { pairs.append(("x-kubernetes-preserve-unknown-fields", .bool(true))) }
        return .object(pairs)
    }

    private static func numberText(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value)
    }

    /// Reads an OpenAPI v3 schema as CRDs write it (`openAPIV3Schema`). Unsupported keywords are ignored.
    public init(openAPI schema: JSONValue) {
        let description = schema["description"]?.string ?? ""
        let preserve = schema["x-kubernetes-preserve-unknown-fields"]?.bool == true || schema["x-kubernetes-embedded-resource"]?.bool == true
        let shape: Shape
        if schema["x-kubernetes-int-or-string"]?.bool == true {
            shape = .intOrString
        } else {
            switch schema["type"]?.string {
            case "object":
                if let properties = schema["properties"]?.object {
                    shape = .object(properties.map { (name: $0.key, schema: FieldSchema(openAPI: $0.value)) },
                                    required: (schema["required"]?.array ?? []).compactMap(\.string))
                } else if let values = schema["additionalProperties"], values.object != nil {
                    shape = .map(FieldSchema(openAPI: values))
                } else if preserve || schema["additionalProperties"]?.bool == true {
                    shape = .object([], required: [])
                } else {
                    shape = .object([], required: (schema["required"]?.array ?? []).compactMap(\.string))
                }
            case "array": shape = .array(schema["items"].map { FieldSchema(openAPI: $0) } ?? .any(""))
            case "string": shape = .string(allowed: schema["enum"]?.array?.compactMap(\.string))
            case "integer": shape = .integer
            case "number": shape = .number
            case "boolean": shape = .boolean
            default: shape = .any
            }
        }
        self.init(shape, description, preserveUnknown: preserve || (schema["type"]?.string == "object" && schema["additionalProperties"]?.bool == true))
        nullable = schema["nullable"]?.bool == true
        minimum = schema["minimum"].flatMap { if case .number(let text) = $0 { return Double(text) } else { return nil } }
        maximum = schema["maximum"].flatMap { if case .number(let text) = $0 { return Double(text) } else { return nil } }
    }
}
