/// A position in a source text: 1-based line and column (columns count characters, as libyaml does).
public struct SourceLocation: Hashable, Sendable, CustomStringConvertible {
    public var line: Int
    public var column: Int

    public init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }

    /// The location of nodes built in code rather than parsed.
    public static let none = SourceLocation(line: 0, column: 0)

    public var description: String { "\(line):\(column)" }
}

/// How a scalar was written in the source.
public enum ScalarStyle: UInt8, Sendable {
    case plain, singleQuoted, doubleQuoted, literal, folded
}

/// What a scalar means once resolved (YAML 1.1 rules, as Kubernetes' YAML decoder applies them).
public enum ScalarKind: UInt8, Sendable {
    case null, bool, int, float, string
}

/// A scalar: its text (content, with quotes and escapes removed), what it resolves to, and its source style.
public struct YAMLScalar: Sendable {
    public var text: String
    public var kind: ScalarKind
    public var style: ScalarStyle

    public init(text: String, kind: ScalarKind, style: ScalarStyle = .plain) {
        self.text = text
        self.kind = kind
        self.style = style
    }

    /// A plain scalar resolved by its text: `null`, `true`, `42`, `1.5`, or a string.
    public init(plain text: String) {
        self.init(text: text, kind: ScalarResolver.resolvePlain(text), style: .plain)
    }

    /// A string scalar, whatever its text looks like.
    public init(string text: String) {
        self.init(text: text, kind: .string, style: .plain)
    }
}

/// One node of a parsed YAML or JSON document: a scalar, a sequence or a mapping, with where it stood.
///
/// Mappings keep their key order. Equality compares meaning, not form: locations, scalar styles and
/// mapping key order are ignored, and `0x10 == 16`.
public struct YAMLNode: Sendable {
    public enum Content: Sendable {
        case scalar(YAMLScalar)
        case sequence([YAMLNode])
        case mapping([YAMLPair])
    }

    public var content: Content
    public var location: SourceLocation

    public init(_ content: Content, location: SourceLocation = .none) {
        self.content = content
        self.location = location
    }

    public static func scalar(_ scalar: YAMLScalar, at location: SourceLocation = .none) -> YAMLNode {
        YAMLNode(.scalar(scalar), location: location)
    }

    public static func string(_ text: String, at location: SourceLocation = .none) -> YAMLNode {
        YAMLNode(.scalar(YAMLScalar(string: text)), location: location)
    }

    public static func int(_ value: Int) -> YAMLNode {
        YAMLNode(.scalar(YAMLScalar(text: String(value), kind: .int)))
    }

    public static func bool(_ value: Bool) -> YAMLNode {
        YAMLNode(.scalar(YAMLScalar(text: value ? "true" : "false", kind: .bool)))
    }

    public static let null = YAMLNode(.scalar(YAMLScalar(text: "null", kind: .null)))

    public static func sequence(_ items: [YAMLNode], at location: SourceLocation = .none) -> YAMLNode {
        YAMLNode(.sequence(items), location: location)
    }

    public static func mapping(_ pairs: [YAMLPair], at location: SourceLocation = .none) -> YAMLNode {
        YAMLNode(.mapping(pairs), location: location)
    }

    /// A mapping with string keys, in the order given.
    public static func mapping(_ pairs: [(String, YAMLNode)]) -> YAMLNode {
        YAMLNode(.mapping(pairs.map { YAMLPair(key: .string($0.0), value: $0.1) }))
    }
}

/// A key and its value in a mapping.
public struct YAMLPair: Sendable {
    public var key: YAMLNode
    public var value: YAMLNode

    public init(key: YAMLNode, value: YAMLNode) {
        self.key = key
        self.value = value
    }
}

/// One document of a YAML stream, with the file it came from and its 0-based index in that file.
public struct YAMLDocument: Sendable {
    public var root: YAMLNode
    public var file: String?
    public var index: Int

    public init(root: YAMLNode, file: String? = nil, index: Int = 0) {
        self.root = root
        self.file = file
        self.index = index
    }
}

// MARK: - Reading values

extension YAMLNode {
    public var scalar: YAMLScalar? {
        if case .scalar(let scalar) = content { return scalar }
        return nil
    }

    public var items: [YAMLNode]? {
        if case .sequence(let items) = content { return items }
        return nil
    }

    public var pairs: [YAMLPair]? {
        if case .mapping(let pairs) = content { return pairs }
        return nil
    }

    public var isNull: Bool { scalar?.kind == .null }

    /// The text of a string scalar; nil for anything else.
    public var string: String? {
        guard let scalar, scalar.kind == .string else { return nil }
        return scalar.text
    }

    /// The text of any scalar except null: what a key or a label value reads as.
    public var scalarText: String? {
        guard let scalar, scalar.kind != .null else { return nil }
        return scalar.text
    }

