/// A service port's protocol as Istio infers it: `appProtocol` first, then the port name's prefix before the first
/// `-` (`http-web` is HTTP, `grpc` is gRPC), case-insensitively; anything else is left to protocol sniffing.
public enum PortProtocol: String, Sendable, CaseIterable {
    case http = "HTTP", http2 = "HTTP2", grpc = "GRPC", grpcWeb = "GRPC-Web", https = "HTTPS", tls = "TLS", tcp = "TCP"
    case mongo = "Mongo", redis = "Redis", mysql = "MySQL", udp = "UDP", unsupported = "UnsupportedProtocol"

    /// Istio's `protocol.Parse`: a protocol name, case-insensitive.
    public init(name: String) {
        switch name.lowercased() {
        case "http", "http_proxy": self = .http
        case "http2": self = .http2
        case "grpc": self = .grpc
        case "grpc-web": self = .grpcWeb
        case "https": self = .https
        case "tls": self = .tls
        case "tcp": self = .tcp
        case "mongo": self = .mongo
        case "redis": self = .redis
        case "mysql": self = .mysql
        case "udp": self = .udp
        default: self = .unsupported
        }
    }

    /// Istio's inference for a Kubernetes Service port.
    public init(portName: String, appProtocol: String?, transport: String?) {
        if transport?.uppercased() == "UDP" { self = .udp; return }
        if let appProtocol, !appProtocol.isEmpty {
            switch appProtocol.lowercased() {
            case "kubernetes.io/h2c": self = .http2; return
            case "kubernetes.io/ws", "kubernetes.io/wss": self = .http; return
            default:
                let parsed = PortProtocol(name: appProtocol)
                if parsed != .unsupported { self = parsed; return }
            }
        }
        let prefix = portName.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
        // `grpc-web` is a protocol name of its own, not `grpc` with a suffix.
        self = portName.lowercased().hasPrefix("grpc-web") ? .grpcWeb : PortProtocol(name: prefix)
    }

    /// Served by an HTTP connection manager (routes, retries, faults apply).
    public var isHTTP: Bool { [.http, .http2, .grpc, .grpcWeb].contains(self) }
    /// Upstream connections speak HTTP/2.
    public var isHTTP2: Bool { self == .http2 || self == .grpc }
}
