import Manifests

/// An object's `metadata.managedFields`: which field manager set which fields, by Apply (server-side apply) or
/// Update (create, PUT and the other patches), as kube-apiserver keeps them. Server-side apply reads them to
/// find conflicts between managers and to remove the fields a manager stops applying.
struct ManagedFields {
    struct Entry {
        var manager: String
        var operation: String
        var apiVersion: String
        var time: String
        var fields: FieldSet
        /// The entry as it was read, written back as it is while nothing changes it (and always for a fieldsType
        /// other than FieldsV1).
        var raw: JSONValue?

        var json: JSONValue {
            if let raw { return raw }
            return .object([("manager", .string(manager)), ("operation", .string(operation)), ("apiVersion", .string(apiVersion)),
                            ("time", .string(time)), ("fieldsType", .string("FieldsV1")), ("fieldsV1", fields.fieldsV1)])
        }
    }

    var entries: [Entry] = []

    init(_ value: JSONValue?) {
        entries = (value?.array ?? []).compactMap { item in
            guard let manager = item["manager"]?.string else { return nil }
            let fields = item["fieldsV1"].map { FieldSet(fieldsV1: $0) } ?? FieldSet()
            return Entry(manager: manager, operation: item["operation"]?.string ?? "Update", apiVersion: item["apiVersion"]?.string ?? "",
                         time: item["time"]?.string ?? "", fields: fields,
                         raw: item)
        }
    }

    /// The entries as `metadata.managedFields` (nil when there are none).
    var json: JSONValue? {
        let kept = entries.filter { !$0.fields.isEmpty || ($0.raw != nil && $0.raw?["fieldsType"]?.string != "FieldsV1") }
        return kept.isEmpty ? nil : .array(kept.map(\.json))
    }

    private func index(_ manager: String, _ operation: String) -> Int? {
        entries.firstIndex { $0.manager == manager && $0.operation == operation }
    }

    /// Sets one manager's fields for one operation; the time moves only when the fields do.
    private mutating func set(_ manager: String, _ operation: String, apiVersion: String, fields: FieldSet) {
        if let index = index(manager, operation) {
            if entries[index].fields != fields || entries[index].apiVersion != apiVersion {
                entries[index].raw = nil
                entries[index].fields = fields
                entries[index].apiVersion = apiVersion
                entries[index].time = Timestamps.now()
            }
        } else if !fields.isEmpty {
            entries.append(Entry(manager: manager, operation: operation, apiVersion: apiVersion, time: Timestamps.now(), fields: fields))
        }
    }

    /// Records an Update by `manager` from `old` (nil: a create) to `new`: the manager owns what it changed, and
    /// no other manager still owns those fields or the ones it removed.
    mutating func recordUpdate(manager: String, apiVersion: String, old: JSONValue?, new: JSONValue, listKeys: FieldSet.ListKeys) {
        let after = FieldSet.of(new, listKeys: listKeys)
        guard let old else {
            set(manager, "Update", apiVersion: apiVersion, fields: after)
            return
        }
        let before = FieldSet.of(old, listKeys: listKeys)
        let changed = after.paths.filter { path in !before.paths.contains(path) || FieldSet.value(old, at: path) != FieldSet.value(new, at: path) }
            .filter { path in
                // An object or list item whose fields changed is not itself changed.
                !(FieldSet.value(new, at: path)?.object != nil && before.paths.contains(path))
            }
        let removed = before.paths.subtracting(after.paths)
        guard !changed.isEmpty || !removed.isEmpty else { return }
        for position in entries.indices where !(entries[position].manager == manager && entries[position].operation == "Update") {
            let kept = entries[position].fields.paths.subtracting(changed).subtracting(removed)
            if kept != entries[position].fields.paths {
                entries[position].fields.paths = kept
                entries[position].raw = nil
            }
        }
        let mine = index(manager, "Update").map { entries[$0].fields.paths } ?? []
        set(manager, "Update", apiVersion: apiVersion, fields: FieldSet(paths: mine.union(changed).subtracting(removed)))
    }

    /// One field another manager owns with a different value than the applied one.
    struct Conflict {
        let manager: String
        let apiVersion: String
        let path: FieldSet.Path
    }

