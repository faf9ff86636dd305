import Foundation
import Manifests

/// The patch formats kubectl and client libraries send.
enum Patches {
    /// JSON merge patch (RFC 7386): objects merge key by key, null removes, anything else replaces.
    static func merge(_ target: JSONValue, _ patch: JSONValue) -> JSONValue {
        guard case .object(let changes) = patch else { return patch }
        var result: JSONValue = target.object != nil ? target : .object([])
        for (key, value) in changes {
            if value.isNull {
                result[key] = nil
            } else {
                result[key] = merge(result[key] ?? .null, value)
            }
        }
        return result
    }

    /// JSON patch (RFC 6902): add, remove, replace, move, copy and test, with JSON pointers.
    static func json(_ target: JSONValue, _ patch: JSONValue) throws(APIError) -> JSONValue {
        guard let operations = patch.array else { throw APIError.badRequest("a JSON patch must be an array of operations") }
        var document = target
        for (index, operation) in operations.enumerated() {
            guard let op = operation["op"]?.string, let path = operation["path"]?.string else {
                throw APIError.badRequest("JSON patch operation \(index) needs op and path")
            }
            let pointer = try Self.pointer(path)
            switch op {
            case "add": document = try set(document, pointer, try required(operation, "value", index), inserting: true)
            case "replace":
                guard get(document, pointer) != nil else { throw APIError(422, "Invalid", "replace operation does not apply: doc is missing path: \(path)") }
                document = try set(document, pointer, try required(operation, "value", index), inserting: false)
            case "remove":
                guard get(document, pointer) != nil else { throw APIError(422, "Invalid", "remove operation does not apply: doc is missing path: \(path)") }
                document = try remove(document, pointer)
            case "move", "copy":
                guard let from = operation["from"]?.string, let value = get(document, try Self.pointer(from)) else {
                    throw APIError(422, "Invalid", "\(op) operation does not apply: missing from path")
                }
                if op == "move" { document = try remove(document, try Self.pointer(from)) }
                document = try set(document, pointer, value, inserting: true)
            case "test":
                guard get(document, pointer) == (try required(operation, "value", index)) else {
                    throw APIError(422, "Invalid", "testing value \(path) failed")
                }
            default: throw APIError.badRequest("unknown JSON patch operation \"\(op)\"")
            }
        }
        return document
    }

    private static func required(_ operation: JSONValue, _ key: String, _ index: Int) throws(APIError) -> JSONValue {
        guard let value = operation[key] else { throw APIError.badRequest("JSON patch operation \(index) needs \(key)") }
        return value
    }

