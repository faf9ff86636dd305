/// Lists of Kubernetes objects in a manifest stream: `kind: List` as `kubectl get -o yaml` prints it, and the
/// typed lists the API returns (`VirtualServiceList`). Every command that reads a stream of objects looks inside.
public enum KubernetesList {
    /// The objects a document holds: the items of a list (lists inside lists too), else the document itself.
    /// Items of a typed list that leave out `kind` and `apiVersion`, as the API's list answers do, get them from
    /// the list (`VirtualServiceList` -> `VirtualService`).
    public static func objects(in document: YAMLNode) -> [YAMLNode] {
        guard isList(document), let items = document["items"]?.items else { return [document] }
        let kind = document["kind"]?.scalarText ?? "List"
        let itemKind = kind == "List" ? nil : String(kind.dropLast(4))
        let apiVersion = document["apiVersion"]?.scalarText
        return items.flatMap { item -> [YAMLNode] in
            var item = item
            if item.pairs != nil, let itemKind {
                if item["kind"] == nil { item["kind"] = .string(itemKind, at: item.location) }
                if item["apiVersion"] == nil, let apiVersion { item["apiVersion"] = .string(apiVersion, at: item.location) }
            }
            return objects(in: item)
        }
    }

    /// Whether a document is a list of objects: `kind: List`, or a kind ending in `List` with `items`.
    public static func isList(_ document: YAMLNode) -> Bool {
        guard let kind = document["kind"]?.scalarText, kind.hasSuffix("List"), document["items"]?.items != nil else { return false }
        return true
    }
}
