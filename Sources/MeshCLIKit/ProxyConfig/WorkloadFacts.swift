import Manifests

/// What Istio reads from a pod's annotations and a Service's ports (x describe).
public enum WorkloadFacts {
    /// The revision of the injector that gave the pod its sidecar: the istio.io/rev label-annotation, else the
    /// `revision` of the sidecar.istio.io/status annotation; "" when neither says.
    public static func revision(annotations: [String: String]) -> String {
        if let revision = annotations["istio.io/rev"] { return revision }
        guard let status = annotations["sidecar.istio.io/status"], let value = try? JSONValue.parse(status) else { return "" }
        return value["revision"]?.string ?? ""
    }

    /// The protocol Istio gives a Service port (HTTP, GRPC, TCP, ...), from its appProtocol or name prefix;
    /// `auto-detect` for an unnamed TCP port, which Istio sniffs.
    public static func protocolName(_ port: JSONValue) -> String {
        if port["protocol"]?.string == "UDP" { return "UDP" }
        let appProtocol = port["appProtocol"]?.string
        let name = port["name"]?.string ?? ""
        if name.isEmpty && appProtocol == nil { return "auto-detect" }
        let source = (appProtocol ?? name).lowercased()
        switch source {
        case "kubernetes.io/h2c": return "HTTP2"
        case "kubernetes.io/ws": return "HTTP"
        case "kubernetes.io/wss": return "HTTPS"
        case "hbone": return "HBONE"
        default: break
        }
        if source.hasPrefix("grpc-web") { return "GRPC-Web" }
        let prefix = source.split(separator: "-").first.map(String.init) ?? source
        let known = ["http": "HTTP", "http2": "HTTP2", "https": "HTTPS", "grpc": "GRPC", "tcp": "TCP", "tls": "TLS", "mongo": "Mongo",
                     "redis": "Redis", "mysql": "MySQL", "thrift": "Thrift", "udp": "UDP"]
        return known[prefix] ?? "UnsupportedProtocol"
    }
}
