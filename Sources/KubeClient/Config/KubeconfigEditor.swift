import Manifests

/// Adds and removes one cluster, user and context of the same name in a kubeconfig, leaving every other entry
/// as it was, the way `kind` manages its contexts.
public enum KubeconfigEditor {
    /// The file kubectl writes contexts to: the first entry of KUBECONFIG, else ~/.kube/config.
    public static func targetPath(variables: [String: String]) -> String {
        if let list = variables["KUBECONFIG"], let first = list.split(separator: ":").first(where: { !$0.isEmpty }) { return String(first) }
        return (variables["HOME"] ?? "/root") + "/.kube/config"
    }

    /// The kubeconfig text with `name` as a cluster (server and CA), a user (bearer token) and a context joining them.
    public static func upsert(_ text: String?, name: String, server: String, certificateAuthorityData: String, token: String,
                              makeCurrent: Bool) throws -> String {
        var config = try document(text)
        config = replacing(config, list: "clusters", name: name, entry: .mapping([
            ("name", .string(name)),
            ("cluster", .mapping([("server", .string(server)), ("certificate-authority-data", .string(certificateAuthorityData))])),
        ]))
        config = replacing(config, list: "users", name: name, entry: .mapping([("name", .string(name)), ("user", .mapping([("token", .string(token))]))]))
        config = replacing(config, list: "contexts", name: name, entry: .mapping([
            ("name", .string(name)), ("context", .mapping([("cluster", .string(name)), ("user", .string(name))])),
        ]))
        if makeCurrent { config["current-context"] = .string(name) }
        return YAMLEmitter().emit(config)
    }

    /// The kubeconfig text without `name`'s cluster, user and context (and not current if it was).
    public static func remove(_ text: String, name: String) throws -> String {
        var config = try document(text)
        for list in ["clusters", "users", "contexts"] { config = replacing(config, list: list, name: name, entry: nil) }
        if config["current-context"]?.scalarText == name { config["current-context"] = .string("") }
        return YAMLEmitter().emit(config)
    }

    /// Whether the kubeconfig's current context is `name`.
    public static func currentContext(_ text: String) -> String? {
        (try? YAMLParser.parse(text).first?.root)?["current-context"]?.scalarText
    }

    private static func document(_ text: String?) throws -> YAMLNode {
        guard let text, let root = try YAMLParser.parse(text).first?.root, root.pairs != nil else {
            return .mapping([("apiVersion", .string("v1")), ("kind", .string("Config")), ("preferences", .mapping([])),
                             ("clusters", .sequence([])), ("users", .sequence([])), ("contexts", .sequence([])), ("current-context", .string(""))])
        }
        return root
    }

    private static func replacing(_ config: YAMLNode, list: String, name: String, entry: YAMLNode?) -> YAMLNode {
        var items = (config[list]?.items ?? []).filter { $0["name"]?.scalarText != name }
        if let entry { items.append(entry) }
        var result = config
        result[list] = .sequence(items)
        return result
    }
}
