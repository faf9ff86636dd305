import Foundation
import ConfigValues

/// Small builders for Envoy's proto-JSON, so generators read like the configuration they write.
enum EnvoyJSON {
    /// An object from key/value pairs in order; nil values are left out (proto3 JSON omits unset fields).
    static func object(_ pairs: KeyValuePairs<String, JSONValue?>) -> JSONValue {
        .object(pairs.compactMap { pair in pair.value.map { (key: pair.key, value: $0) } })
    }

    static func string(_ text: String) -> JSONValue { .string(text) }
    static func strings(_ texts: [String]) -> JSONValue { .array(texts.map(JSONValue.string)) }
    static func bool(_ value: Bool) -> JSONValue { .bool(value) }

    /// A protobuf Duration in its canonical JSON form: whole seconds, or 3, 6 or 9 fractional digits
    /// (`"10s"`, `"0.500s"`), as Envoy's config_dump writes it.
    static func duration(_ seconds: Double) -> JSONValue {
        let nanos = Int64((seconds * 1_000_000_000).rounded())
        let whole = nanos / 1_000_000_000, fraction = nanos % 1_000_000_000
        if fraction == 0 { return .string("\(whole)s") }
        let digits = fraction % 1_000_000 == 0 ? 3 : fraction % 1_000 == 0 ? 6 : 9
        let scaled = fraction / [3: 1_000_000, 6: 1_000, 9: 1][digits]!
        let padded = String(repeating: "0", count: max(0, digits - String(scaled).count)) + String(scaled)
        return .string("\(whole).\(padded)s")
    }

    /// A `typed_config` value: `@type` first, then the message's fields.
    static func typed(_ type: String, _ pairs: KeyValuePairs<String, JSONValue?> = [:]) -> JSONValue {
        var fields: [(key: String, value: JSONValue)] = [(key: "@type", value: .string("type.googleapis.com/" + type))]
        fields += pairs.compactMap { pair in pair.value.map { (key: pair.key, value: $0) } }
        return .object(fields)
    }

    static func socketAddress(_ host: String, _ port: Int) -> JSONValue {
        object(["socket_address": object(["address": .string(host), "port_value": .int(port)])])
    }

    /// A `FractionalPercent` over a million, as Istio writes percentages (`50.5` -> numerator 505000).
    static func millionths(percent: Double) -> JSONValue {
        object(["numerator": .int(Int((min(max(percent, 0), 100) * 10_000).rounded())), "denominator": .string("MILLION")])
    }

    /// The config source every xDS-served resource points back at: the pilot's REST-JSON endpoint behind
    /// the bootstrap's `xds-grpc` cluster (see the shared design).
    static let configSource = object([
        "api_config_source": object([
            "api_type": .string("REST"), "transport_api_version": .string("V3"), "cluster_names": strings(["xds-grpc"]),
            "refresh_delay": .string("1s"), "request_timeout": .string("30s"),
        ]),
        "resource_api_version": .string("V3"),
    ])

    /// An SDS secret reference served by the pilot (`default`, `ROOTCA`).
    static func sdsSecret(_ name: String) -> JSONValue {
        object(["name": .string(name), "sds_config": configSource])
    }

    /// Istio's "no limit" for circuit breakers: UINT32_MAX.
    static let unlimited = 4_294_967_295
}

extension JSONValue {
    /// Appends a field to an object (no effect on other values).
    mutating func set(_ key: String, _ value: JSONValue?) { self[key] = value }
}

extension JSONValue {
    /// A number as a Double (nil for other values).
    var double: Double? { if case .number(let text) = self { return Double(text) } else { return nil } }
}
