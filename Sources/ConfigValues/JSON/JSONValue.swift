/// A JSON value with object keys in their order: what the API server stores and sends. Numbers keep their text,
/// so an integer read is written back exactly.
public enum JSONValue: Equatable, Sendable {
    case null
    case bool(Bool)
    case number(String)
    case string(String)
    case array([JSONValue])
    case object([(key: String, value: JSONValue)])

    public static func == (a: JSONValue, b: JSONValue) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case (.bool(let x), .bool(let y)): return x == y
        case (.number(let x), .number(let y)): return x == y || (Double(x) != nil && Double(x) == Double(y))
        case (.string(let x), .string(let y)): return x == y
        case (.array(let x), .array(let y)): return x == y
        case (.object(let x), .object(let y)):
            guard x.count == y.count else { return false }
            let other = Dictionary(y.map { ($0.key, $0.value) }, uniquingKeysWith: { first, _ in first })
            return x.allSatisfy { other[$0.key] == $0.value }
        default: return false
        }
    }

    public static func int(_ value: Int) -> JSONValue { .number(String(value)) }

    public subscript(key: String) -> JSONValue? {
        get {
            guard case .object(let pairs) = self else { return nil }
            return pairs.first { $0.key == key }?.value
        }
        set {
            guard case .object(var pairs) = self else { return }
            if let index = pairs.firstIndex(where: { $0.key == key }) {
                if let newValue { pairs[index].value = newValue } else { pairs.remove(at: index) }
            } else if let newValue {
                pairs.append((key, newValue))
            }
            self = .object(pairs)
        }
    }

    public var object: [(key: String, value: JSONValue)]? { if case .object(let pairs) = self { return pairs } else { return nil } }
    public var array: [JSONValue]? { if case .array(let items) = self { return items } else { return nil } }
    public var string: String? { if case .string(let text) = self { return text } else { return nil } }
    public var bool: Bool? { if case .bool(let value) = self { return value } else { return nil } }
    public var int: Int? { if case .number(let text) = self { return Int(text) ?? Double(text).flatMap { Int(exactly: $0) } } else { return nil } }
    public var isNull: Bool { if case .null = self { return true } else { return false } }

    /// An object of strings as a dictionary (labels, selectors); other values read as "".
    public var stringMap: [String: String] {
        Dictionary((object ?? []).map { ($0.key, $0.value.string ?? "") }, uniquingKeysWith: { first, _ in first })
    }

    /// A Kubernetes object's `metadata.labels`.
    public var labelMap: [String: String] { self["metadata"]?["labels"]?.stringMap ?? [:] }

    /// The value at a dotted path (`metadata.labels`).
    public func value(atPath path: String) -> JSONValue? {
        path.split(separator: ".").reduce(Optional(self)) { node, key in node?[String(key)] }
    }
}

/// A JSON syntax error with its byte offset, line and column.
public struct JSONError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public let line: Int
    public let column: Int
    public var description: String { "\(line):\(column): \(message)" }
}

extension JSONValue {
    /// Parses one JSON document (RFC 8259); trailing non-space text is an error.
    public static func parse(_ bytes: [UInt8]) throws(JSONError) -> JSONValue {
        var reader = JSONReader(bytes: bytes)
        let value = try reader.value(depth: 0)
        reader.skipSpace()
        guard reader.index == bytes.count else { throw reader.error("unexpected text after the JSON value") }
        return value
    }

    public static func parse(_ text: String) throws(JSONError) -> JSONValue { try parse(Array(text.utf8)) }

    /// Compact JSON text.
    public var serialized: String { String(decoding: serializedBytes, as: UTF8.self) }

    public var serializedBytes: [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(256)
        write(to: &output)
        return output
    }

