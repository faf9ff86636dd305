import ConfigValues

/// A DestinationRule's traffic policy for one port and subset: the rule's policy, its port-level settings for the
/// port, then the subset's policy and its port-level settings, each field replacing the one before (Istio's merge).
struct TrafficPolicy {
    static let fields = ["loadBalancer", "connectionPool", "outlierDetection", "tls", "tunnel", "proxyProtocol"]

    var loadBalancer: JSONValue?
    var connectionPool: JSONValue?
    var outlierDetection: JSONValue?
    var tls: JSONValue?

    init(rule: IstioConfig?, subset: String?, port: Int) {
        guard let rule else { return }
        apply(rule.spec["trafficPolicy"], port: port)
        if let subset, let found = (rule.spec["subsets"]?.array ?? []).first(where: { $0["name"]?.string == subset }) {
            apply(found["trafficPolicy"], port: port)
        }
    }

    private mutating func apply(_ policy: JSONValue?, port: Int) {
        guard let policy else { return }
        merge(policy)
        if let settings = policy["portLevelSettings"]?.array?.first(where: { $0.value(atPath: "port.number")?.int == port }) { merge(settings) }
    }

    private mutating func merge(_ policy: JSONValue) {
        if let value = policy["loadBalancer"] { loadBalancer = value }
        if let value = policy["connectionPool"] { connectionPool = value }
        if let value = policy["outlierDetection"] { outlierDetection = value }
        if let value = policy["tls"] { tls = value }
    }

    /// Istio's duration strings (`"1s"`, `"100ms"`, `"1m"`, `"1h"`) in seconds; nil for text it cannot read.
    static func seconds(_ value: JSONValue?) -> Double? {
        guard let text = value?.string, !text.isEmpty else { return nil }
        let units: [(String, Double)] = [("ms", 0.001), ("us", 0.000_001), ("µs", 0.000_001), ("ns", 0.000_000_001), ("h", 3600), ("m", 60), ("s", 1)]
        var rest = Substring(text), total = 0.0
        while !rest.isEmpty {
            let digits = rest.prefix { $0.isNumber || $0 == "." }
            guard let number = Double(digits), !digits.isEmpty else { return nil }
            rest = rest.dropFirst(digits.count)
            guard let unit = units.first(where: { rest.hasPrefix($0.0) }) else { return nil }
            total += number * unit.1
            rest = rest.dropFirst(unit.0.count)
        }
        return total
    }
}
