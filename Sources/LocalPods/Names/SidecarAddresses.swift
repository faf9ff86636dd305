/// Where things listen in a local pod with a sidecar. Pods share the host's network, so the sidecar takes the pod IP
/// (`127.10.X.Y`: what the pod's status, Endpoints and other pods see) and the application containers get an address
/// of their own with the same `X.Y`, `127.11.X.Y`, which only the sidecar's inbound clusters connect to.
public enum SidecarAddresses {
    /// The application containers' address for the pod IP `127.10.X.Y`; nil for an address outside 127.10.0.0/16.
    public static func application(podIP: String) -> String? {
        let octets = podIP.split(separator: ".", omittingEmptySubsequences: false)
        guard octets.count == 4, octets[0] == "127", octets[1] == "10", octets.allSatisfy({ UInt8($0) != nil }) else { return nil }
        return "127.11.\(octets[2]).\(octets[3])"
    }

    /// The pod's sidecar as its application containers reach it (`POD_IP:15001`).
    public static func outboundProxy(podIP: String) -> OutboundProxy {
        OutboundProxy(host: podIP, port: OutboundProxy.outboundPort, ownAddress: application(podIP: podIP))
    }
}
