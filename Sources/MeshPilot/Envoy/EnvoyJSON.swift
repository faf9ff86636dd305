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
    /// Values outside protobuf's range (0 to 10,000 years) are clamped: a user's `99999999999h` must not trap.
    static func duration(_ seconds: Double) -> JSONValue {
        let bounded = seconds.isNaN ? 0 : min(max(seconds, 0), maximumDurationSeconds)
        var whole = Int64(bounded.rounded(.down)), fraction = Int64(((bounded - bounded.rounded(.down)) * 1_000_000_000).rounded())
        if fraction == 1_000_000_000 { (whole, fraction) = (whole + 1, 0) }
        if fraction == 0 { return .string("\(whole)s") }
        let digits = fraction % 1_000_000 == 0 ? 3 : fraction % 1_000 == 0 ? 6 : 9
        let scaled = fraction / [3: 1_000_000, 6: 1_000, 9: 1][digits]!
        let padded = String(repeating: "0", count: max(0, digits - String(scaled).count)) + String(scaled)
        return .string("\(whole).\(padded)s")
    }

    /// google.protobuf.Duration's largest value, 10,000 years in seconds.
    static let maximumDurationSeconds = 315_576_000_000.0

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

    /// The value when it fits a uint32 field, else nil.
    static func uint32(_ value: Int?) -> Int? { value.flatMap { (0...unlimited).contains($0) ? $0 : nil } }

    /// Weights as Envoy takes them (uint32, their sum at most UINT32_MAX): negative ones become 0, and when the sum
    /// is larger each is scaled down in proportion (a positive one stays at least 1). Never overflows.
    static func boundedWeights(_ raw: [Int]) -> [Int] {
        let positive = raw.map { max($0, 0) }
        let total = positive.reduce(0.0) { $0 + Double($1) }
        guard total > Double(unlimited) else { return positive }
        let scale = Double(unlimited - positive.count) / total
        return positive.map { $0 == 0 ? 0 : max(1, Int((Double($0) * scale).rounded(.down))) }
    }
}

extension JSONValue {
    /// Appends a field to an object (no effect on other values).
    mutating func set(_ key: String, _ value: JSONValue?) { self[key] = value }
}

extension JSONValue {
    /// A number as a Double (nil for other values).
    var double: Double? { if case .number(let text) = self { return Double(text) } else { return nil } }
}
