/// What `istioctl validate` checks on plain Kubernetes objects: Service port names that tell the
/// protocol, and the app/version labels Istio's telemetry uses.
public enum KubernetesChecks {
    /// Protocols Istio recognises from a port name's prefix (`http-web`, `grpc`).
    static let protocolPrefixes = ["http", "http2", "https", "grpc", "grpc-web", "mongo", "mysql", "redis", "tcp", "tls", "udp", "thrift"]

    /// The plain Kubernetes kinds these checks know.
    public static let kinds: Set<String> = ["Service", "Deployment", "StatefulSet", "DaemonSet", "List", "Namespace", "Pod",
                                           "ConfigMap", "Secret", "ServiceAccount"]

    /// Objects in the Istio system namespace are Istio's own; istioctl leaves them alone.
    static func skipped(_ object: YAMLNode) -> Bool {
        object["metadata"]?["namespace"]?.scalarText == "istio-system"
    }

    /// Errors on a Kubernetes object: Service ports whose protocol Istio cannot tell.
    public static func errors(_ object: YAMLNode) -> [ValidationProblem] {
        if object["kind"]?.scalarText == "List" {
            return (object["items"]?.items ?? []).enumerated().flatMap { index, item in
                errors(item).map { problem in
                    var copy = problem
                    copy.path = [.key("items"), .index(index)] + problem.path
                    return copy
                }
            }
        }
        guard object["kind"]?.scalarText == "Service", !skipped(object) else { return [] }
        var problems: [ValidationProblem] = []
        for (index, port) in (object["spec"]?["ports"]?.items ?? []).enumerated() {
            if let appProtocol = port["appProtocol"]?.scalarText, !appProtocol.isEmpty {
                if !protocolPrefixes.contains(appProtocol.lowercased()) && !appProtocol.contains("/") {
                    problems.append(ValidationProblem(.error, path: [.key("spec"), .key("ports"), .index(index), .key("appProtocol")],
                        location: port.location,
                        message: "appProtocol \"\(appProtocol)\" is not a protocol Istio knows (http, http2, https, grpc, tcp, tls, ...)"))
                }
                continue
            }
            let name = port["name"]?.scalarText ?? ""
            let proto = (port["protocol"]?.scalarText ?? "TCP").uppercased()
            if proto == "UDP" { continue }
            let prefix = name.split(separator: "-", maxSplits: 1).first.map(String.init) ?? ""
            if name.isEmpty || !protocolPrefixes.contains(prefix.lowercased()) {
                problems.append(ValidationProblem(.error, path: [.key("spec"), .key("ports"), .index(index), .key("name")],
                    location: port.location,
                    message: name.isEmpty
                        ? "port has no name: name it <protocol>[-<suffix>] (http, grpc, tcp, ...) or set appProtocol"
                        : "port name \"\(name)\" does not start with a protocol: use <protocol>[-<suffix>] (http-web, grpc, tcp) or set appProtocol"))
            }
        }
        return problems
    }

    /// Notes on a Kubernetes object: workloads without app and version labels, which Istio's telemetry
    /// uses. They are printed, but do not make a resource count as having warnings.
    public static func warnings(_ object: YAMLNode) -> [ValidationProblem] { [] }

    public static func notes(_ object: YAMLNode) -> [ValidationProblem] {
        guard ["Deployment", "StatefulSet", "DaemonSet"].contains(object["kind"]?.scalarText ?? ""), !skipped(object),
              object["spec"]?.pairs != nil else { return [] }
        let labels = object["spec"]?["template"]?["metadata"]?["labels"]
        var missing: [String] = []
        if labels?["app"] == nil && labels?["app.kubernetes.io/name"] == nil && labels?["service.istio.io/canonical-name"] == nil {
            missing.append("app")
        }
        if labels?["version"] == nil && labels?["app.kubernetes.io/version"] == nil && labels?["service.istio.io/canonical-revision"] == nil {
            missing.append("version")
        }
        guard !missing.isEmpty else { return [] }
        return [ValidationProblem(.warning, path: [.key("spec"), .key("template"), .key("metadata"), .key("labels")],
                                  location: object.location,
                                  message: "missing \(missing.joined(separator: " and ")) label\(missing.count > 1 ? "s" : ""); Istio's telemetry uses them")]
    }
}
