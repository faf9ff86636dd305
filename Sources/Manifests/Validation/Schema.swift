/// A problem found in a resource: where, what, and how bad.
public struct ValidationProblem: Sendable, Equatable {
    public enum Severity: String, Sendable { case error, warning }

    public var severity: Severity
    /// The field, e.g. `spec.http[0].fault.abort.httpStatus`.
    public var path: [YAMLPathComponent]
    public var location: SourceLocation
    public var message: String
    /// Set on a value of the wrong type (a string where an object belongs): the rules of the objects around it
    /// do not run, as the API server decodes nothing there.
    public var isWrongType: Bool

    public init(_ severity: Severity, path: [YAMLPathComponent], location: SourceLocation, message: String, isWrongType: Bool = false) {
        self.severity = severity
        self.path = path
        self.location = location
        self.message = message
        self.isWrongType = isWrongType
    }
}

/// The shape of a field, as Kubernetes' CRD schemas (OpenAPI v3) describe Istio's resources.
public indirect enum SchemaType: Sendable {
    case object(ObjectType)
    case array(SchemaType, minItems: Int, maxItems: Int?, unique: Bool)
    /// A map with string keys.
    case map(SchemaType, minProperties: Int = 0)
    case text(StringRules)
    case whole(minimum: Int?, maximum: Int?)
    case number(minimum: Double? = nil, maximum: Double? = nil)
    case bool
    /// A protobuf Duration: `1s`, `1.5s`, `100ms`.
    case time(minimumSeconds: Double?)
    case intOrString
    /// Anything (`x-kubernetes-preserve-unknown-fields`, protobuf Struct).
    case any

    public static var string: SchemaType { .text(StringRules()) }
    public static var integer: SchemaType { .whole(minimum: nil, maximum: nil) }
    public static var duration: SchemaType { .time(minimumSeconds: nil) }
    public static func integer(minimum: Int? = nil, maximum: Int? = nil) -> SchemaType { .whole(minimum: minimum, maximum: maximum) }
    public static func duration(minimumSeconds: Double) -> SchemaType { .time(minimumSeconds: minimumSeconds) }
    public static func enumeration(_ values: [String]) -> SchemaType { .text(StringRules(oneOf: values)) }
    public static func string(minLength: Int = 0, maxLength: Int? = nil, pattern: String? = nil) -> SchemaType {
        .text(StringRules(minLength: minLength, maxLength: maxLength, pattern: pattern))
    }
    public static func list(_ items: SchemaType, minItems: Int = 0, maxItems: Int? = nil, unique: Bool = false) -> SchemaType {
        .array(items, minItems: minItems, maxItems: maxItems, unique: unique)
    }
}

public struct StringRules: Sendable {
    public var minLength = 0
    public var maxLength: Int?
    /// A regular expression the whole value must match.
    public var pattern: String?
    /// The allowed values of an enum.
    public var oneOf: [String]?

    public init(minLength: Int = 0, maxLength: Int? = nil, pattern: String? = nil, oneOf: [String]? = nil) {
        self.minLength = minLength
        self.maxLength = maxLength
        self.pattern = pattern
        self.oneOf = oneOf
    }
}

/// A rule on an object that a type system cannot say (CRD CEL rules, Istio's webhook checks).
public struct ObjectRule: Sendable {
    /// Returns the problems of the object at `path`; an empty list when it is fine.
    public var check: @Sendable (_ node: YAMLNode, _ path: [YAMLPathComponent]) -> [ValidationProblem]

    public init(_ check: @escaping @Sendable (_ node: YAMLNode, _ path: [YAMLPathComponent]) -> [ValidationProblem]) {
        self.check = check
    }

    /// A rule that holds or fails as a whole, reported at the object (or at one of its fields).
    public static func require(_ message: String, at field: String? = nil,
                               _ holds: @escaping @Sendable (YAMLNode) -> Bool) -> ObjectRule {
        ObjectRule { node, path in
            guard !holds(node) else { return [] }
            let target = field.flatMap { node[$0] } ?? node
            return [ValidationProblem(.error, path: field.map { path + [.key($0)] } ?? path, location: target.location, message: message)]
        }
    }
}

/// An object's fields, which of them are required, and its rules.
public struct ObjectType: Sendable {
    public var name: String
    public var fields: [String: SchemaType]
    public var required: [String]
    public var minProperties: Int
    public var rules: [ObjectRule]
    /// Unknown fields are allowed (kept as they are).
    public var open: Bool

    public init(_ name: String, _ fields: [String: SchemaType], required: [String] = [], minProperties: Int = 0,
                rules: [ObjectRule] = [], open: Bool = false) {
        self.name = name
        self.fields = fields
        self.required = required
        self.minProperties = minProperties
        self.rules = rules
        self.open = open
    }
}
