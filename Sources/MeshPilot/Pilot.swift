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
    /// Fetches RequestAuthentication `jwksUri` keys (nil: not fetched; such rules get keys no token verifies with).
    public var jwksResolver: JWKSResolver?
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
            let config = GatewayConfig(model: model, proxy: workload)
            let gateway = config.build()
            var gatewayListeners = gateway.listeners
            if let jwt = RequestAuthenticationFilter.http(forWorkload: workload.labels, namespace: workload.namespace, in: push.snapshot,
                                                          keys: jwksResolver, clearRouteCache: true) {
                RequestAuthenticationFilter.insert(jwt, intoManagersOf: &gatewayListeners)
            }
            // The servers' credentialName Secrets, for the gateway pod itself only (as its certificate is).
            let credentials = workload.ip != node.ip ? [] : GatewayCredentials(model: model, proxy: workload).secrets(for: config.gateways)
            var resources = ProxyResources(listeners: gatewayListeners, clusters: outbound.clusters + [FixedClusters.blackHole], routes: gateway.routes,
                                           endpoints: outbound.assignments,
                                           secrets: (secrets?.secrets(namespace: workload.namespace, serviceAccount: workload.serviceAccount) ?? []) + credentials)
            EnvoyFilterPatches.apply(push.snapshot, to: &resources, proxyLabels: workload.labels, namespace: workload.namespace, kind: node.kind)
            return resources.withUniqueNames()
        }
        let listeners = OutboundListeners(model: model, proxy: workload).build()
        // The HTTP proxy port (mesh config `proxyHttpPort`) for clients that send through `HTTP_PROXY`.
        let httpProxy = HTTPProxyListener(model: model, proxy: workload).build()
        var inboundConfig = InboundConfig(model: model, proxy: workload)
        // AuthorizationPolicy: RBAC before the router on inbound HCMs, network RBAC before tcp_proxy.
        let rbacHTTP = AuthorizationFilters.http(forWorkload: workload.labels, namespace: workload.namespace, in: push.snapshot)
        let rbacNetwork = AuthorizationFilters.network(forWorkload: workload.labels, namespace: workload.namespace, in: push.snapshot)
        // RequestAuthentication: the JWT filter goes before RBAC, which reads the payload it writes.
        let jwt = RequestAuthenticationFilter.http(forWorkload: workload.labels, namespace: workload.namespace, in: push.snapshot,
                                                   keys: jwksResolver, clearRouteCache: false)
        inboundConfig.extraHTTPFilters = { _ in (jwt.map { [$0] } ?? []) + rbacHTTP }
        inboundConfig.extraNetworkFilters = { _ in rbacNetwork }
        let inbound = inboundConfig.build()
        let sidecarListeners = [inbound.listener] + listeners.listeners + (httpProxy.map { [$0.listener] } ?? [])
        var resources = ProxyResources(
            listeners: emitsIstioStats ? IstioStatsFilters.add(to: sidecarListeners) : sidecarListeners,
            clusters: outbound.clusters + inbound.clusters + FixedClusters.all,
            routes: listeners.routes + (httpProxy.map { [$0.routes] } ?? []),
            endpoints: outbound.assignments,
            secrets: secrets?.secrets(namespace: workload.namespace, serviceAccount: workload.serviceAccount) ?? [])
        // EnvoyFilter patches apply to the finished resources, last.
        EnvoyFilterPatches.apply(push.snapshot, to: &resources, proxyLabels: workload.labels, namespace: workload.namespace, kind: node.kind)
        return resources.withUniqueNames()
    }
}