    /// Server-side apply of `config` by `manager` onto `live` (nil: a create). Returns the object, or throws the
    /// conflicts when other managers own fields `config` changes and `force` is false; with `force` the manager
    /// takes them over. Fields the manager applied before and no longer does are removed unless another
    /// manager owns them.
    mutating func apply(_ config: JSONValue, to live: JSONValue?, manager: String, apiVersion: String, force: Bool,
                        listKeys: FieldSet.ListKeys) throws(ApplyConflict) -> JSONValue {
        let applied = FieldSet.of(config, listKeys: listKeys)
        guard let live else {
            set(manager, "Apply", apiVersion: apiVersion, fields: applied)
            return config
        }
        let merged = Self.merge(config, into: live, field: "", listKeys: listKeys)
        var conflicts: [Conflict] = []
        for (position, entry) in entries.enumerated() where !(entry.manager == manager && entry.operation == "Apply") {
            let shared = entry.fields.paths.intersection(applied.paths)
            let differing = shared.filter { path in
                guard let wanted = FieldSet.value(config, at: path), wanted.object == nil else { return false }
                return FieldSet.value(live, at: path) != wanted
            }
            guard !differing.isEmpty else { continue }
            if force {
                entries[position].fields.paths.subtract(differing)
                entries[position].raw = nil
            } else {
                conflicts += differing.sorted { $0.lexicographicallyPrecedes($1) }.map { Conflict(manager: entry.manager, apiVersion: entry.apiVersion, path: $0) }
            }
        }
        if !conflicts.isEmpty { throw ApplyConflict(conflicts: conflicts) }
        let before = index(manager, "Apply").map { entries[$0].fields } ?? FieldSet()
        set(manager, "Apply", apiVersion: apiVersion, fields: applied)
        // Fields this manager stopped applying go, unless someone else owns them (or something below them).
        let owned = entries.reduce(into: Set<FieldSet.Path>()) { $0.formUnion($1.fields.paths) }
        var result = merged
        for path in before.paths.subtracting(applied.paths).sorted(by: { $0.count > $1.count }) {
            if owned.contains(where: { $0.starts(with: path) }) { continue }
            result = FieldSet.removing(path, from: result)
        }
        return result
    }

    /// `config` merged into `live`: objects field by field, keyed lists item by item, other values replaced.
    static func merge(_ config: JSONValue, into live: JSONValue, field: String, listKeys: FieldSet.ListKeys) -> JSONValue {
        switch config {
        case .object(let pairs):
            var result: JSONValue = live.object != nil ? live : .object([])
            for (key, value) in pairs where !value.isNull {
                result[key] = merge(value, into: result[key] ?? .null, field: key, listKeys: listKeys)
            }
            return result
        case .array(let items):
            guard let key = listKeys(field, items), var merged = live.array,
                  items.allSatisfy({ $0[key] != nil }) else { return config }
            for item in items {
                if let position = merged.firstIndex(where: { $0[key] == item[key] }) {
                    merged[position] = merge(item, into: merged[position], field: field, listKeys: listKeys)
                } else {
                    merged.append(item)
                }
            }
            return .array(merged)
        default:
            return config
        }
    }
}

/// Server-side apply found fields other managers own: kube-apiserver's 409 Conflict.
struct ApplyConflict: Error {
    let conflicts: [ManagedFields.Conflict]

    var apiError: APIError {
        let groups = Dictionary(grouping: conflicts, by: { "\($0.manager)\u{0}\($0.apiVersion)" })
        let count = conflicts.count
        var message = "Apply failed with \(count) conflict\(count == 1 ? "" : "s"): "
        let parts = groups.keys.sorted().map { key -> String in
            let items = groups[key]!
            let fields = items.map { FieldSet.describe($0.path) }
            let who = "conflict\(items.count == 1 ? "" : "s") with \"\(items[0].manager)\" using \(items[0].apiVersion)"
            return items.count == 1 ? "\(who): \(fields[0])" : "\(who):\n" + fields.map { "- \($0)" }.joined(separator: "\n")
        }
        message += parts.joined(separator: "\n")
        let causes: [JSONValue] = conflicts.map { conflict in
            .object([("reason", .string("FieldManagerConflict")),
                     ("message", .string("conflict with \"\(conflict.manager)\" using \(conflict.apiVersion)")),
                     ("field", .string(FieldSet.describe(conflict.path)))])
        }
        return APIError(409, "Conflict", message, details: .object([("causes", .array(causes))]))
    }
}
