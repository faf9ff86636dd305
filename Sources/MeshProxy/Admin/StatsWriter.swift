import Foundation
import ConfigValues

/// Which stats a `/stats` query asks for: `filter` (a regular expression searched in the name) and `usedonly`.
struct StatsFilter {
    let pattern: RegexPattern?
    let usedOnly: Bool

    init?(_ query: [String: String]) {
        usedOnly = query["usedonly"] != nil
        if let text = query["filter"], !text.isEmpty {
            guard let pattern = RegexPattern(text) else { return nil }
            self.pattern = pattern
        } else {
            pattern = nil
        }
    }

    func keeps(_ stat: (name: String, kind: ProxyStats.Kind, value: Int, used: Bool)) -> Bool {
        if usedOnly && !stat.used { return false }
        guard let pattern else { return true }
        return pattern.contains(stat.name)
    }
}

/// `/stats` as `name: value` lines, as JSON (`{"stats": [{"name", "value"}]}`), and in Prometheus' text format
/// with Envoy's tag extraction for clusters, connection managers and listeners.
struct StatsWriter {
    let stats: ProxyStats

    func text(_ filter: StatsFilter) -> String {
        stats.snapshot().filter(filter.keeps).map { "\($0.name): \($0.value)\n" }.joined()
    }

    func json(_ filter: StatsFilter) -> JSONValue {
        .object([("stats", .array(stats.snapshot().filter(filter.keeps).map {
            .object([("name", .string($0.name)), ("value", .int($0.value))])
        }))])
    }

    func prometheus(_ filter: StatsFilter) -> String {
        var families: [String: (kind: ProxyStats.Kind, lines: [String])] = [:]
        var order: [String] = []
        for stat in stats.snapshot().filter(filter.keeps) {
            let (family, labels) = Self.prometheusName(stat.name)
            if families[family] == nil { order.append(family); families[family] = (stat.kind, []) }
            let labelText = labels.isEmpty ? "" : "{" + labels.map { "\($0.0)=\"\($0.1)\"" }.joined(separator: ",") + "}"
            families[family]!.lines.append("\(family)\(labelText) \(stat.value)")
        }
        var out = ""
        for family in order.sorted() {
            let entry = families[family]!
            out += "# TYPE \(family) \(entry.kind == .counter ? "counter" : "gauge")\n"
            out += entry.lines.joined(separator: "\n") + "\n"
        }
        return out
    }

    /// `cluster.NAME.upstream_rq_503` -> `envoy_cluster_upstream_rq{envoy_response_code="503",envoy_cluster_name="NAME"}`.
    static func prometheusName(_ name: String) -> (String, [(String, String)]) {
        var labels: [(String, String)] = []
        var rest = name
        for (prefix, label) in [("cluster.", "envoy_cluster_name"), ("http.", "envoy_http_conn_manager_prefix"), ("listener.", "envoy_listener_address")] {
            guard rest.hasPrefix(prefix) else { continue }
            let afterPrefix = rest.dropFirst(prefix.count)
            // Cluster names may hold dots; the stat's own part is one of the known suffixes.
            guard let split = Self.knownSuffixStart(afterPrefix) else { break }
            labels.append((label, String(afterPrefix[..<split]).replacingOccurrences(of: "\"", with: "\\\"")))
            rest = prefix + afterPrefix[afterPrefix.index(after: split)...]
            break
        }
        var base = rest
        if let range = base.range(of: #"_(\d{3})$"#, options: .regularExpression), base.contains("_rq_") {
            labels.insert(("envoy_response_code", String(base[range].dropFirst())), at: 0)
            base = String(base[..<range.lowerBound])
        } else if let range = base.range(of: #"_(\d)xx$"#, options: .regularExpression), base.contains("_rq_") {
            labels.insert(("envoy_response_code_class", String(base[range].dropFirst().prefix(1))), at: 0)
            base = String(base[..<range.lowerBound])
        }
        let family = "envoy_" + base.map { $0.isLetter || $0.isNumber ? String($0) : "_" }.joined()
        return (family, labels)
    }

    /// Where the stat's own name starts after a cluster, prefix or listener name: the last `.` before a known first word.
    private static func knownSuffixStart(_ text: Substring) -> String.Index? {
        let words = ["upstream_", "downstream_", "outlier_detection.", "membership_", "no_route", "no_cluster", "rq_", "fault."]
        var candidate: String.Index?
        var index = text.startIndex
        while let dot = text[index...].firstIndex(of: ".") {
            let after = text[text.index(after: dot)...]
            if words.contains(where: { after.hasPrefix($0) }) { candidate = dot; break }
            index = text.index(after: dot)
        }
        return candidate
    }
}

extension RegexPattern {
    /// Whether the pattern matches anywhere in `value` (stats filters search, they are not anchored).
    func contains(_ value: String) -> Bool {
        expression.firstMatch(in: value, range: NSRange(value.startIndex..., in: value)) != nil
    }
}
