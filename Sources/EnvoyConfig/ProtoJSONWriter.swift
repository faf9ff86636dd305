import ConfigValues

/// Writes protobuf JSON indented the way istioctl's printer (golang/protobuf's jsonpb with an indent) does, so that
/// output compared line by line with istioctl's matches.
///
/// jsonpb indents ordinary messages, lists and maps like any JSON pretty-printer. Its quirk is
/// `google.protobuf.Struct` (a node's metadata, each value of `filter_metadata`): a Struct is a message whose one
/// field is a map, and the writer indents that map as a field of the Struct, so the members sit one level deeper
/// than usual and the closing brace one level to the right; a Struct or list inside a Struct goes one level deeper
/// again (its `google.protobuf.Value` wrapper). Which fields are Structs follows Envoy's API, by field name, as
/// `EnvoyFieldName.protoJSON` decides.
public struct ProtoJSONWriter: Sendable {
    /// One level of indentation (istioctl uses four spaces).
    public var indent: String

    public init(indent: String = "    ") { self.indent = indent }

    /// What a JSON value is in the protobuf schema.
    enum Kind {
        /// An ordinary message (or a scalar).
        case message
        /// A `google.protobuf.Struct`.
        case structure
        /// A `google.protobuf.Value` inside a Struct or ListValue.
        case value
        /// A map whose values are Structs (`filter_metadata`).
        case mapOfStructs
        /// A map whose values are messages (`typed_per_filter_config`, an `Any` each).
        case mapOfMessages
    }

    /// The text of a message (a JSON object in protobuf's JSON form, lowerCamelCase field names), without a final newline.
    public func write(_ message: JSONValue) -> String {
        var out = ""
        singular(message, kind: .message, at: "", isTop: true, into: &out)
        return out
    }

    /// The kind of a message's field, from its name and value.
    static func kind(ofField name: String, value: JSONValue) -> Kind {
        switch name {
        case "filterMetadata", "filter_metadata": return .mapOfStructs
        case "typedFilterMetadata", "typed_filter_metadata", "typedPerFilterConfig", "typed_per_filter_config": return .mapOfMessages
        case "staticLayer", "static_layer": return .structure
        case "metadata":
            // A node's or build version's metadata is a Struct; a cluster's or endpoint's holds filter_metadata.
            let fields = value.object ?? []
            let holdsMaps = fields.contains { ["filterMetadata", "filter_metadata", "typedFilterMetadata", "typed_filter_metadata"].contains($0.key) }
            return holdsMaps ? .message : .structure
        default: return .message
        }
    }

    /// A message at `level`: its fields one level in, its closing brace at `level`.
    private func message(_ fields: [(key: String, value: JSONValue)], at level: String, into out: inout String) {
        out += "{\n"
        for (index, field) in fields.enumerated() {
            if index > 0 { out += ",\n" }
            out += level + indent + Self.scalar(.string(field.key)) + ": "
            fieldValue(field.value, kind: Self.kind(ofField: field.key, value: field.value), at: level, into: &out)
        }
        out += "\n" + level + "}"
    }

    /// A field's value; `level` is the indentation of the message holding the field.
    private func fieldValue(_ value: JSONValue, kind: Kind, at level: String, into out: inout String) {
        switch (value, kind) {
        case (.array(let items), _):
            list(items, itemKind: kind == .value ? .value : kind, at: level, into: &out)
        case (.object(let entries), .mapOfStructs):
            map(entries, valueKind: .structure, at: level, into: &out)
        case (.object(let entries), .mapOfMessages):
            map(entries, valueKind: .message, at: level, into: &out)
        default:
            singular(value, kind: kind, at: level, into: &out)
        }
    }

    /// A single (not repeated) value: a message goes one level deeper than `level`.
    private func singular(_ value: JSONValue, kind: Kind, at level: String, isTop: Bool = false, into out: inout String) {
        let inner = isTop ? level : level + indent
        switch (value, kind) {
        case (.object(let entries), .structure):
            map(entries, valueKind: .value, at: inner, into: &out)
        case (_, .value):
            // A Value message at `inner` writes its struct or list one level deeper again.
            switch value {
            case .object(let entries): map(entries, valueKind: .value, at: inner + indent, into: &out)
            case .array(let items): list(items, itemKind: .value, at: inner + indent, into: &out)
            default: out += Self.scalar(value)
            }
        case (.object(let fields), _):
            message(fields, at: inner, into: &out)
        case (.array(let items), _):
            list(items, itemKind: kind, at: level, into: &out)
        default:
            out += Self.scalar(value)
        }
    }

    /// A list: items two levels in from `level`, the closing bracket one level in.
    private func list(_ items: [JSONValue], itemKind: Kind, at level: String, into out: inout String) {
        out += "["
        for (index, item) in items.enumerated() {
            if index > 0 { out += "," }
            out += "\n" + level + indent + indent
            singular(item, kind: itemKind, at: level + indent, into: &out)
        }
        out += "\n" + level + indent + "]"
    }

    /// A map (or a Struct's fields): entries two levels in from `level`, in key order, the closing brace one level in.
    private func map(_ entries: [(key: String, value: JSONValue)], valueKind: Kind, at level: String, into out: inout String) {
        out += "{"
        for (index, entry) in entries.sorted(by: { $0.key < $1.key }).enumerated() {
            if index > 0 { out += "," }
            out += "\n" + level + indent + indent + Self.scalar(.string(entry.key)) + ": "
            singular(entry.value, kind: valueKind, at: level + indent, into: &out)
        }
        out += "\n" + level + indent + "}"
    }

    /// A scalar as Go's encoding/json writes it (`<`, `>` and `&` escaped).
    static func scalar(_ value: JSONValue) -> String {
        JSONEmitter(indent: 0, escapeHTML: true).emit(value.yamlNode)
    }
}
