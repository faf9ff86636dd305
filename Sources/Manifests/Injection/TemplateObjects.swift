/// Kubernetes API structs as injection templates see them: Go field names (`.Spec.Containers`,
/// `$c.Ports`), Go zero values for absent fields, and JSON in Go's field order for `structToJSON`.
struct KubeStruct: TemplateObject {
    enum Field: Sendable {
        case string
        case int
        case bool
        /// `map[string]string`: a missing key reads as "".
        case stringMap
        case structure(KubeStructType)
        case list(KubeStructType?)
        /// Anything else: the data as it is.
        case data
    }

    struct FieldSpec: Sendable {
        var goName: String
        var jsonName: String
        var field: Field
        /// Written by json.Marshal even when empty (no omitempty).
        var always: Bool = false
    }

    let type: KubeStructType
    let node: YAMLNode

    var typeName: String { type.name }

    func field(_ name: String) -> TemplateValue? {
        guard let spec = type.fields.first(where: { $0.goName == name }) else {
            // Fields the table does not list read as their data, so templates keep working.
            let json = name.prefix(1).lowercased() + name.dropFirst()
            return node[json].map { TemplateValue(node: $0) } ?? .null
        }
        let value = node[spec.jsonName]
        switch spec.field {
        case .string: return .string(value?.scalarText ?? "")
        case .int: return .int(value?.int ?? 0)
        case .bool: return .bool(value?.bool ?? false)
        case .stringMap:
            var map = TemplateMap(zero: .string(""))
            for pair in value?.pairs ?? [] { map[pair.key.scalarText ?? ""] = .string(pair.value.scalarText ?? "") }
            return .map(map)
        case .structure(let type):
            return .object(KubeStruct(type: type, node: value ?? .mapping([])))
        case .list(let type):
            guard let items = value?.items else { return .null }
            return .list(items.map { item in
                type.map { TemplateValue.object(KubeStruct(type: $0, node: item)) } ?? TemplateValue(node: item)
            })
        case .data:
            return value.map { TemplateValue(node: $0) } ?? .null
        }
    }

    var dataValue: TemplateValue {
        var map = TemplateMap()
        for spec in type.fields {
            guard let value = node[spec.jsonName], !value.isNull else { continue }
            if !spec.always {
                if value.scalarText == "" || (value.scalar?.kind == .int && value.int == 0) || value.bool == false { continue }
                if let items = value.items, items.isEmpty { continue }
            }
            switch spec.field {
            case .structure(let type): map[spec.jsonName] = .object(KubeStruct(type: type, node: value))
            default: map[spec.jsonName] = TemplateValue(node: value)
            }
        }
        return .map(map)
    }
}

/// The Kubernetes types templates read.
struct KubeStructType: Sendable {
    var name: String
    var fields: [KubeStruct.FieldSpec]

    private static func f(_ go: String, _ json: String, _ field: KubeStruct.Field, always: Bool = false) -> KubeStruct.FieldSpec {
        KubeStruct.FieldSpec(goName: go, jsonName: json, field: field, always: always)
    }

    static let objectMeta = KubeStructType(name: "v1.ObjectMeta", fields: [
        f("Name", "name", .string), f("GenerateName", "generateName", .string), f("Namespace", "namespace", .string),
        f("Labels", "labels", .stringMap), f("Annotations", "annotations", .stringMap),
        f("OwnerReferences", "ownerReferences", .data),
    ])

    static let typeMeta = KubeStructType(name: "v1.TypeMeta", fields: [
        f("Kind", "kind", .string), f("APIVersion", "apiVersion", .string),
    ])

    static let namespacedName = KubeStructType(name: "types.NamespacedName", fields: [
        f("Namespace", "namespace", .string), f("Name", "name", .string),
    ])

    static let containerPort = KubeStructType(name: "v1.ContainerPort", fields: [
        f("Name", "name", .string), f("HostPort", "hostPort", .int), f("ContainerPort", "containerPort", .int, always: true),
        f("Protocol", "protocol", .string), f("HostIP", "hostIP", .string),
    ])

    static let container = KubeStructType(name: "v1.Container", fields: [
        f("Name", "name", .string, always: true), f("Image", "image", .string), f("Command", "command", .data),
        f("Args", "args", .data), f("WorkingDir", "workingDir", .string), f("Ports", "ports", .list(containerPort)),
        f("Env", "env", .data), f("Resources", "resources", .data), f("VolumeMounts", "volumeMounts", .data),
        f("LivenessProbe", "livenessProbe", .data), f("ReadinessProbe", "readinessProbe", .data),
        f("StartupProbe", "startupProbe", .data), f("Lifecycle", "lifecycle", .data),
        f("ImagePullPolicy", "imagePullPolicy", .string), f("SecurityContext", "securityContext", .data),
        f("RestartPolicy", "restartPolicy", .data),
    ])

    static let podSpec = KubeStructType(name: "v1.PodSpec", fields: [
        f("Volumes", "volumes", .data), f("InitContainers", "initContainers", .list(container)),
        f("Containers", "containers", .list(container), always: true), f("RestartPolicy", "restartPolicy", .string),
        f("ServiceAccountName", "serviceAccountName", .string), f("NodeName", "nodeName", .string),
        f("HostNetwork", "hostNetwork", .bool), f("SecurityContext", "securityContext", .data),
        f("ImagePullSecrets", "imagePullSecrets", .data), f("Hostname", "hostname", .string),
    ])
}