    public func write(to output: inout [UInt8]) {
        switch self {
        case .null: output += [110, 117, 108, 108]
        case .bool(let value): output += value ? Array("true".utf8) : Array("false".utf8)
        case .number(let text): output += text.utf8
        case .string(let text): Self.writeString(text, to: &output)
        case .array(let items):
            output.append(UInt8(ascii: "["))
            for (index, item) in items.enumerated() {
                if index > 0 { output.append(UInt8(ascii: ",")) }
                item.write(to: &output)
            }
            output.append(UInt8(ascii: "]"))
        case .object(let pairs):
            output.append(UInt8(ascii: "{"))
            for (index, pair) in pairs.enumerated() {
                if index > 0 { output.append(UInt8(ascii: ",")) }
                Self.writeString(pair.key, to: &output)
                output.append(UInt8(ascii: ":"))
                pair.value.write(to: &output)
            }
            output.append(UInt8(ascii: "}"))
        }
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    static func writeString(_ text: String, to output: inout [UInt8]) {
        output.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): output += [92, 34]
            case UInt8(ascii: "\\"): output += [92, 92]
            case 10: output += [92, 110]
            case 13: output += [92, 114]
            case 9: output += [92, 116]
            case 0..<32: output += [92, 117, 48, 48, hexDigits[Int(byte >> 4)], hexDigits[Int(byte & 15)]]
            default: output.append(byte)
            }
        }
        output.append(UInt8(ascii: "\""))
    }
}

private struct JSONReader {
    let bytes: [UInt8]
    var index = 0

    func error(_ message: String) -> JSONError {
        var line = 1, column = 1
        for byte in bytes[0..<min(index, bytes.count)] {
            if byte == 10 { line += 1; column = 1 } else { column += 1 }
        }
        return JSONError(message: message, line: line, column: column)
    }

    mutating func skipSpace() {
        while index < bytes.count, [32, 9, 10, 13].contains(bytes[index]) { index += 1 }
    }

    mutating func value(depth: Int) throws(JSONError) -> JSONValue {
        guard depth < 512 else { throw error("nested too deeply") }
        skipSpace()
        guard index < bytes.count else { throw error("unexpected end of input") }
        switch bytes[index] {
        case UInt8(ascii: "{"):
            index += 1
            var pairs: [(key: String, value: JSONValue)] = []
            skipSpace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "}") { index += 1; return .object(pairs) }
            while true {
                skipSpace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw error("expected a string key") }
                let key = try string()
                skipSpace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw error("expected ':' after key") }
                index += 1
                let item = try value(depth: depth + 1)
                if let existing = pairs.firstIndex(where: { $0.key == key }) { pairs[existing].value = item } else { pairs.append((key, item)) }
                skipSpace()
                guard index < bytes.count else { throw error("unexpected end of input in an object") }
                if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                if bytes[index] == UInt8(ascii: "}") { index += 1; return .object(pairs) }
                throw error("expected ',' or '}'")
            }
        case UInt8(ascii: "["):
            index += 1
            var items: [JSONValue] = []
            skipSpace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "]") { index += 1; return .array(items) }
            while true {
                items.append(try value(depth: depth + 1))
                skipSpace()
                guard index < bytes.count else { throw error("unexpected end of input in an array") }
                if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                if bytes[index] == UInt8(ascii: "]") { index += 1; return .array(items) }
                throw error("expected ',' or ']'")
            }
        case UInt8(ascii: "\""):
            return .string(try string())
        case UInt8(ascii: "t"): return try literal("true", .bool(true))
        case UInt8(ascii: "f"): return try literal("false", .bool(false))
        case UInt8(ascii: "n"): return try literal("null", .null)
        default:
            return try number()
        }
    }

    mutating func literal(_ word: String, _ value: JSONValue) throws(JSONError) -> JSONValue {
        let expected = Array(word.utf8)
        guard index + expected.count <= bytes.count, Array(bytes[index..<index + expected.count]) == expected else {
            throw error("unexpected character")
        }
        index += expected.count
        return value
    }

    mutating func number() throws(JSONError) -> JSONValue {
        let start = index
        if index < bytes.count, bytes[index] == UInt8(ascii: "-") { index += 1 }
        var digits = 0
        while index < bytes.count, (48...57).contains(bytes[index]) { index += 1; digits += 1 }
        guard digits > 0 else { throw error("unexpected character") }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            var fraction = 0
            while index < bytes.count, (48...57).contains(bytes[index]) { index += 1; fraction += 1 }
            guard fraction > 0 else { throw error("digits expected after '.'") }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            var exponent = 0
            while index < bytes.count, (48...57).contains(bytes[index]) { index += 1; exponent += 1 }
            guard exponent > 0 else { throw error("digits expected in the exponent") }
        }
        return .number(String(decoding: bytes[start..<index], as: UTF8.self))
    }

    mutating func string() throws(JSONError) -> String {
        index += 1  // opening quote
        var output: [UInt8] = []
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") { index += 1; return String(decoding: output, as: UTF8.self) }
            if byte < 32 { throw error("control character in a string") }
            if byte != UInt8(ascii: "\\") { output.append(byte); index += 1; continue }
            index += 1
            guard index < bytes.count else { break }
            let escape = bytes[index]
            index += 1
            switch escape {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): output.append(escape)
            case UInt8(ascii: "b"): output.append(8)
            case UInt8(ascii: "f"): output.append(12)
            case UInt8(ascii: "n"): output.append(10)
            case UInt8(ascii: "r"): output.append(13)
            case UInt8(ascii: "t"): output.append(9)
            case UInt8(ascii: "u"):
                var scalar = try hex4()
                if (0xD800...0xDBFF).contains(scalar), index + 1 < bytes.count, bytes[index] == 92, bytes[index + 1] == UInt8(ascii: "u") {
                    index += 2
                    let low = try hex4()
                    if (0xDC00...0xDFFF).contains(low) { scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00) } else { scalar = 0xFFFD }
                }
                output += Array(String(Unicode.Scalar(scalar).map(Character.init) ?? "\u{FFFD}").utf8)
            default: throw error("bad escape \\\(Character(Unicode.Scalar(escape)))")
            }
        }
        throw error("unterminated string")
    }

    mutating func hex4() throws(JSONError) -> UInt32 {
        guard index + 4 <= bytes.count, let value = UInt32(String(decoding: bytes[index..<index + 4], as: UTF8.self), radix: 16) else {
            throw error("bad \\u escape")
        }
        index += 4
        return value
    }
}

