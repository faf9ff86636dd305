import Manifests

/// The Kubernetes protobuf encoding, as far as kubectl's typed `create` commands use it: the `k8s\0` envelope
/// (a runtime.Unknown naming apiVersion and kind around the object's bytes) and the messages of Namespace,
/// ConfigMap, Secret and ServiceAccount, decoded into the JSON the rest of the server works with.
enum ProtobufEnvelope {
    static let magic: [UInt8] = [0x6b, 0x38, 0x73, 0x00]  // "k8s\0"

    struct DecodingError: Error { let reason: String }

    /// The object in a protobuf body, or nil when its kind is not one meshctl decodes.
    static func decode(_ body: [UInt8]) throws -> JSONValue? {
        guard body.starts(with: magic) else { throw DecodingError(reason: "not a Kubernetes protobuf envelope") }
        var apiVersion = "", kind = "", raw: [UInt8] = []
        for field in try fields(Array(body.dropFirst(magic.count))) {
            switch field.number {
            case 1:
                for meta in try fields(field.bytes) {
                    if meta.number == 1 { apiVersion = meta.text }
                    if meta.number == 2 { kind = meta.text }
                }
            case 2: raw = field.bytes
            default: break
            }
        }
        let message = try fields(raw)
        var object: [(key: String, value: JSONValue)] = [("apiVersion", .string(apiVersion)), ("kind", .string(kind))]
        switch kind {
        case "Namespace":
            object.append(("metadata", try metadata(message)))
        case "ConfigMap":
            object.append(("metadata", try metadata(message)))
            if let data = try map(message, 2, text: true) { object.append(("data", data)) }
            if let binary = try map(message, 3, text: false) { object.append(("binaryData", binary)) }
            if let immutable = message.last(where: { $0.number == 4 }) { object.append(("immutable", .bool(immutable.varint != 0))) }
        case "Secret":
            object.append(("metadata", try metadata(message)))
            if let data = try map(message, 2, text: false) { object.append(("data", data)) }
            if let type = message.last(where: { $0.number == 3 }) { object.append(("type", .string(type.text))) }
            if let stringData = try map(message, 4, text: true) { object.append(("stringData", stringData)) }
            if let immutable = message.last(where: { $0.number == 5 }) { object.append(("immutable", .bool(immutable.varint != 0))) }
        case "ServiceAccount":
            object.append(("metadata", try metadata(message)))
            if let automount = message.last(where: { $0.number == 4 }) { object.append(("automountServiceAccountToken", .bool(automount.varint != 0))) }
        default:
            return nil
        }
        return .object(object)
    }

    /// ObjectMeta (field 1 of each object): name, generateName, namespace, labels, annotations.
    private static func metadata(_ message: [Field]) throws -> JSONValue {
        guard let meta = message.first(where: { $0.number == 1 }) else { return .object([]) }
        let inner = try fields(meta.bytes)
        var pairs: [(key: String, value: JSONValue)] = []
        for (number, key) in [(1, "name"), (2, "generateName"), (3, "namespace")] {
            if let field = inner.last(where: { $0.number == number }), !field.text.isEmpty { pairs.append((key, .string(field.text))) }
        }
        if let labels = try map(inner, 11, text: true) { pairs.append(("labels", labels)) }
        if let annotations = try map(inner, 12, text: true) { pairs.append(("annotations", annotations)) }
        return .object(pairs)
    }

    /// A protobuf map field (repeated entries of key = 1, value = 2); bytes values become base64 as in JSON.
    private static func map(_ message: [Field], _ number: Int, text: Bool) throws -> JSONValue? {
        let entries = message.filter { $0.number == number }
        guard !entries.isEmpty else { return nil }
        var pairs: [(key: String, value: JSONValue)] = []
        for entry in entries {
            let parts = try fields(entry.bytes)
            let key = parts.first { $0.number == 1 }?.text ?? ""
            let value = parts.first { $0.number == 2 }?.bytes ?? []
            pairs.append((key, .string(text ? String(decoding: value, as: UTF8.self) : Base64.encode(value))))
        }
        return .object(pairs)
    }

    struct Field {
        var number: Int
        var varint: UInt64 = 0
        var bytes: [UInt8] = []
        var text: String { String(decoding: bytes, as: UTF8.self) }
    }

    /// The fields of one message: varints and length-delimited values (fixed 32/64-bit ones are skipped).
    static func fields(_ data: [UInt8]) throws -> [Field] {
        var result: [Field] = []
        var index = 0
        func varint() throws -> UInt64 {
            var value: UInt64 = 0, shift: UInt64 = 0
            while true {
                guard index < data.count, shift < 64 else { throw DecodingError(reason: "truncated varint") }
                let byte = data[index]
                index += 1
                value |= UInt64(byte & 0x7f) << shift
                if byte & 0x80 == 0 { return value }
                shift += 7
            }
        }
        while index < data.count {
            let key = try varint()
            guard key >> 3 <= UInt64(Int32.max) else { throw DecodingError(reason: "bad field number") }
            var field = Field(number: Int(key >> 3))
            switch key & 7 {
            case 0: field.varint = try varint()
            case 1: index += 8
            case 2:
                let declared = try varint()
                guard declared <= UInt64(data.count) else { throw DecodingError(reason: "field \(field.number) is longer than the message") }
                let length = Int(declared)
                guard length >= 0, index + length <= data.count else { throw DecodingError(reason: "truncated field \(field.number)") }
                field.bytes = Array(data[index..<index + length])
                index += length
            case 5: index += 4
            default: throw DecodingError(reason: "unsupported wire type \(key & 7)")
            }
            guard index <= data.count else { throw DecodingError(reason: "truncated message") }
            result.append(field)
        }
        return result
    }
}
