/// A proxy the pilot serves, named as Istio names it in xDS: `TYPE~IP~POD.NAMESPACE~NAMESPACE.svc.cluster.local`.
public struct ProxyNode: Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable { case sidecar, router }

    public var kind: Kind
    public var ip: String
    public var podName: String
    public var namespace: String

    public init(kind: Kind, ip: String, podName: String, namespace: String) {
        self.kind = kind
        self.ip = ip
        self.podName = podName
        self.namespace = namespace
    }

    /// Reads an xDS node id; nil when it does not have Istio's four `~`-separated parts.
    public init?(id: String) {
        let parts = id.split(separator: "~", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 4, let kind = Kind(rawValue: parts[0]), let dot = parts[2].lastIndex(of: ".") else { return nil }
        let pod = String(parts[2][..<dot]), namespace = String(parts[2][parts[2].index(after: dot)...])
        guard !parts[1].isEmpty, !pod.isEmpty, !namespace.isEmpty else { return nil }
        self.init(kind: kind, ip: parts[1], podName: pod, namespace: namespace)
    }

    public var id: String { "\(kind.rawValue)~\(ip)~\(podName).\(namespace)~\(namespace).svc.cluster.local" }
    /// `POD.NAMESPACE`, as proxy-status and istiod's debug endpoints name a proxy.
    public var proxyID: String { "\(podName).\(namespace)" }
    public var description: String { id }
}
