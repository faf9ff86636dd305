import Foundation
import Manifests

/// `kubectl get` asks for `meta.k8s.io/v1` Tables: the server formats the rows, kubectl prints them.
enum Tables {
    static func wanted(_ accept: String?) -> Bool { accept?.contains("as=Table") ?? false }

    static func columnDefinitions(_ type: ResourceType) -> JSONValue {
        func definition(_ name: String, _ format: String, _ description: String, _ priority: Int) -> JSONValue {
            .object([("name", .string(name)), ("type", .string("string")), ("format", .string(format)), ("description", .string(description)),
                     ("priority", .int(priority))])
        }
        var columns = [definition("Name", "name", "Name must be unique within a namespace.", 0)]
        columns += ordered(type).map { column in
            column.map { definition($0.name, "", "\($0.name) of the \(type.kind)", $0.priority) }
                ?? definition("Age", "", "Time since the object was created.", 0)
        }
        return .array(columns)
    }

    /// The kind's columns after Name, with Age (nil) after those every table shows and before the `-o wide` ones, as kubectl orders them.
    static func ordered(_ type: ResourceType) -> [PrinterColumn?] {
        type.columns.filter { $0.priority == 0 } + (type.showsAge ? [nil] : []) + type.columns.filter { $0.priority != 0 }
    }

    static func row(_ type: ResourceType, _ object: JSONValue, now: Date) -> JSONValue {
        var cells: [JSONValue] = [.string(object["metadata"]?["name"]?.string ?? "")]
        for column in ordered(type) {
            guard let column else { cells.append(.string(age(object, now: now))); continue }
            switch column.source {
            case .field(let path):
                switch object.value(atPath: path) {
                case .none, .some(.null): cells.append(.null)
                case .some(.string(let text)): cells.append(.string(text))
                case .some(let value): cells.append(.string(value.serialized))
                }
            case .age: cells.append(.string(age(object, now: now)))
            case .computed(let compute): cells.append(.string(compute(object)))
            case .cell(let compute): cells.append(compute(object) ?? .null)
            }
        }
        return .object([("cells", .array(cells)), ("object", partialMetadata(object))])
    }

    static func table(_ type: ResourceType, _ objects: [JSONValue], resourceVersion: String, withColumns: Bool = true) -> JSONValue {
        let now = Date()
        var pairs: [(key: String, value: JSONValue)] = [("kind", .string("Table")), ("apiVersion", .string("meta.k8s.io/v1")),
                                                         ("metadata", .object([("resourceVersion", .string(resourceVersion))]))]
        if withColumns { pairs.append(("columnDefinitions", columnDefinitions(type))) }
        pairs.append(("rows", .array(objects.map { row(type, $0, now: now) })))
        return .object(pairs)
    }

    static func partialMetadata(_ object: JSONValue) -> JSONValue {
        .object([("kind", .string("PartialObjectMetadata")), ("apiVersion", .string("meta.k8s.io/v1")), ("metadata", object["metadata"] ?? .object([]))])
    }

    /// Kubernetes' short durations: 45s, 5m3s, 3h12m, 3d.
    static func age(_ object: JSONValue, now: Date) -> String {
        guard let text = object["metadata"]?["creationTimestamp"]?.string, let created = Timestamps.parse(text) else { return "<unknown>" }
        let seconds = max(0, Int(now.timeIntervalSince(created)))
        switch seconds {
        case ..<120: return "\(seconds)s"
        case ..<600: return seconds % 60 == 0 ? "\(seconds / 60)m" : "\(seconds / 60)m\(seconds % 60)s"
        case ..<10_800: return "\(seconds / 60)m"
        case ..<28_800: return (seconds % 3600) / 60 == 0 ? "\(seconds / 3600)h" : "\(seconds / 3600)h\((seconds % 3600) / 60)m"
        case ..<172_800: return "\(seconds / 3600)h"
        case ..<(8 * 86_400): return (seconds % 86_400) / 3600 == 0 ? "\(seconds / 86_400)d" : "\(seconds / 86_400)d\((seconds % 86_400) / 3600)h"
        default: return "\(seconds / 86_400)d"
        }
    }
}

/// RFC 3339 timestamps as Kubernetes writes them (`2026-11-27T16:08:18Z`), as Dates (reading is Manifests' `RFC3339`).
public enum Timestamps {
    public static func now() -> String { format(Date()) }

    public static func format(_ date: Date) -> String {
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02dZ", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday),
                      Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec))
    }

    public static func parse(_ text: String) -> Date? {
        RFC3339.epochSeconds(text).map { Date(timeIntervalSince1970: Double($0)) }
    }
}