extension JSONValue {
    /// The same value as a YAML node (for the validators and the injector, which read YAML nodes).
    public var yamlNode: YAMLNode {
        switch self {
        case .null: return YAMLNode(.scalar(YAMLScalar(text: "null", kind: .null)))
        case .bool(let value): return YAMLNode(.scalar(YAMLScalar(text: value ? "true" : "false", kind: .bool)))
        case .number(let text): return YAMLNode(.scalar(YAMLScalar(text: text, kind: Int(text) != nil ? .int : .float)))
        case .string(let text): return .string(text)
        case .array(let items): return YAMLNode(.sequence(items.map(\.yamlNode)))
        case .object(let pairs): return .mapping(pairs.map { YAMLPair(key: .string($0.key), value: $0.value.yamlNode) })
        }
    }

    /// A YAML node as JSON (keys as text; YAML-only values become strings).
    public init(yaml node: YAMLNode) {
        switch node.content {
        case .scalar(let scalar):
            switch scalar.kind {
            case .null: self = .null
            case .bool: self = .bool(ScalarResolver.parseBool(scalar.text) ?? false)
            case .int: self = ScalarResolver.parseInt(scalar.text).map { .number(String($0)) } ?? .string(scalar.text)
            case .float:
                if let value = ScalarResolver.parseFloat(scalar.text), value.isFinite { self = .number(ScalarResolver.canonicalFloatText(value)) } else { self = .string(scalar.text) }
            case .string: self = .string(scalar.text)
            }
        case .sequence(let items): self = .array(items.map(JSONValue.init(yaml:)))
        case .mapping(let pairs): self = .object(pairs.map { ($0.key.scalarText ?? "", JSONValue(yaml: $0.value)) })
        }
    }
}
