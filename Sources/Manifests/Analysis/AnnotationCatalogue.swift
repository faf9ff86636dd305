/// The annotations Istio documents (istio.io/latest/docs/reference/config/annotations): for each, the kinds it
/// belongs on, its feature status and whether it is deprecated. The annotation analyzers check against it.
public struct IstioAnnotation: Sendable {
    public enum Status: String, Sendable { case alpha = "Alpha", beta = "Beta", stable = "Stable" }

    public let name: String
    public let status: Status
    /// Kinds it belongs on; empty means any kind.
    public let kinds: [String]
    public let deprecated: Bool
    /// What replaces a deprecated annotation, for the message (` in favor of ...`).
    public let replacement: String?
    /// Written by Istio itself (injection, controllers), never by users: the analyzers leave these alone.
    public let setByIstio: Bool

    init(_ name: String, _ status: Status, _ kinds: [String], deprecated: Bool = false, replacement: String? = nil, setByIstio: Bool = false) {
        self.name = name
        self.status = status
        self.kinds = kinds
        self.deprecated = deprecated
        self.replacement = replacement
        self.setByIstio = setByIstio
    }

    /// Whether it belongs on a resource of `kind`.
    public func applies(to kind: String) -> Bool { kinds.isEmpty || kinds.contains(kind) }
}

public enum AnnotationCatalogue {
    private static let pod = ["Pod"]

    /// Istio's annotations, by name.
    public static let byName: [String: IstioAnnotation] = Dictionary(uniqueKeysWithValues: list.map { ($0.name, $0) })

