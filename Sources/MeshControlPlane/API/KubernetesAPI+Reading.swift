import Foundation
import Manifests
import MeshNet
import MeshHTTP1

// Reading: selectors, lists and their pages.
extension KubernetesAPI {
    func selected(_ request: HTTPRequest, _ target: Target) throws -> (JSONValue) -> Bool {
        let query = request.query
        let labels = try query["labelSelector"].map { text throws(APIError) in try LabelSelectorQuery(parsing: text) }
        let fields = try query["fieldSelector"].map { text throws(APIError) in try FieldSelectorQuery(parsing: text, resource: target.type.key) }
        return { object in
            if let labels, !labels.matches(object.labelMap) { return false }
            return fields?.matches(object) ?? true
        }
    }

    func list(_ request: HTTPRequest, _ responder: HTTPResponder, _ target: Target) throws {
        let matches = try selected(request, target)
        let query = request.query
        let limit = query["limit"].flatMap(Int.init).flatMap { $0 > 0 ? $0 : nil } ?? Int.max
        let after = try query["continue"].map { token throws(APIError) in try Self.continuePosition(token) }
        let page = try store.page(target.type.key, namespace: target.type.namespaced ? target.namespace : nil, after: after, limit: limit, filter: matches)
        var metadata: [(key: String, value: JSONValue)] = [("resourceVersion", .string(String(page.resourceVersion)))]
        if let next = page.next { metadata.append(("continue", .string(Self.continueToken(next)))) }
        let items = page.items.map { presented($0, target) }
        if Tables.wanted(request.header("Accept")) {
            var table = Tables.table(target.type, items, resourceVersion: String(page.resourceVersion))
            table["metadata"] = .object(metadata)
            send(responder, 200, table)
            return
        }
        send(responder, 200, .object([("kind", .string("\(target.type.kind)List")), ("apiVersion", .string(target.type.apiVersion(target.version))),
                                      ("metadata", .object(metadata)), ("items", .array(items))]))
    }

    /// A list's `continue` token: where the next page starts, opaque to clients.
    static func continueToken(_ position: (namespace: String, name: String)) -> String {
        Data((position.namespace + "/" + position.name).utf8).base64EncodedString()
    }

    static func continuePosition(_ token: String) throws(APIError) -> (namespace: String, name: String) {
        guard let data = Data(base64Encoded: token), let text = String(data: data, encoding: .utf8), let slash = text.firstIndex(of: "/") else {
            throw APIError(410, "Expired", "the provided continue parameter is not valid")
        }
        return (String(text[..<slash]), String(text[text.index(after: slash)...]))
    }
}
