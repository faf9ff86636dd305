/// A check across the resources of an analysis run, reporting with Istio's message codes.
public protocol Analyzer: Sendable {
    /// The name `--analyzer` takes, the same as Istio's (`virtualservice.GatewayAnalyzer`).
    var name: String { get }
    /// One line for `analyze -L`.
    var summary: String { get }
    /// Whether it needs running Pods, which only a cluster has; istioctl skips such analyzers on files alone.
    var needsRunningPods: Bool { get }
    /// Whether a run without `--analyzer` includes it; Istio leaves the noisy alpha-annotation analyzer out.
    var runsByDefault: Bool { get }
    /// Whether it reports selectors or subsets that match no running pod: on a cluster that runs no pods at all
    /// (meshctl's local mode before its workloads run) it would report every one, so such runs leave it out.
    var reportsSelectorsWithoutPods: Bool { get }
    func analyze(_ input: AnalysisInput) -> [AnalysisMessage]
}

extension Analyzer {
    public var needsRunningPods: Bool { false }
    public var runsByDefault: Bool { true }
    public var reportsSelectorsWithoutPods: Bool { false }
}

/// The analyzers meshctl has, in the order `analyze -L` lists them.
public enum Analyzers {
    public static let all: [any Analyzer] = [
        ServicePortNameAnalyzer(),
        VirtualServiceGatewayAnalyzer(),
        VirtualServiceDestinationRuleAnalyzer(),
        VirtualServiceDestinationHostAnalyzer(),
        DestinationRuleCACertificateAnalyzer(),
        ApplicationUIDAnalyzer(),
        IngressGatewayPortAnalyzer(),
        ConflictingGatewayAnalyzer(),
        GatewaySecretAnalyzer(),
        ServiceEntryAddressesAnalyzer(),
        ConflictingServiceEntryProtocolAnalyzer(),
        DeploymentMultiServiceAnalyzer(),
        SubsetSelectPodAnalyzer(),
        SidecarSelectorAnalyzer(),
        ConflictingMeshGatewayHostsAnalyzer(),
        TelemetrySelectorAnalyzer(),
        TelemetryDefaultSelectorAnalyzer(),
        TelemetryProviderAnalyzer(),
        ExternalControlPlaneAnalyzer(),
        GatewayCertificateAnalyzer(),
        BlockedCIDRsAnalyzer(),
        InjectionAnalyzer(),
        InjectionImageAnalyzer(),
        ImageAutoAnalyzer(),
        KubernetesGatewaySelectorAnalyzer(),
        ConditionAnalyzer(),
        JWTClaimRouteAnalyzer(),
        AuthorizationPoliciesAnalyzer(),
        DeprecationAnalyzer(),
        LightstepAnalyzer(),
        WebhookAnalyzer(),
        MeshNetworksAnalyzer(),
        EnvoyPatchAnalyzer(),
        KubernetesAnnotationAnalyzer(),
        AlphaAnnotationAnalyzer(),
        GatewayAPICRDVersionAnalyzer(),
        MultiClusterServiceAnalyzer(),
    ] + SchemaValidationAnalyzer.perKind

    /// What a run without `--analyzer` uses: the default analyzers, less those that need running pods when there are none.
    public static func defaults(podsAreRunning: Bool) -> [any Analyzer] {
        all.filter { $0.runsByDefault && (podsAreRunning || !$0.needsRunningPods) }
    }

    /// The default analyzers for a cluster that runs no pods at all: those that report selectors matching no pod
    /// are left out, as every selector would match none.
    public static func defaultsForClusterWithoutPods() -> [any Analyzer] {
        all.filter { $0.runsByDefault && !$0.reportsSelectorsWithoutPods }
    }

    /// The analyzer with this name, if meshctl has it.
    public static func named(_ name: String) -> (any Analyzer)? {
        all.first { $0.name == name }
    }

    /// The annotation with which a resource hides analysis messages about itself: codes separated by commas, or `*`.
    public static let suppressAnnotation = "galley.istio.io/analyze-suppress"

    /// Runs `analyzers` over `input`, in order, leaving out what resources suppress with `galley.istio.io/analyze-suppress`.
    public static func run(_ analyzers: [any Analyzer], on input: AnalysisInput) -> [AnalysisMessage] {
        analyzers.flatMap { $0.analyze(input) }.filter { message in
            guard let codes = message.resource.annotations[suppressAnnotation] else { return true }
            let list = codes.split(separator: ",").map { String($0).trimmed }
            return !list.contains("*") && !list.contains(message.type.code)
        }
    }
}
