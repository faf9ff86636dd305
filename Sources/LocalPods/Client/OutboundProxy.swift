/// A pod's sidecar as its clients reach it in local mode: local mode has no iptables to capture outbound traffic, so
/// a client in a pod with a sidecar connects to the sidecar's `virtualOutbound` listener (`POD_IP:15001`, from
/// `MESHCTL_OUTBOUND_PROXY`) and first sends a PROXY protocol v1 line naming where it meant to go, which the
/// listener reads as the connection's original destination.
public struct OutboundProxy: Sendable, Equatable {
    /// The sidecar's outbound listener.
    public let host: String
    public let port: Int
    /// The pod's own application address: connections to it stay inside the pod and skip the sidecar.
    public let ownAddress: String?

    /// The environment variable the kubelet sets in every application container of a pod with a sidecar.
    public static let environmentVariable = "MESHCTL_OUTBOUND_PROXY"
    /// The port of Istio's `virtualOutbound` listener.
    public static let outboundPort = 15001

    public init(host: String, port: Int = OutboundProxy.outboundPort, ownAddress: String? = nil) {
        self.host = host
        self.port = port
        self.ownAddress = ownAddress
    }

    /// The sidecar named by `MESHCTL_OUTBOUND_PROXY=IP:PORT` (nil without it, or when it is not an IPv4 address and port);
    /// `POD_IP` is the pod's own address.
    public init?(environment: [String: String]) {
        guard let text = environment[Self.environmentVariable], let colon = text.lastIndex(of: ":"),
              let port = Int(text[text.index(after: colon)...]), (1...65535).contains(port), IPAddress.isLoopback(String(text[..<colon])) else { return nil }
        self.init(host: String(text[..<colon]), port: port, ownAddress: environment["POD_IP"])
    }

    /// Whether a connection to `address` goes through the sidecar (every one but those to the pod's own address).
    public func captures(_ address: String) -> Bool { address != ownAddress }

    /// The PROXY protocol v1 line for a connection from `source` (`IP:PORT`, this side of the socket) meant for
    /// `destination:port`: `PROXY TCP4 SRC DST SPORT DPORT\r\n` (TCP6 for IPv6 addresses).
    public static func header(source: String, destination: String, port: Int) -> [UInt8] {
        var sourceHost = source, sourcePort = "0"
        if let colon = source.lastIndex(of: ":") {
            sourceHost = String(source[..<colon])
            sourcePort = String(source[source.index(after: colon)...])
        }
        sourceHost = sourceHost.trimmingBrackets
        let family = destination.contains(":") ? "TCP6" : "TCP4"
        return Array("PROXY \(family) \(sourceHost) \(destination) \(sourcePort) \(port)\r\n".utf8)
    }
}

private extension String {
    var trimmingBrackets: String { hasPrefix("[") && hasSuffix("]") ? String(dropFirst().dropLast()) : self }
}
