import Manifests

/// A set of fields of an object, as managedFields' FieldsV1 writes them: each path is a list of elements,
/// `f:name` (a field), `k:{"name":"web"}` (the item of a keyed list), `v:"x"` (a value in a set-like list).
/// A path that ends at an object or list item means the object itself (FieldsV1's `.`).
struct FieldSet: Equatable {
    typealias Path = [String]
    var paths: Set<Path> = []

    var isEmpty: Bool { paths.isEmpty }

    /// Which lists of a kind merge item by item, and by which key (nil: the list is one value).
    typealias ListKeys = (_ field: String, _ items: [JSONValue]) -> String?

    /// Fields the server owns, which no manager does.
    private static let serverFields: Set<String> = ["name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp",
                                                    "deletionTimestamp", "deletionGracePeriodSeconds", "managedFields", "selfLink", "generateName"]

    /// The fields `object` sets.
    static func of(_ object: JSONValue, listKeys: ListKeys) -> FieldSet {
        var set = FieldSet()
        for (key, value) in object.object ?? [] where key != "apiVersion" && key != "kind" {
            if key == "metadata" {
                for (metaKey, metaValue) in value.object ?? [] where !serverFields.contains(metaKey) {
                    set.collect(metaValue, at: ["f:metadata", "f:\(metaKey)"], field: metaKey, listKeys: listKeys)
                }
            } else {
                set.collect(value, at: ["f:\(key)"], field: key, listKeys: listKeys)
            }
        }
        return set
    }

    private mutating func collect(_ value: JSONValue, at path: Path, field: String, listKeys: ListKeys) {
        switch value {
        case .object(let pairs) where !pairs.isEmpty:
            // Nested objects are members themselves (FieldsV1 `.`); the top-level sections are not.
            if path.count > 1 || !["f:spec", "f:status"].contains(path[0]) { paths.insert(path) }
            for (key, child) in pairs { collect(child, at: path + ["f:\(key)"], field: key, listKeys: listKeys) }
        case .array(let items) where !items.isEmpty:
            if let key = listKeys(field, items), items.allSatisfy({ $0[key] != nil && $0[key]?.isNull == false }) {
                for item in items {
                    let itemPath = path + [Self.keyElement(key, item[key]!)]
                    paths.insert(itemPath)
                    for (childKey, child) in item.object ?? [] { collect(child, at: itemPath + ["f:\(childKey)"], field: childKey, listKeys: listKeys) }
                }
            } else {
                paths.insert(path)
            }
        default:
            paths.insert(path)
        }
    }

    static func keyElement(_ key: String, _ value: JSONValue) -> String {
        "k:" + JSONValue.object([(key, value)]).serialized
    }

    // MARK: - FieldsV1

    init() {}
    init(paths: Set<Path>) { self.paths = paths }

    /// Reads FieldsV1 (`{"f:spec":{"f:replicas":{}}}`).
    init(fieldsV1: JSONValue) {
        func walk(_ node: JSONValue, _ path: Path) {
            guard let pairs = node.object else { return }
            if pairs.isEmpty, !path.isEmpty { paths.insert(path); return }
            for (key, child) in pairs {
                if key == "." { paths.insert(path) } else { walk(child, path + [key]) }
            }
        }
        walk(fieldsV1, [])
    }

    /// The set as FieldsV1.
    var fieldsV1: JSONValue {
        final class Node { var children: [(String, Node)] = []; var member = false }
        let root = Node()
        for path in paths.sorted(by: { $0.lexicographicallyPrecedes($1) }) {
            var node = root
            for element in path {
                if let next = node.children.first(where: { $0.0 == element })?.1 { node = next } else {
                    let next = Node()
                    node.children.append((element, next))
                    node = next
                }
            }
            node.member = true
        }
        func json(_ node: Node) -> JSONValue {
            var pairs: [(key: String, value: JSONValue)] = []
            if node.member && !node.children.isEmpty { pairs.append((".", .object([]))) }
            pairs += node.children.map { ($0.0, json($0.1)) }
            return .object(pairs)
        }
        return json(root)
    }

    // MARK: - Values at paths

    /// The value a path names in `object`, or nil when it is not set.
    static func value(_ object: JSONValue, at path: Path) -> JSONValue? {
        var node = object
        for element in path {
            guard let next = child(node, element) else { return nil }
            node = next
        }
        return node
    }

    private static func child(_ node: JSONValue, _ element: String) -> JSONValue? {
        if element.hasPrefix("f:") { return node[String(element.dropFirst(2))] }
        guard let items = node.array, let match = itemIndex(items, element) else { return nil }
        return items[match]
    }

    private static func itemIndex(_ items: [JSONValue], _ element: String) -> Int? {
        if element.hasPrefix("k:"), let keys = try? JSONValue.parse(String(element.dropFirst(2))), let pairs = keys.object {
            return items.firstIndex { item in pairs.allSatisfy { item[$0.key] == $0.value } }
        }
        if element.hasPrefix("v:"), let value = try? JSONValue.parse(String(element.dropFirst(2))) {
            return items.firstIndex { $0 == value }
        }
        if element.hasPrefix("i:"), let index = Int(element.dropFirst(2)), items.indices.contains(index) { return index }
        return nil
    }

    /// `object` without the field a path names.
    static func removing(_ path: Path, from object: JSONValue) -> JSONValue {
        guard let element = path.first else { return object }
        let rest = Array(path.dropFirst())
        if element.hasPrefix("f:") {
            let key = String(element.dropFirst(2))
            guard object.object != nil, let child = object[key] else { return object }
            var result = object
            result[key] = rest.isEmpty ? nil : removing(rest, from: child)
            return result
        }
        guard var items = object.array, let index = itemIndex(items, element) else { return object }
        if rest.isEmpty { items.remove(at: index) } else { items[index] = removing(rest, from: items[index]) }
        return .array(items)
    }

    /// A path as kube-apiserver names it in conflicts: `.spec.template.spec.containers[name="web"].image`.
    static func describe(_ path: Path) -> String {
        path.map { element -> String in
            if element.hasPrefix("f:") { return "." + element.dropFirst(2) }
            if element.hasPrefix("k:"), let pairs = (try? JSONValue.parse(String(element.dropFirst(2))))?.object {
                return "[" + pairs.map { "\($0.key)=\($0.value.serialized)" }.joined(separator: ",") + "]"
            }
            return "[" + element.dropFirst(2) + "]"
        }.joined()
    }
}