    static let list: [IstioAnnotation] = [
        .init("alpha.istio.io/canonical-serviceaccounts", .alpha, ["Service"], deprecated: true),
        .init("alpha.istio.io/kubernetes-serviceaccounts", .alpha, ["Service"], deprecated: true),
        .init("ambient.istio.io/bypass-inbound-capture", .alpha, pod),
        .init("ambient.istio.io/redirection", .beta, pod, setByIstio: true),
        .init("ambient.istio.io/waypoint-inbound-binding", .alpha, ["GatewayClass", "Gateway"]),
        .init("galley.istio.io/analyze-suppress", .alpha, []),
        .init("gateway.istio.io/controller-version", .alpha, [], setByIstio: true),
        .init("gateway.istio.io/name-override", .alpha, ["Gateway"]),
        .init("gateway.istio.io/service-account", .alpha, ["Gateway"]),
        .init("inject.istio.io/templates", .alpha, pod),
        .init("istio.io/autoRegistrationGroup", .alpha, ["WorkloadEntry"], setByIstio: true),
        .init("istio.io/connectedAt", .alpha, ["WorkloadEntry"], setByIstio: true),
        .init("istio.io/disconnectedAt", .alpha, ["WorkloadEntry"], setByIstio: true),
        .init("istio.io/dry-run", .alpha, ["AuthorizationPolicy"]),
        .init("istio.io/rev", .alpha, pod, setByIstio: true),
        .init("istio.io/workloadController", .alpha, ["WorkloadEntry"], setByIstio: true),
        .init("kubernetes.io/ingress.class", .stable, ["Ingress"]),
        .init("networking.istio.io/exportTo", .alpha, ["Service"]),
        .init("networking.istio.io/service-type", .alpha, ["Gateway"]),
        .init("networking.istio.io/traffic-distribution", .alpha, ["Service", "ServiceEntry"]),
        .init("prometheus.istio.io/merge-metrics", .alpha, pod),
        // Read by the injector's Prometheus merge (several scrape endpoints per pod).
        .init("prometheus.istio.io/scrape-targets", .alpha, pod),
        .init("proxy.istio.io/config", .beta, pod),
        .init("proxy.istio.io/overrides", .alpha, pod, setByIstio: true),
        .init("readiness.status.sidecar.istio.io/applicationPorts", .alpha, pod),
        .init("readiness.status.sidecar.istio.io/failureThreshold", .alpha, pod),
        .init("readiness.status.sidecar.istio.io/initialDelaySeconds", .alpha, pod),
        .init("readiness.status.sidecar.istio.io/periodSeconds", .alpha, pod),
        .init("sidecar.istio.io/agentLogLevel", .alpha, pod),
        .init("sidecar.istio.io/bootstrapOverride", .alpha, pod),
        .init("sidecar.istio.io/componentLogLevel", .alpha, pod),
        .init("sidecar.istio.io/discoveryAddress", .alpha, pod, deprecated: true),
        .init("sidecar.istio.io/enableCoreDump", .alpha, pod),
        .init("sidecar.istio.io/extraStatTags", .alpha, pod, deprecated: true),
        .init("sidecar.istio.io/inject", .beta, pod, deprecated: true, replacement: "the sidecar.istio.io/inject label"),
        .init("sidecar.istio.io/interceptionMode", .alpha, pod),
        .init("sidecar.istio.io/logLevel", .alpha, pod),
        .init("sidecar.istio.io/nativeSidecar", .alpha, pod),
        .init("sidecar.istio.io/proxyCPU", .alpha, pod),
        .init("sidecar.istio.io/proxyCPULimit", .alpha, pod),
        .init("sidecar.istio.io/proxyImage", .alpha, pod),
        .init("sidecar.istio.io/proxyImageType", .alpha, pod),
        .init("sidecar.istio.io/proxyMemory", .alpha, pod),
        .init("sidecar.istio.io/proxyMemoryLimit", .alpha, pod),
        .init("sidecar.istio.io/rewriteAppHTTPProbers", .alpha, pod),
        .init("sidecar.istio.io/statsHistogramBuckets", .alpha, pod),
        .init("sidecar.istio.io/statsInclusionPrefixes", .alpha, pod, deprecated: true),
        .init("sidecar.istio.io/statsInclusionRegexps", .alpha, pod, deprecated: true),
        .init("sidecar.istio.io/statsInclusionSuffixes", .alpha, pod, deprecated: true),
        .init("sidecar.istio.io/status", .alpha, pod, setByIstio: true),
        .init("sidecar.istio.io/userVolume", .alpha, pod),
        .init("sidecar.istio.io/userVolumeMount", .alpha, pod),
        .init("status.sidecar.istio.io/port", .alpha, pod),
        .init("topology.istio.io/controlPlaneClusters", .alpha, ["Namespace"]),
        .init("traffic.istio.io/nodeSelector", .stable, ["Service"]),
        .init("traffic.sidecar.istio.io/excludeInboundPorts", .alpha, pod),
        .init("traffic.sidecar.istio.io/excludeInterfaces", .alpha, pod),
        .init("traffic.sidecar.istio.io/excludeOutboundIPRanges", .alpha, pod),
        .init("traffic.sidecar.istio.io/excludeOutboundPorts", .alpha, pod),
        .init("traffic.sidecar.istio.io/includeInboundPorts", .alpha, pod),
        .init("traffic.sidecar.istio.io/includeOutboundIPRanges", .alpha, pod),
        .init("traffic.sidecar.istio.io/includeOutboundPorts", .alpha, pod),
        .init("traffic.sidecar.istio.io/kubevirtInterfaces", .alpha, pod),
    ]

    /// The traffic-capture annotations injection writes onto every pod when Istio's CNI plugin does the capture
    /// (the pod then has the `istio-validation` init container): their presence says nothing about the user.
    public static let writtenForCNI: Set<String> = [
        "sidecar.istio.io/interceptionMode", "traffic.sidecar.istio.io/includeInboundPorts", "traffic.sidecar.istio.io/excludeInboundPorts",
        "traffic.sidecar.istio.io/includeOutboundIPRanges", "traffic.sidecar.istio.io/excludeOutboundIPRanges",
        "traffic.sidecar.istio.io/includeOutboundPorts", "traffic.sidecar.istio.io/excludeOutboundPorts",
        "traffic.sidecar.istio.io/excludeInterfaces", "traffic.sidecar.istio.io/kubevirtInterfaces",
    ]

    /// Whether `name` is in Istio's own namespace of annotations (its prefix is istio.io or ends in .istio.io).
    public static func isIstioDomain(_ name: String) -> Bool {
        guard let slash = name.firstIndex(of: "/") else { return false }
        let domain = name[..<slash]
        return domain == "istio.io" || domain.hasSuffix(".istio.io")
    }
}