/// A protobuf message (ProxyConfig, MeshConfig) read from its JSON form: Go names map to the JSON
/// names, `GetX` getters are nil-safe, enums print their names and wrappers answer `GetValue`.
struct ProtoMessage: TemplateObject, TemplateProtoMessage {
    let typeName: String
    /// The message, or nil for a nil pointer (every getter of which returns a zero value).
    let node: YAMLNode?
    /// Field kinds that differ from what the JSON shows: enums and wrappers by JSON name, with zero values.
    let fieldKinds: [String: ProtoFieldKind]
    /// Field order for JSON, by JSON name (the proto field numbers' order).
    let fieldOrder: [String]

    var isTruthy: Bool { node != nil }

    func field(_ name: String) -> TemplateValue? {
        let json = name.prefix(1).lowercased() + name.dropFirst()
        let value = node?[json]
        switch fieldKinds[json] {
        case .enumeration(let zero):
            return .object(ProtoEnum(name: value?.scalarText ?? zero))
        case .wrapper:
            return .object(ProtoWrapper(value: value.map { TemplateValue(node: $0) }))
        case .string:
            return .string(value?.scalarText ?? "")
        case .int:
            return .int(value?.int ?? 0)
        case .stringMap:
            var map = TemplateMap(zero: .string(""))
            for pair in value?.pairs ?? [] { map[pair.key.scalarText ?? ""] = .string(pair.value.scalarText ?? "") }
            return .map(map)
        case .message(let kinds):
            if let value, value.pairs != nil {
                return .object(ProtoMessage(typeName: name, node: value, fieldKinds: kinds, fieldOrder: []))
            }
            return .object(ProtoMessage(typeName: name, node: nil, fieldKinds: kinds, fieldOrder: []))
        case nil:
            guard let value else { return node == nil ? .null : .null }
            if value.pairs != nil { return .object(ProtoMessage(typeName: name, node: value, fieldKinds: [:], fieldOrder: [])) }
            return TemplateValue(node: value)
        }
    }

    func method(_ name: String, arguments: [TemplateValue]) throws -> TemplateValue? {
        guard name.hasPrefix("Get"), name.count > 3, arguments.isEmpty else { return nil }
        let fieldName = String(name.dropFirst(3))
        let value = field(fieldName) ?? .null
        if value.isNil { return .object(ProtoMessage(typeName: fieldName, node: nil, fieldKinds: [:], fieldOrder: [])) }
        return value
    }

    var dataValue: TemplateValue {
        guard let node else { return .null }
        return TemplateValue(node: node)
    }

    /// protojson's form: fields in field-number order, lowerCamel names.
    var protoJSON: String {
        guard let node, let pairs = node.pairs, !pairs.isEmpty else { return "{}" }
        let ranked = pairs.sorted { left, right in
            let a = fieldOrder.firstIndex(of: left.key.scalarText ?? "") ?? Int.max
            let b = fieldOrder.firstIndex(of: right.key.scalarText ?? "") ?? Int.max
            return a < b
        }
        var map = TemplateMap()
        for pair in ranked { map[pair.key.scalarText ?? ""] = Self.protoValue(pair.value) }
        return GoFormat.json(.object(OrderedData(value: .map(map))))
    }

    private static func protoValue(_ node: YAMLNode) -> TemplateValue {
        switch node.content {
        case .mapping(let pairs):
            // Maps (proxyMetadata) come out with sorted keys in protojson too.
            var map = TemplateMap()
            for pair in pairs.sorted(by: { ($0.key.scalarText ?? "") < ($1.key.scalarText ?? "") }) {
                map[pair.key.scalarText ?? ""] = protoValue(pair.value)
            }
            return .object(OrderedData(value: .map(map)))
        case .sequence(let items):
            return .list(items.map(protoValue))
        case .scalar:
            return TemplateValue(node: node)
        }
    }
}

/// How a protobuf field reads when the JSON does not say.
indirect enum ProtoFieldKind: Sendable {
    case enumeration(zero: String)
    case wrapper
    case string
    case int
    case stringMap
    case message([String: ProtoFieldKind])
}

/// A protobuf enum value: prints as its name, and has `String`.
struct ProtoEnum: TemplateObject {
    let name: String
    var typeName: String { "enum" }
    func field(_ name: String) -> TemplateValue? { nil }
    func method(_ method: String, arguments: [TemplateValue]) throws -> TemplateValue? {
        method == "String" ? .string(name) : nil
    }
    var dataValue: TemplateValue { .string(name) }
}

/// A protobuf wrapper (`BoolValue`, `Int32Value`): `GetValue`, nil-safe.
struct ProtoWrapper: TemplateObject {
    let value: TemplateValue?
    var typeName: String { "wrappers.Value" }
    var isTruthy: Bool { value != nil }
    func field(_ name: String) -> TemplateValue? { name == "Value" ? (value ?? .bool(false)) : nil }
    func method(_ name: String, arguments: [TemplateValue]) throws -> TemplateValue? {
        name == "GetValue" ? (value ?? .bool(false)) : nil
    }
    var dataValue: TemplateValue { value ?? .null }
}

/// Data whose map keys keep their order when written as JSON (a Go struct, not a Go map).
struct OrderedData: TemplateObject {
    let value: TemplateValue
    var typeName: String { "struct" }
    func field(_ name: String) -> TemplateValue? { nil }
    var dataValue: TemplateValue { value }
}
