/// A value as Go's text/template sees it: Go's basic types, slices, maps, structs, nil, and the
/// "no value" a missing map key yields.
public indirect enum TemplateValue: Sendable {
    /// Go's invalid reflect.Value: a missing key of an interface-valued map. Prints as `<no value>`.
    case missing
    /// A nil interface, pointer, map or slice.
    case null
    case bool(Bool)
    case int(Int)
    case float(Double)
    case string(String)
    case list([TemplateValue])
    case map(TemplateMap)
    /// A Go struct (or protobuf message): fields and methods by their Go names.
    case object(any TemplateObject)
}

/// A map with string keys, in insertion order (Go ranges over maps in sorted key order; see `sortedKeys`).
public struct TemplateMap: Sendable {
    public private(set) var keys: [String] = []
    private var storage: [String: TemplateValue] = [:]
    /// What a missing key yields: `.missing` for `map[string]interface{}`, `.string("")` for
    /// `map[string]string`.
    public var zero: TemplateValue

    public init(zero: TemplateValue = .missing) {
        self.zero = zero
    }

    public init(_ pairs: [(String, TemplateValue)], zero: TemplateValue = .missing) {
        self.zero = zero
        for (key, value) in pairs { self[key] = value }
    }

    public subscript(key: String) -> TemplateValue? {
        get { storage[key] }
        set {
            if let newValue {
                if storage.updateValue(newValue, forKey: key) == nil { keys.append(key) }
            } else if storage.removeValue(forKey: key) != nil {
                keys.removeAll { $0 == key }
            }
        }
    }

    public var count: Int { keys.count }
    public var isEmpty: Bool { keys.isEmpty }
    public var sortedKeys: [String] { keys.sorted() }
    public var entries: [(key: String, value: TemplateValue)] { keys.map { ($0, storage[$0]!) } }
}

/// A Go struct or protobuf message as templates see it.
public protocol TemplateObject: Sendable {
    /// The Go type's name, for error messages (`v1.ObjectMeta`).
    var typeName: String { get }
    /// The field with this Go name, or nil when the type has no such field.
    func field(_ name: String) -> TemplateValue?
    /// A method with this Go name called with arguments, or nil when the type has no such method.
    func method(_ name: String, arguments: [TemplateValue]) throws -> TemplateValue?
    /// The value as JSON-like data, for toJson, toYaml and printing.
    var dataValue: TemplateValue { get }
    /// False for a nil pointer, which `if` treats as false.
    var isTruthy: Bool { get }
}

extension TemplateObject {
    public func method(_ name: String, arguments: [TemplateValue]) throws -> TemplateValue? { nil }
    public var isTruthy: Bool { true }
}

extension TemplateValue {
    /// Go's truth: false, 0, nil, empty strings, slices and maps are false; structs are true.
    public var isTruthy: Bool {
        switch self {
        case .missing, .null: return false
        case .bool(let value): return value
        case .int(let value): return value != 0
        case .float(let value): return value != 0
        case .string(let value): return !value.isEmpty
        case .list(let items): return !items.isEmpty
        case .map(let map): return !map.isEmpty
        case .object(let object): return object.isTruthy
        }
    }

    public var isNil: Bool {
        switch self {
        case .missing, .null: return true
        default: return false
        }
    }

    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    /// The Go type name used in error messages.
    public var goTypeName: String {
        switch self {
        case .missing: return "<nil>"
        case .null: return "<nil>"
        case .bool: return "bool"
        case .int: return "int"
        case .float: return "float64"
        case .string: return "string"
        case .list: return "[]interface {}"
        case .map: return "map[string]interface {}"
        case .object(let object): return object.typeName
        }
    }

    /// Structs become their data; everything else stays as it is.
    public var data: TemplateValue {
        if case .object(let object) = self { return object.dataValue }
        return self
    }
}

// MARK: - Conversion to and from YAML nodes

extension TemplateValue {
    /// A YAML or JSON node as untyped Go data (`map[string]interface{}`, `[]interface{}`, ...), as
    /// Go's JSON or YAML decoding into interface{} gives it.
    public init(node: YAMLNode) {
        switch node.content {
        case .scalar(let scalar):
            switch scalar.kind {
            case .null: self = .null
            case .bool: self = .bool(ScalarResolver.parseBool(scalar.text) ?? false)
            case .int:
                if let value = ScalarResolver.parseInt(scalar.text) { self = .int(value) } else { self = .float(node.double ?? 0) }
            case .float: self = .float(ScalarResolver.parseFloat(scalar.text) ?? 0)
            case .string: self = .string(scalar.text)
            }
        case .sequence(let items):
            self = .list(items.map(TemplateValue.init(node:)))
        case .mapping(let pairs):
            var map = TemplateMap()
            for pair in pairs { map[pair.key.scalarText ?? "null"] = TemplateValue(node: pair.value) }
            self = .map(map)
        }
    }

    /// The value as a YAML node (structs through their data); `missing` becomes null.
    public var node: YAMLNode {
        switch self {
        case .missing, .null: return .null
        case .bool(let value): return .bool(value)
        case .int(let value): return .int(value)
        case .float(let value):
            return YAMLNode(.scalar(YAMLScalar(text: value == value.rounded() && abs(value) < 1e15
                                                ? String(Int64(value)) : "\(value)", kind: .float)))
        case .string(let value): return .string(value)
        case .list(let items): return .sequence(items.map(\.node))
        case .map(let map): return .mapping(map.entries.map { YAMLPair(key: .string($0.key), value: $0.value.node) })
        case .object(let object): return object.dataValue.node
        }
    }
}
