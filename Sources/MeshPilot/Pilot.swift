import ConfigValues
import Foundation
import MeshNet
import MeshTLS

/// Turns Istio resources into each proxy's Envoy configuration, as istiod computes it, with Istio's names
/// (`outbound|9080|v1|reviews.default.svc.cluster.local`, `virtualInbound`, `0.0.0.0_9080`). Generation is pure:
/// a snapshot in, JSON out; only the secrets depend on the (injected) clock.
public struct Pilot: Sendable {
    /// Issues the workloads' SPIFFE certificates (nil: no mTLS secrets are served).
    public let authority: CertificateAuthority?
    /// The certificate cache behind the `default`/`ROOTCA` secrets (nil without an authority).
    public let secrets: WorkloadSecrets?
    /// Whether sidecars get Istio's `istio.stats` filters (istiod's default). Off for Envoy sidecars in local mode:
    /// upstream Envoy has no such filter and would reject the listeners.
    public var emitsIstioStats = true

    public init(authority: CertificateAuthority?, now: @escaping @Sendable () -> Date = Date.init) {
        self.authority = authority
        secrets = authority.map { WorkloadSecrets(authority: $0, now: now) }
    }

    /// The configuration of one proxy; empty while the pilot does not know the proxy's pod.
    public func resources(for node: ProxyNode, in snapshot: MeshSnapshot) -> ProxyResources {
        resources(for: node, in: MeshModel(snapshot))
    }

    /// The same from a model already read (one model serves every proxy of a push).
    public func resources(for node: ProxyNode, in push: MeshModel) -> ProxyResources {
        guard let workload = push.workload(for: node) else { return ProxyResources() }
        let model = push.applyingProxySettings(to: workload)
        // A node id naming a pod at another address is not that pod's sidecar: it gets no certificate.
        let secrets = workload.ip == node.ip ? secrets : nil
        let outbound = OutboundClusters(model: model, proxy: workload).build()
        if node.kind == .router {
            let gateway = GatewayConfig(model: model, proxy: workload).build()
            var resources = ProxyResources(listeners: gateway.listeners, clusters: outbound.clusters + [FixedClusters.blackHole], routes: gateway.routes,
                                           endpoints: outbound.assignments,
                                           secrets: secrets?.secrets(namespace: workload.namespace, serviceAccount: workload.serviceAccount) ?? [])
            EnvoyFilterPatches.apply(push.snapshot, to: &resources, proxyLabels: workload.labels, namespace: workload.namespace, kind: node.kind)
            return resources.withUniqueNames()
        }
        let listeners = OutboundListeners(model: model, proxy: workload).build()
        var inboundConfig = InboundConfig(model: model, proxy: workload)
        // AuthorizationPolicy: RBAC before the router on inbound HCMs, network RBAC before tcp_proxy.
        let rbacHTTP = AuthorizationFilters.http(forWorkload: workload.labels, namespace: workload.namespace, in: push.snapshot)
        let rbacNetwork = AuthorizationFilters.network(forWorkload: workload.labels, namespace: workload.namespace, in: push.snapshot)
        inboundConfig.extraHTTPFilters = { _ in rbacHTTP }
        inboundConfig.extraNetworkFilters = { _ in rbacNetwork }
        let inbound = inboundConfig.build()
        var resources = ProxyResources(
            listeners: emitsIstioStats ? IstioStatsFilters.add(to: [inbound.listener] + listeners.listeners) : [inbound.listener] + listeners.listeners,
            clusters: outbound.clusters + inbound.clusters + FixedClusters.all,
            routes: listeners.routes,
            endpoints: outbound.assignments,
            secrets: secrets?.secrets(namespace: workload.namespace, serviceAccount: workload.serviceAccount) ?? [])
        // EnvoyFilter patches apply to the finished resources, last.
        EnvoyFilterPatches.apply(push.snapshot, to: &resources, proxyLabels: workload.labels, namespace: workload.namespace, kind: node.kind)
        return resources.withUniqueNames()
    }
}