    private static func pointer(_ path: String) throws(APIError) -> [String] {
        if path.isEmpty { return [] }
        guard path.hasPrefix("/") else { throw APIError.badRequest("JSON pointer \"\(path)\" must start with /") }
        return path.dropFirst().split(separator: "/", omittingEmptySubsequences: false)
            .map { String($0).replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~") }
    }

    private static func get(_ value: JSONValue, _ pointer: [String]) -> JSONValue? {
        var node = value
        for token in pointer {
            if let items = node.array {
                guard let index = Int(token), items.indices.contains(index) else { return nil }
                node = items[index]
            } else if let next = node[token] {
                node = next
            } else {
                return nil
            }
        }
        return node
    }

    private static func set(_ value: JSONValue, _ pointer: [String], _ newValue: JSONValue, inserting: Bool) throws(APIError) -> JSONValue {
        guard let token = pointer.first else { return newValue }
        let rest = Array(pointer.dropFirst())
        if var items = value.array {
            if rest.isEmpty && token == "-" { items.append(newValue); return .array(items) }
            guard let index = Int(token), index >= 0, index <= items.count, rest.isEmpty ? true : index < items.count else {
                throw APIError(422, "Invalid", "array index \(token) is out of range")
            }
            if rest.isEmpty {
                if inserting { items.insert(newValue, at: index) } else { items[index] = newValue }
            } else {
                items[index] = try set(items[index], rest, newValue, inserting: inserting)
            }
            return .array(items)
        }
        guard value.object != nil else { throw APIError(422, "Invalid", "cannot add \(token) to a value that is not an object or array") }
        var result = value
        if rest.isEmpty {
            result[token] = newValue
        } else {
            guard let child = value[token] else { throw APIError(422, "Invalid", "doc is missing path: /\(pointer.joined(separator: "/"))") }
            result[token] = try set(child, rest, newValue, inserting: inserting)
        }
        return result
    }

    private static func remove(_ value: JSONValue, _ pointer: [String]) throws(APIError) -> JSONValue {
        guard let token = pointer.first else { return .null }
        let rest = Array(pointer.dropFirst())
        if var items = value.array, let index = Int(token), items.indices.contains(index) {
            if rest.isEmpty { items.remove(at: index) } else { items[index] = try remove(items[index], rest) }
            return .array(items)
        }
        var result = value
        if rest.isEmpty { result[token] = nil } else if let child = value[token] { result[token] = try remove(child, rest) }
        return result
    }

    /// Lists Kubernetes merges item by item in a strategic merge patch, by field name → merge key.
    static let mergeKeys: [String: String] = [
        "containers": "name", "initContainers": "name", "ephemeralContainers": "name", "env": "name", "volumes": "name",
        "volumeMounts": "mountPath", "imagePullSecrets": "name", "ports": "port", "hostAliases": "ip", "tolerations": "key",
        "conditions": "type", "envFrom": "prefix", "volumeDevices": "devicePath",
    ]

    /// Strategic merge patch as kubectl sends it for built-in kinds: like a merge patch, except that lists with a
    /// merge key merge by it (`$patch: delete` removes an item), `$setElementOrder/<list>` orders them, and
    /// `$deleteFromPrimitiveList/<list>` removes values. Container ports merge by containerPort.
    static func strategic(_ target: JSONValue, _ patch: JSONValue, field: String = "") throws(APIError) -> JSONValue {
        guard case .object(let changes) = patch else { return patch }
        if patch["$patch"]?.string == "replace" {
            var replacement = patch
            replacement["$patch"] = nil
            return replacement
        }
        var result: JSONValue = target.object != nil ? target : .object([])
        for (key, value) in changes {
            if key == "$patch" || key == "$retainKeys" || key.hasPrefix("$setElementOrder/") { continue }
            if key.hasPrefix("$deleteFromPrimitiveList/") {
                let list = String(key.dropFirst("$deleteFromPrimitiveList/".count))
                let removed = value.array ?? []
                result[list] = .array((result[list]?.array ?? []).filter { !removed.contains($0) })
                continue
            }
            if value.isNull { result[key] = nil; continue }
            if let items = value.array, let mergeKey = mergeKey(for: key, parent: field, items: items) {
                result[key] = try mergeList(result[key]?.array ?? [], items, by: mergeKey, order: changes.first { $0.key == "$setElementOrder/\(key)" }?.value.array,
                                            field: key)
            } else if value.object != nil {
                result[key] = try strategic(result[key] ?? .null, value, field: key)
            } else {
                result[key] = value
            }
        }
        return result
    }

    static func mergeKey(for field: String, parent: String, items: [JSONValue]) -> String? {
        // A container's ports merge by containerPort; a Service's by port.
        if field == "ports" && items.contains(where: { $0["containerPort"] != nil }) { return "containerPort" }
        guard let key = mergeKeys[field], items.allSatisfy({ $0.object != nil }) else { return nil }
        return key
    }

    private static func mergeList(_ current: [JSONValue], _ patch: [JSONValue], by key: String, order: [JSONValue]?, field: String) throws(APIError) -> JSONValue {
        var result = current
        for item in patch {
            let identity = item[key]
            let index = result.firstIndex { $0[key] == identity }
            if item["$patch"]?.string == "delete" {
                if let index { result.remove(at: index) }
                continue
            }
            if let index {
                result[index] = try strategic(result[index], item, field: field)
            } else {
                var added = item
                added["$patch"] = nil
                result.append(added)
            }
        }
        if let order {
            let keys = order.compactMap { $0[key] }
            result.sort { a, b in
                let first = keys.firstIndex { $0 == a[key] } ?? Int.max, second = keys.firstIndex { $0 == b[key] } ?? Int.max
                return first < second
            }
        }
        return .array(result)
    }
}
