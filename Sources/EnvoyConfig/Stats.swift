import Foundation

/// Envoy's `/stats` text: `name: value` lines; counters and gauges are integers, text readouts are quoted,
/// histograms are `P0(interval,cumulative) P25(...) ...`.
public struct EnvoyStats: Sendable {
    public enum Value: Sendable, Equatable {
        case number(Int)
        case text(String)
        /// Quantile → (interval, cumulative); `nan` where Envoy has no sample.
        case histogram([(quantile: String, interval: Double, cumulative: Double)])

        public static func == (a: Value, b: Value) -> Bool {
            switch (a, b) {
            case (.number(let x), .number(let y)): return x == y
            case (.text(let x), .text(let y)): return x == y
            case (.histogram(let x), .histogram(let y)):
                return x.map(\.quantile) == y.map(\.quantile) && zip(x, y).allSatisfy { ($0.interval.isNaN && $1.interval.isNaN || $0.interval == $1.interval)
                    && ($0.cumulative.isNaN && $1.cumulative.isNaN || $0.cumulative == $1.cumulative) }
            default: return false
            }
        }
    }

    public let entries: [(name: String, value: Value)]

    /// Reads every `name: value` line; a line that is neither is an error naming its line number.
    public init(text: String, source: String) throws(EnvoyDataError) {
        var entries: [(String, Value)] = []
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() where !line.isEmpty {
            guard let separator = line.range(of: ": ") else { throw EnvoyDataError("\(source):\(index + 1): not a `name: value` stats line") }
            let name = String(line[..<separator.lowerBound]), rest = String(line[separator.upperBound...])
            if let number = Int(rest) {
                entries.append((name, .number(number)))
            } else if rest.hasPrefix("\"") {
                entries.append((name, .text(String(rest.dropFirst().dropLast(rest.hasSuffix("\"") ? 1 : 0)))))
            } else if rest.hasPrefix("P0(") || rest == "No recorded values" {
                entries.append((name, .histogram(Self.quantiles(rest))))
            } else {
                entries.append((name, .text(rest)))
            }
        }
        self.entries = entries
    }

    /// The counter or gauge of that name.
    public func number(_ name: String) -> Int? {
        for entry in entries where entry.name == name { if case .number(let value) = entry.value { return value } }
        return nil
    }

    static func quantiles(_ text: String) -> [(quantile: String, interval: Double, cumulative: Double)] {
        text.split(separator: " ").compactMap { item in
            guard let open = item.firstIndex(of: "("), item.hasSuffix(")") else { return nil }
            let values = item[item.index(after: open)..<item.index(before: item.endIndex)].split(separator: ",")
            guard values.count == 2 else { return nil }
            func number(_ text: Substring) -> Double { text == "nan" ? .nan : Double(text) ?? .nan }
            return (String(item[..<open]), number(values[0]), number(values[1]))
        }
    }
}

/// Prometheus text exposition (`/stats/prometheus`): samples with their labels, and each family's type.
public struct PrometheusText: Sendable {
    public struct Sample: Sendable, Equatable {
        public var name: String
        public var labels: [String: String]
        public var value: Double
    }

    public let samples: [Sample]
    /// Family name → counter, gauge, histogram...
    public let types: [String: String]

    public init(text: String, source: String) throws(EnvoyDataError) {
        var samples: [Sample] = []
        var types: [String: String] = [:]
        for (index, raw) in text.split(separator: "\n").enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty { continue }
            if line.hasPrefix("#") {
                let words = line.split(separator: " ")
                if words.count >= 4, words[1] == "TYPE" { types[String(words[2])] = String(words[3]) }
                continue
            }
            guard let sample = Self.sample(line) else { throw EnvoyDataError("\(source):\(index + 1): not a Prometheus sample line") }
            samples.append(sample)
        }
        self.samples = samples
        self.types = types
    }

    /// `name{a="x",b="y"} 12` (labels optional; quotes in values escaped with a backslash).
    static func sample(_ line: String) -> Sample? {
        var labels: [String: String] = [:]
        var name = ""
        var rest = Substring(line)
        if let brace = line.firstIndex(of: "{") {
            name = String(line[..<brace])
            var index = line.index(after: brace)
            while index < line.endIndex, line[index] != "}" {
                guard let equals = line[index...].firstIndex(of: "="), line.index(after: equals) < line.endIndex,
                      line[line.index(after: equals)] == "\"" else { return nil }
                let key = line[index..<equals].trimmingCharacters(in: CharacterSet(charactersIn: ", "))
                var value = ""
                var cursor = line.index(equals, offsetBy: 2)
                while cursor < line.endIndex, line[cursor] != "\"" {
                    if line[cursor] == "\\", line.index(after: cursor) < line.endIndex { cursor = line.index(after: cursor) }
                    value.append(line[cursor])
                    cursor = line.index(after: cursor)
                }
                guard cursor < line.endIndex else { return nil }
                labels[key] = value
                index = line.index(after: cursor)
                if index < line.endIndex, line[index] == "," { index = line.index(after: index) }
            }
            guard index < line.endIndex else { return nil }
            rest = line[line.index(after: index)...]
        } else {
            guard let space = line.firstIndex(of: " ") else { return nil }
            name = String(line[..<space])
            rest = line[space...]
        }
        let valueText = rest.split(separator: " ").first.map(String.init) ?? ""
        let value: Double? = valueText == "NaN" ? .nan : valueText == "+Inf" ? .infinity : Double(valueText)
        guard !name.isEmpty, let value else { return nil }
        return Sample(name: name, labels: labels, value: value)
    }
}
