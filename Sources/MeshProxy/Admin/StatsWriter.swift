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
        return keeps(name: stat.name)
    }

    /// Histograms and labeled metrics exist once used, so only the name counts.
    func keeps(name: String) -> Bool {
        guard let pattern else { return true }
        return pattern.contains(name)
    }
}

/// `/stats` as `name: value` lines, as JSON (`{"stats": [{"name", "value"}]}`), and in Prometheus' text format
/// with Envoy's tag extraction for clusters, connection managers and listeners.
struct StatsWriter {
    let stats: ProxyStats

    func text(_ filter: StatsFilter) -> String {
        var out = stats.snapshot().filter(filter.keeps).map { "\($0.name): \($0.value)\n" }.joined()
        // Envoy's own histograms as quantiles (`P50(interval,cumulative)`; no interval values are kept: nan).
        // Istio's labeled metrics are for Prometheus: `/stats/prometheus` has them.
        let histograms = stats.labeled.histogramSnapshot().filter { $0.series.labels.isEmpty && filter.keeps(name: $0.series.name) }
        for (series, histogram) in histograms.sorted(by: { $0.series.name < $1.series.name }) {
            let quantiles = [0, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 100].map { percent in
                "P\(Self.number(percent))(nan,\(Self.number(Self.quantile(histogram, percent / 100))))"
            }
            out += "\(series.name): \(quantiles.joined(separator: " "))\n"
        }
        return out
    }

    /// An estimate of a quantile from the buckets: the upper bound of the bucket it falls in.
    static func quantile(_ histogram: LabeledMetrics.Histogram, _ fraction: Double) -> Double {
        guard histogram.count > 0 else { return 0 }
        let rank = max(1, Int((fraction * Double(histogram.count)).rounded(.up)))
        let index = histogram.cumulative.firstIndex { $0 >= rank }
        return index.map { LabeledMetrics.buckets[$0] } ?? histogram.sum / Double(histogram.count)
    }

    /// A number as Envoy's Prometheus output writes it (`%g`: `0.5`, `300000`, `1.8e+06`).
    static func number(_ value: Double) -> String { String(format: "%g", value) }

    func json(_ filter: StatsFilter) -> JSONValue {
        .object([("stats", .array(stats.snapshot().filter(filter.keeps).map {
            .object([("name", .string($0.name)), ("value", .int($0.value))])
        }))])
    }

    func prometheus(_ filter: StatsFilter) -> String {
        var families: [String: (kind: ProxyStats.Kind, lines: [String])] = [:]
        for stat in stats.snapshot().filter(filter.keeps) {
            let (family, labels) = Self.prometheusName(stat.name)
            if families[family] == nil { families[family] = (stat.kind, []) }
            let labelText = labels.isEmpty ? "" : "{" + labels.map { "\($0.0)=\"\($0.1)\"" }.joined(separator: ",") + "}"
            families[family]!.lines.append("\(family)\(labelText) \(stat.value)")
        }
        var typed: [String: (type: String, lines: [String])] = families.mapValues { ($0.kind == .counter ? "counter" : "gauge", $0.lines) }
        func labelText(_ labels: [(String, String)]) -> String {
            labels.isEmpty ? "" : "{" + labels.map { "\($0.0)=\"\(Self.escape($0.1))\"" }.joined(separator: ",") + "}"
        }
        let bySeries = { (a: LabeledMetrics.Series, b: LabeledMetrics.Series) in (a.name, a.labels.joined(separator: "\u{1}")) < (b.name, b.labels.joined(separator: "\u{1}")) }
        for (series, value) in stats.labeled.counterSnapshot().sorted(by: { bySeries($0.series, $1.series) }) where filter.keeps(name: series.name) {
            typed[series.name, default: ("counter", [])].lines.append("\(series.name)\(labelText(series.labelPairs)) \(value)")
        }
        for (series, histogram) in stats.labeled.histogramSnapshot().sorted(by: { bySeries($0.series, $1.series) }) where filter.keeps(name: series.name) {
            // Envoy's own histograms get its tag extraction; Istio's carry their labels.
            let (family, labels) = series.labels.isEmpty ? Self.prometheusName(series.name) : (series.name, series.labelPairs)
            var lines = zip(LabeledMetrics.buckets, histogram.cumulative).map { bound, count in
                "\(family)_bucket\(labelText(labels + [("le", Self.number(bound))])) \(count)"
            }
            lines.append("\(family)_bucket\(labelText(labels + [("le", "+Inf")])) \(histogram.count)")
            lines.append("\(family)_sum\(labelText(labels)) \(Self.number(histogram.sum))")
            lines.append("\(family)_count\(labelText(labels)) \(histogram.count)")
            typed[family, default: ("histogram", [])].lines += lines
        }
        var out = ""
        for family in typed.keys.sorted() {
            let entry = typed[family]!
            out += "# TYPE \(family) \(entry.type)\n"
            out += entry.lines.joined(separator: "\n") + "\n"
        }
        return out
    }

    /// A label value with `\`, `"` and newlines escaped, as Prometheus' text format wants.
    static func escape(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n")
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