    public var int: Int? {
        guard let scalar, scalar.kind == .int else { return nil }
        return ScalarResolver.parseInt(scalar.text)
    }

    public var bool: Bool? {
        guard let scalar, scalar.kind == .bool else { return nil }
        return ScalarResolver.parseBool(scalar.text)
    }

    public var double: Double? {
        guard let scalar else { return nil }
        switch scalar.kind {
        case .float: return ScalarResolver.parseFloat(scalar.text)
        case .int: return ScalarResolver.parseInt(scalar.text).map(Double.init)
        default: return nil
        }
    }

    /// The value under a string key of a mapping (the first, if the key repeats).
    public subscript(key: String) -> YAMLNode? {
        get {
            guard case .mapping(let pairs) = content else { return nil }
            return pairs.first(where: { $0.key.scalarText == key })?.value
        }
        set {
            guard case .mapping(var pairs) = content else { return }
            if let index = pairs.firstIndex(where: { $0.key.scalarText == key }) {
                if let newValue { pairs[index].value = newValue } else { pairs.remove(at: index) }
            } else if let newValue {
                pairs.append(YAMLPair(key: .string(key), value: newValue))
            }
            content = .mapping(pairs)
        }
    }

    /// The item at an index of a sequence.
    public subscript(index: Int) -> YAMLNode? {
        guard case .sequence(let items) = content, items.indices.contains(index) else { return nil }
        return items[index]
    }

    /// The node at a path of keys and indexes, e.g. `["spec", "template", "metadata"]`.
    public func value(at path: [YAMLPathComponent]) -> YAMLNode? {
        var node = self
        for component in path {
            switch component {
            case .key(let key): guard let next = node[key] else { return nil }; node = next
            case .index(let index): guard let next = node[index] else { return nil }; node = next
            }
        }
        return node
    }
}

/// A step in a field path: a mapping key or a sequence index.
public enum YAMLPathComponent: Hashable, Sendable, CustomStringConvertible {
    case key(String)
    case index(Int)

    public var description: String {
        switch self {
        case .key(let key): return key
        case .index(let index): return "[\(index)]"
        }
    }
}

extension Array where Element == YAMLPathComponent {
    /// A field path as Kubernetes writes it: `spec.http[0].route`.
    public var fieldPath: String {
        var text = ""
        for component in self {
            switch component {
            case .key(let key): text += text.isEmpty ? key : ".\(key)"
            case .index(let index): text += "[\(index)]"
            }
        }
        return text
    }
}

// MARK: - Equality by meaning

extension YAMLScalar: Equatable {
    public static func == (lhs: YAMLScalar, rhs: YAMLScalar) -> Bool {
        guard lhs.kind == rhs.kind else {
            // JSON, and so Kubernetes, has one number type: 5 and 5.0 are the same value.
            let numbers: Set<ScalarKind> = [.int, .float]
            guard numbers.contains(lhs.kind), numbers.contains(rhs.kind),
                  let left = YAMLNode(.scalar(lhs)).double, let right = YAMLNode(.scalar(rhs)).double else { return false }
            return left == right
        }
        switch lhs.kind {
        case .null: return true
        case .string: return lhs.text == rhs.text
        case .bool: return ScalarResolver.parseBool(lhs.text) == ScalarResolver.parseBool(rhs.text)
        case .int:
            if let left = ScalarResolver.parseInt(lhs.text), let right = ScalarResolver.parseInt(rhs.text) {
                return left == right
            }
            return lhs.text == rhs.text
        case .float:
            guard let left = ScalarResolver.parseFloat(lhs.text), let right = ScalarResolver.parseFloat(rhs.text) else {
                return lhs.text == rhs.text
            }
            return left == right || (left.isNaN && right.isNaN)
        }
    }
}

extension YAMLNode: Equatable {
    public static func == (lhs: YAMLNode, rhs: YAMLNode) -> Bool {
        switch (lhs.content, rhs.content) {
        case (.scalar(let left), .scalar(let right)):
            return left == right
        case (.sequence(let left), .sequence(let right)):
            return left == right
        case (.mapping(let left), .mapping(let right)):
            guard left.count == right.count else { return false }
            // Same keys with equal values, in any order; order-sensitive fast path first.
            if zip(left, right).allSatisfy({ sameKey($0.key, $1.key) && $0.value == $1.value }) { return true }
            var unmatched = right
            for pair in left {
                guard let index = unmatched.firstIndex(where: { sameKey($0.key, pair.key) }),
                      unmatched[index].value == pair.value else { return false }
                unmatched.remove(at: index)
            }
            return true
        default:
            return false
        }
    }

    /// Keys compare as text, as they do once Kubernetes turns YAML into JSON: `8080:` and `"8080":` match.
    private static func sameKey(_ lhs: YAMLNode, _ rhs: YAMLNode) -> Bool {
        if let left = lhs.scalar, let right = rhs.scalar { return left.text == right.text || left == right }
        return lhs == rhs
    }
}
