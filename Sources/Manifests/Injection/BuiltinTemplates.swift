/// meshctl's injection templates written as Go templates: what an `istio-sidecar-injector` ConfigMap holds in its
/// `config` key, and meshctl's built-in injection configuration. With the built-in values and mesh defaults they inject
/// what Istio 1.32's default templates inject (meshctl's own wording of them; Istio's are not copied).
public enum BuiltinTemplates {
    /// The template names, in the order the ConfigMap lists them.
    public static let names = ["sidecar", "gateway", "grpc-agent", "grpc-simple"]

    /// The template text by name (each with the shared named templates appended), or nil for an unknown name.
    public static func text(_ name: String) -> String? {
        switch name {
        case "sidecar": return sidecar + "\n" + shared + "\n"
        case "gateway": return gateway + "\n" + shared + "\n"
        case "grpc-agent": return grpcAgent + "\n" + shared + "\n"
        case "grpc-simple": return grpcSimple + "\n" + shared + "\n"
        default: return nil
        }
    }

    /// The `config` key of the injector ConfigMap: injection settings and every template, as Istio's ConfigMap lays them out.
    public static var injectorConfig: String {
        var config = """
            # meshctl's own injection templates (Go templates, rendered with data.values and the mesh config).
            defaultTemplates: [sidecar]
            policy: enabled
            alwaysInjectSelector: []
            neverInjectSelector: []
            injectedAnnotations: {}
            template: ""
            templates:

            """
        for name in names {
            config += "  \(name): |\n"
            for line in (text(name) ?? "").split(separator: "\n", omittingEmptySubsequences: false).dropLast() {
                config += line.isEmpty ? "\n" : "    \(line)\n"
            }
        }
        return config
    }
}
