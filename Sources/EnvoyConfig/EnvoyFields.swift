import ConfigValues

/// Reading Envoy's JSON leniently: Envoy writes its own field names (`cluster_name`), protobuf's JSON mapping and
/// istioctl write lowerCamelCase (`clusterName`); both are accepted wherever a field is read.
extension JSONValue {
    /// The field under its Envoy name (snake_case) or its lowerCamelCase JSON name.
    public func field(_ name: String) -> JSONValue? {
        if let value = self[name] { return value }
        let camel = EnvoyFieldName.camelCased(name)
        return camel == name ? nil : self[camel]
    }

    /// The text of a string field, "" when absent.
    public func text(_ name: String) -> String { field(name)?.string ?? "" }

    /// The items of an array field, none when absent.
    public func items(_ name: String) -> [JSONValue] { field(name)?.array ?? [] }

    /// A protobuf integer, which proto3 JSON may write as a number or a string (`"5"`).
    public var integer: Int? {
        if let int { return int }
        return string.flatMap { Int($0) }
    }

    /// A `google.protobuf.UInt32Value`-style wrapper (`{"value": 5}`) or a bare number.
    public var wrappedInteger: Int? { self["value"]?.integer ?? integer }

    /// The `@type` of an `Any`, e.g. `type.googleapis.com/envoy.config.cluster.v3.Cluster`.
    public var typeURL: String? { self["@type"]?.string }
}

/// Envoy's field names and protobuf's JSON names for them.
public enum EnvoyFieldName {
    /// `cluster_name` → `clusterName`.
    public static func camelCased(_ name: String) -> String {
        guard name.contains("_") else { return name }
        var result = ""
        var upperNext = false
        for character in name {
            if character == "_" { upperNext = true; continue }
            result.append(upperNext ? Character(character.uppercased()) : character)
            upperNext = false
        }
        return result
    }

    /// Fields whose value is a `google.protobuf.Struct` or a map keyed by user names: their keys are data, not field
    /// names, and are never renamed.
    static let keyedByData: Set<String> = ["filter_metadata", "filterMetadata", "typed_filter_metadata", "typedFilterMetadata",
                                           "typed_per_filter_config", "typedPerFilterConfig", "fields"]

    /// The value with every field name in protobuf's JSON form (lowerCamelCase), as istioctl prints configuration;
    /// data keys (metadata structs, per-filter maps) stay as they are, in key order.
    public static func protoJSON(_ value: JSONValue, keysAreData: Bool = false) -> JSONValue {
        switch value {
        case .array(let items):
            return .array(items.map { protoJSON($0) })
        case .object(let unsorted):
            // Protobuf's JSON writes maps and Struct fields in key order.
            let pairs = keysAreData ? unsorted.sorted { $0.key < $1.key } : unsorted
            return .object(pairs.map { pair in
                // Field names are lower case; anything else (`@type`, `ISTIO_VERSION`) is data.
                let isFieldName = pair.key.first.map { $0.isLowercase } ?? false
                let key = keysAreData || !isFieldName ? pair.key : camelCased(pair.key)
                if keyedByData.contains(pair.key) {
                    // The map's keys are names; each value is a Struct (filter_metadata) or an Any (typed_per_filter_config).
                    let valuesAreStructs = pair.key.lowercased().hasPrefix("filter") || pair.key == "fields"
                    let entries = (pair.value.object ?? []).sorted { $0.key < $1.key }.map { entry in
                        (key: entry.key, value: protoJSON(entry.value, keysAreData: valuesAreStructs))
                    }
                    return (key: key, value: pair.value.object == nil ? pair.value : .object(entries))
                }
                // A node's or build version's metadata is a Struct; an endpoint's or route's metadata holds filter_metadata.
                if pair.key == "metadata", let object = pair.value.object,
                   !object.contains(where: { keyedByData.contains($0.key) }) {
                    return (key: key, value: protoJSON(pair.value, keysAreData: true))
                }
                return (key: key, value: protoJSON(pair.value, keysAreData: keysAreData))
            })
        default:
            return value
        }
    }
}
