import ConfigValues

/// Protobuf's merge (`proto.Merge`) on Envoy's JSON: objects merge field by field, lists are appended (or
/// replaced with `replaceLists`), scalars are overwritten, map fields (`typed_per_filter_config`, metadata) take
/// the patch's entry for each key whole, and an `Any` (`typed_config`) of another `@type` is replaced.
enum ProtoJSONMerge {
    /// Fields whose JSON object is a protobuf map or `Struct`: their entries are values, not fields.
    static let mapFields: Set<String> = [
        "typed_per_filter_config", "filter_metadata", "typed_filter_metadata", "typed_extension_protocol_options", "policies",
        "fields", "per_filter_config",
    ]

    static func merge(_ target: JSONValue, _ patch: JSONValue, replaceLists: Bool = false) -> JSONValue {
        switch (target, patch) {
        case (.object(var pairs), .object(let patchPairs)):
            if let type = patch["@type"], let current = target["@type"], type != current { return patch }
            for (key, value) in patchPairs {
                guard let index = pairs.firstIndex(where: { $0.key == key }) else { pairs.append((key, value)); continue }
                if mapFields.contains(key), case .object(var entries) = pairs[index].value, case .object(let patchEntries) = value {
                    for entry in patchEntries {
                        if let existing = entries.firstIndex(where: { $0.key == entry.key }) { entries[existing].value = entry.value } else { entries.append(entry) }
                    }
                    pairs[index].value = .object(entries)
                } else {
                    pairs[index].value = merge(pairs[index].value, value, replaceLists: replaceLists)
                }
            }
            return .object(pairs)
        case (.array(let items), .array(let patchItems)):
            return replaceLists ? patch : .array(items + patchItems)
        default:
            return patch
        }
    }

    /// An EnvoyFilter patch value (protobuf JSON accepts `camelCase` and `snake_case` names) with Envoy's
    /// `snake_case` field names; map keys, `@type` and the contents of `Struct` values stay as written.
    static func snakeCase(_ value: JSONValue) -> JSONValue {
        switch value {
        case .object(let pairs):
            return .object(pairs.map { pair in
                let key = pair.key.hasPrefix("@") ? pair.key : snakeCaseName(pair.key)
                if mapFields.contains(key), case .object(let entries) = pair.value {
                    // Map values are messages (typed configs, policies) except metadata's Structs.
                    let keepValues = key == "filter_metadata" || key == "fields"
                    return (key, .object(entries.map { ($0.key, keepValues ? $0.value : snakeCase($0.value)) }))
                }
                // A TypedStruct's `value` and a Value's `struct_value` are free-form data.
                let typedStruct = pairs.contains { $0.key == "type_url" || $0.key == "typeUrl" }
                if (key == "value" && typedStruct) || key == "struct_value" { return (key, pair.value) }
                return (key, snakeCase(pair.value))
            })
        case .array(let items): return .array(items.map(snakeCase))
        default: return value
        }
    }

    /// `portNumber` → `port_number`.
    static func snakeCaseName(_ name: String) -> String {
        var out = ""
        for character in name {
            if character.isUppercase { out += "_" + character.lowercased() } else { out.append(character) }
        }
        return out
    }

    static let typedStructTypes: Set<String> = ["type.googleapis.com/udpa.type.v1.TypedStruct", "type.googleapis.com/xds.type.v3.TypedStruct"]

    /// A patch value with every `TypedStruct` (`{"@type": TypedStruct, type_url, value}`, as Istio's docs write
    /// typed configs) turned into the typed config it stands for (`{"@type": type_url, ...value}`), as Envoy reads it.
    static func unwrapTypedStructs(_ value: JSONValue) -> JSONValue {
        switch value {
        case .object(let pairs):
            if let type = value["@type"]?.string, typedStructTypes.contains(type), let inner = value["type_url"]?.string ?? value["typeUrl"]?.string {
                let fields = value["value"]?.object ?? []
                return unwrapTypedStructs(.object([(key: "@type", value: .string(inner))] + fields))
            }
            return .object(pairs.map { ($0.key, unwrapTypedStructs($0.value)) })
        case .array(let items): return .array(items.map(unwrapTypedStructs))
        default: return value
        }
    }
}
