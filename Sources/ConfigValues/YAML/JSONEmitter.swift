/// Writes node trees as JSON, compact or indented, the way Go's encoding/json does.
public struct JSONEmitter: Sendable {
    /// Spaces per level; 0 writes everything on one line with no spaces.
    public var indent: Int
    public var keyOrder: YAMLEmitter.KeyOrder
    /// Writes `<`, `>` and `&` as `\u003c`, `\u003e`, `\u0026`, as Go's json.Marshal does by default.
    public var escapeHTML: Bool

    public init(indent: Int = 0, keyOrder: YAMLEmitter.KeyOrder = .asParsed, escapeHTML: Bool = false) {
        self.indent = indent
        self.keyOrder = keyOrder
        self.escapeHTML = escapeHTML
    }

    /// The JSON text of one node, with no final newline.
    public func emit(_ node: YAMLNode) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(1024)
        write(node, depth: 0, into: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    private func newline(_ depth: Int, into bytes: inout [UInt8]) {
        guard indent > 0 else { return }
        bytes.append(0x0A)
        for _ in 0..<(depth * indent) { bytes.append(0x20) }
    }

    private func write(_ node: YAMLNode, depth: Int, into bytes: inout [UInt8]) {
        switch node.content {
        case .scalar(let scalar):
            writeScalar(scalar, into: &bytes)
        case .sequence(let items):
            bytes.append(0x5B)
            for (index, item) in items.enumerated() {
                if index > 0 { bytes.append(0x2C) }
                newline(depth + 1, into: &bytes)
                write(item, depth: depth + 1, into: &bytes)
            }
            if !items.isEmpty { newline(depth, into: &bytes) }
            bytes.append(0x5D)
        case .mapping(var pairs):
            if keyOrder == .sorted {
                pairs.sort { ($0.key.scalarText ?? "") < ($1.key.scalarText ?? "") }
            }
            bytes.append(0x7B)
            for (index, pair) in pairs.enumerated() {
                if index > 0 { bytes.append(0x2C) }
                newline(depth + 1, into: &bytes)
                writeString(pair.key.scalarText ?? JSONEmitter(escapeHTML: escapeHTML).emit(pair.key), into: &bytes)
                bytes.append(0x3A)
                if indent > 0 { bytes.append(0x20) }
                write(pair.value, depth: depth + 1, into: &bytes)
            }
            if !pairs.isEmpty { newline(depth, into: &bytes) }
            bytes.append(0x7D)
        }
    }

    private func writeScalar(_ scalar: YAMLScalar, into bytes: inout [UInt8]) {
        switch scalar.kind {
        case .null:
            bytes.append(contentsOf: "null".utf8)
        case .bool:
            bytes.append(contentsOf: (ScalarResolver.parseBool(scalar.text) == true ? "true" : "false").utf8)
        case .int:
            if let value = ScalarResolver.parseInt(scalar.text) {
                bytes.append(contentsOf: String(value).utf8)
            } else {
                bytes.append(contentsOf: scalar.text.filter { $0 != "_" && $0 != "+" }.utf8)
            }
        case .float:
            let value = ScalarResolver.parseFloat(scalar.text) ?? .nan
            bytes.append(contentsOf: Self.goFloatText(value).utf8)
        case .string:
            writeString(scalar.text, into: &bytes)
        }
    }

    /// A float as JSON: whole numbers without a fraction, others in their shortest form; NaN and
    /// infinities, which JSON cannot hold, as null.
    static func goFloatText(_ value: Double) -> String {
        guard value.isFinite else { return "null" }
        if value == value.rounded(), abs(value) < 1e18 {
            return String(Int64(value))
        }
        return "\(value)"
    }

    private func writeString(_ text: String, into bytes: inout [UInt8]) {
        bytes.append(0x22)
        for byte in text.utf8 {
            switch byte {
            case 0x22: bytes.append(contentsOf: "\\\"".utf8)
            case 0x5C: bytes.append(contentsOf: "\\\\".utf8)
            case 0x0A: bytes.append(contentsOf: "\\n".utf8)
            case 0x0D: bytes.append(contentsOf: "\\r".utf8)
            case 0x09: bytes.append(contentsOf: "\\t".utf8)
            case 0x3C where escapeHTML: bytes.append(contentsOf: "\\u003c".utf8)
            case 0x3E where escapeHTML: bytes.append(contentsOf: "\\u003e".utf8)
            case 0x26 where escapeHTML: bytes.append(contentsOf: "\\u0026".utf8)
            case 0x00..<0x20:
                let hex = String(byte, radix: 16)
                bytes.append(contentsOf: "\\u00".utf8)
                if hex.count < 2 { bytes.append(0x30) }
                bytes.append(contentsOf: hex.utf8)
            default:
                bytes.append(byte)
            }
        }
        bytes.append(0x22)
    }
}
