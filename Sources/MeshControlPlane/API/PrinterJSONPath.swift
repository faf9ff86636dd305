import Foundation
import Manifests

/// The JSONPath of a CRD's `additionalPrinterColumns` (`.spec.size`, `.spec.ports[0].port`, `.spec.hosts[*]`,
/// `.status.conditions[?(@.type=="Ready")].status`) and how a cell shows what it finds, by the column's type,
/// as kube-apiserver does: the first match only; strings as they are, other values as JSON; dates as ages.
struct PrinterJSONPath: Sendable {
    enum Step: Sendable, Equatable {
        case field(String)
        case index(Int)
        case all
        /// `[?(@.a.b=="x")]`: the items whose field at that path equals the value.
        case filter([String], JSONValue)
    }
    let steps: [Step]

    /// Parses a path; nil when it uses JSONPath that printer columns do not support.
    init?(_ text: String) {
        var steps: [Step] = []
        var rest = Substring(text.trimmingCharacters(in: .whitespaces))
        if rest.hasPrefix("{") && rest.hasSuffix("}") { rest = rest.dropFirst().dropLast() }
        if rest.hasPrefix("$") { rest = rest.dropFirst() }
        while let first = rest.first {
            if first == "." {
                rest = rest.dropFirst()
                let name = rest.prefix { $0 != "." && $0 != "[" }
                guard !name.isEmpty else { return nil }
                steps.append(.field(String(name)))
                rest = rest.dropFirst(name.count)
            } else if first == "[" {
                guard let close = Self.closingBracket(rest) else { return nil }
                let inside = rest[rest.index(after: rest.startIndex)..<close]
                rest = rest[rest.index(after: close)...]
                if inside == "*" {
                    steps.append(.all)
                } else if let index = Int(inside) {
                    steps.append(.index(index))
                } else if inside.hasPrefix("'") && inside.hasSuffix("'") && inside.count >= 2 {
                    steps.append(.field(String(inside.dropFirst().dropLast())))
                } else if let filter = Self.filter(inside) {
                    steps.append(filter)
                } else {
                    return nil
                }
            } else {
                return nil
            }
        }
        self.steps = steps
    }

    private static func closingBracket(_ text: Substring) -> Substring.Index? {
        var quote: Character?
        for index in text.indices.dropFirst() {
            let character = text[index]
            if let open = quote { if character == open { quote = nil } } else if character == "\"" || character == "'" { quote = character } else if character == "]" { return index }
        }
        return nil
    }

    /// `?(@.type=="Ready")`.
    private static func filter(_ text: Substring) -> Step? {
        guard text.hasPrefix("?(@."), text.hasSuffix(")"), let equals = text.range(of: "==") else { return nil }
        let path = text[text.index(text.startIndex, offsetBy: 4)..<equals.lowerBound].split(separator: ".").map { String($0).trimmed }
        var literal = String(text[equals.upperBound..<text.index(before: text.endIndex)]).trimmed
        if literal.hasPrefix("'") && literal.hasSuffix("'") && literal.count >= 2 { literal = "\"" + literal.dropFirst().dropLast() + "\"" }
        guard !path.isEmpty, let value = try? JSONValue.parse(literal) else { return nil }
        return .filter(path, value)
    }

    /// The first value the path finds in `object`.
    func first(in object: JSONValue) -> JSONValue? {
        var current: [JSONValue] = [object]
        for step in steps {
            current = current.flatMap { node -> [JSONValue] in
                switch step {
                case .field(let name): return node[name].map { [$0] } ?? []
                case .index(let index):
                    guard let items = node.array else { return [] }
                    let position = index < 0 ? items.count + index : index
                    return items.indices.contains(position) ? [items[position]] : []
                case .all: return node.array ?? node.object?.map(\.value) ?? []
                case .filter(let path, let value):
                    return (node.array ?? []).filter { item in path.reduce(Optional(item)) { $0?[$1] } == value }
                }
            }
        }
        return current.first
    }

    /// The cell a column of `type` (string, integer, number, boolean, date) shows for `object`: nil when nothing matches.
    func cell(_ object: JSONValue, type: String, now: Date = Date()) -> JSONValue? {
        guard let value = first(in: object), !value.isNull else { return nil }
        switch (type, value) {
        case ("date", .string(let text)):
            return .string(Tables.age(.object([("metadata", .object([("creationTimestamp", .string(text))]))]), now: now))
        case (_, .string(let text)): return .string(text)
        default: return .string(value.serialized)
        }
    }
}
