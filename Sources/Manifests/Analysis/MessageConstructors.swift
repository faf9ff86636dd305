/// One constructor per message code, as Istio has one per message: analyzers pass typed facts (the resource,
/// names, numbers, the node to point at) and the wording lives here, in meshctl's words.
extension AnalysisMessage {
    // MARK: IST0002, IST0101, IST0106

    /// A deprecated field or provider that a resource still uses.
    enum DeprecatedUse {
        /// `fault.<kind>.percent` (kind: delay or abort).
        case faultPercent(kind: String)
        case mirrorPercent
        case egressProxy
        case lightstepProvider(name: String)
    }

    /// IST0002.
    static func deprecated(_ resource: AnalyzedResource, _ use: DeprecatedUse, at node: YAMLNode?) -> AnalysisMessage {
        let text: String
        switch use {
        case .faultPercent(let kind): text = "fault.\(kind).percent is deprecated; use fault.\(kind).percentage.value"
        case .mirrorPercent: text = "mirrorPercent is deprecated; use mirrorPercentage.value"
        case .egressProxy:
            text = "outboundTrafficPolicy.egressProxy is deprecated; route unknown destinations with a ServiceEntry and VirtualService instead"
        case .lightstepProvider(let name):
            text = "the Lightstep tracing provider \(name) is deprecated; send traces with an OpenTelemetry provider instead"
        }
        return AnalysisMessage(Messages.deprecated, "Deprecated: " + text, on: resource, at: node)
    }

    /// What a resource refers to that does not exist.
    enum MissingReference {
        case gateway(String)
        /// A workload selector, as `key=value,...`.
        case selector(String)
        case credential(namespace: String, name: String)
        case host(String)
        case hostPort(host: String, port: Int)
        case subset(host: String, subset: String)
        case mirrorSubset(host: String, subset: String)
        case namespace(String)

        /// Istio's reference type and value.
        var typeAndValue: (String, String) {
            switch self {
            case .gateway(let name): ("gateway", name)
            case .selector(let text): ("selector", text)
            case .credential(let namespace, let name): ("credentialName", "\(namespace)/\(name)")
            case .host(let host): ("host", host)
            case .hostPort(let host, let port): ("host:port", "\(host):\(port)")
            case .subset(let host, let subset): ("host+subset in destinationrule", "\(host)+\(subset)")
            case .mirrorSubset(let host, let subset): ("mirror+subset in destinationrule", "\(host)+\(subset)")
            case .namespace(let pattern): ("namespace", pattern)
            }
        }
    }

    /// IST0101: `Referenced gateway not found: "shop/web"`.
    static func referencedResourceNotFound(_ resource: AnalyzedResource, _ reference: MissingReference, at node: YAMLNode?) -> AnalysisMessage {
        let (type, value) = reference.typeAndValue
        return AnalysisMessage(Messages.referencedResourceNotFound, "Referenced \(type) not found: \(GoFormat.quote(value))", on: resource, at: node)
    }

    /// IST0106: a schema problem at a field path ("" for the whole resource).
    static func schemaValidationError(_ resource: AnalyzedResource, fieldPath: String, problem: String, location: SourceLocation) -> AnalysisMessage {
        let field = fieldPath.isEmpty ? "" : "\(fieldPath): "
        return AnalysisMessage(Messages.schemaValidationError, "Schema validation error: \(field)\(problem)", on: resource, location: location)
    }

    // MARK: Injection: IST0102, IST0103, IST0123, IST0146, IST0147, IST0148, IST0158

    /// IST0102.
    static func namespaceNotInjected(_ namespace: AnalyzedResource) -> AnalysisMessage {
        AnalysisMessage(Messages.namespaceNotInjected,
            "namespace \(namespace.name) is not labelled for injection: run 'kubectl label namespace \(namespace.name) "
                + "istio-injection=enabled' to add the sidecar, or label it istio-injection=disabled to say it needs none",
            on: namespace)
    }

    /// IST0103.
    static func podMissingProxy(_ pod: AnalyzedResource) -> AnalysisMessage {
        AnalysisMessage(Messages.podMissingProxy,
            "pod \(pod.name) has no istio-proxy container although its namespace is injected; restart or redeploy its workload", on: pod)
    }

    /// IST0123: `labels` are the kinds of injection label the namespace carries.
    static func namespaceMultipleInjectionLabels(_ namespace: AnalyzedResource, labels: [String]) -> AnalysisMessage {
        AnalysisMessage(Messages.namespaceMultipleInjectionLabels,
            "namespace \(namespace.name) has more than one kind of injection label (\(labels.joined(separator: ", "))): which one wins "
                + "is undefined; keep one of them", on: namespace)
    }

    /// IST0146, for a workload that is not a Pod.
    static func imageAutoWithoutInjectionWarning(_ workload: AnalyzedResource, at node: YAMLNode?) -> AnalysisMessage {
        AnalysisMessage(Messages.imageAutoWithoutInjectionWarning, imageAutoText(workload), on: workload, at: node)
    }

    /// IST0147, for a Pod.
    static func imageAutoWithoutInjectionError(_ pod: AnalyzedResource, at node: YAMLNode?) -> AnalysisMessage {
        AnalysisMessage(Messages.imageAutoWithoutInjectionError, imageAutoText(pod), on: pod, at: node)
    }

    private static func imageAutoText(_ workload: AnalyzedResource) -> String {
        "\(workload.kind) \(workload.name) has `image: auto`, but no Istio injection webhook selects it, so nothing will set the "
            + "image; label its namespace for injection (istio-injection=enabled or istio.io/rev) or its pods sidecar.istio.io/inject=true"
    }

    /// IST0148.
    static func namespaceInjectionEnabledByDefault(_ namespace: AnalyzedResource) -> AnalysisMessage {
        AnalysisMessage(Messages.namespaceInjectionEnabledByDefault,
            "namespace \(namespace.name) gets the sidecar without a label, because the injector enables every namespace "
                + "(enableNamespacesByDefault); label it istio-injection=disabled to opt out", on: namespace)
    }

    /// IST0158: `pods` run a proxy image other than the injector's current one.
    static func podsIstioProxyImageMismatchInNamespace(_ namespace: AnalyzedResource, pods: [String]) -> AnalysisMessage {
        AnalysisMessage(Messages.podsIstioProxyImageMismatchInNamespace,
            "pods \(pods.joined(separator: ", ")) run a proxy image other than the one the injector now gives namespace "
                + "\(namespace.name), usually after a control-plane upgrade; restart their workloads to update them", on: namespace)
    }

    // MARK: Annotations: IST0107, IST0108, IST0125, IST0135, IST0136

    /// IST0107: `onPodTemplate` when the annotation sits on a workload's pod template rather than the resource itself.
    static func misplacedAnnotation(_ resource: AnalyzedResource, annotation: String, allowedKinds: [String], onPodTemplate: Bool,
                                    at node: YAMLNode?) -> AnalysisMessage {
        let place = onPodTemplate ? " (it is on the pod template's metadata, so it reaches Pods)" : ""
        return AnalysisMessage(Messages.misplacedAnnotation,
            "Misplaced annotation: \(annotation) can only be applied to \(allowedKinds.joined(separator: ", "))\(place)", on: resource, at: node)
    }

    /// IST0108, with the closest known annotation when there is one.
    static func unknownAnnotation(_ resource: AnalyzedResource, annotation: String, closest: String?, at node: YAMLNode?) -> AnalysisMessage {
        let hint = closest.map { " (did you mean \($0)?)" } ?? ""
        return AnalysisMessage(Messages.unknownAnnotation, "Unknown annotation: \(annotation)\(hint)", on: resource, at: node)
    }

    /// IST0125: `problem` says what is wrong with the value.
    static func invalidAnnotation(_ resource: AnalyzedResource, annotation: String, value: String, problem: String, at node: YAMLNode?) -> AnalysisMessage {
        AnalysisMessage(Messages.invalidAnnotation, "Invalid annotation \(annotation): \(GoFormat.quote(value)) \(problem)", on: resource, at: node)
    }

    /// IST0135, with the annotation to use instead when there is one.
    static func deprecatedAnnotation(_ resource: AnalyzedResource, annotation: String, replacement: String?, at node: YAMLNode?) -> AnalysisMessage {
        let instead = replacement.map { " in favor of \($0)" } ?? ""
        return AnalysisMessage(Messages.deprecatedAnnotation,
            "Annotation \(GoFormat.quote(annotation)) has been deprecated\(instead) and may not work in future Istio versions.", on: resource, at: node)
    }

    /// IST0136.
    static func alphaAnnotation(_ resource: AnalyzedResource, annotation: String, at node: YAMLNode?) -> AnalysisMessage {
        AnalysisMessage(Messages.alphaAnnotation,
            "Annotation \(GoFormat.quote(annotation)) is part of an alpha-phase feature and may be incompletely supported.", on: resource, at: node)
    }

    // MARK: VirtualServices: IST0109, IST0112, IST0130, IST0131, IST0132, IST0140, IST0149, IST0165

    /// IST0109: `service` and `other` both bind `host` to the mesh gateway.
    static func conflictingMeshGatewayVirtualServiceHosts(_ service: AnalyzedResource, other: AnalyzedResource, host: String) -> AnalysisMessage {
        AnalysisMessage(Messages.conflictingMeshGatewayVirtualServiceHosts,
            "VirtualServices \(service.qualifiedName) and \(other.qualifiedName) "
                + "for the mesh gateway both define host \(host): which rules apply is undefined; merge them into one VirtualService",
            on: service)
    }

    /// IST0112.
    static func virtualServiceDestinationPortSelectorRequired(_ service: AnalyzedResource, host: String, ports: [Int], at node: YAMLNode?) -> AnalysisMessage {
        AnalysisMessage(Messages.virtualServiceDestinationPortSelectorRequired,
            "destination \(host) is a Service with several ports (\(ports.map(String.init).joined(separator: ", "))): "
                + "set destination.port.number to say which one", on: service, at: node)
    }

    /// A VirtualService rule as messages name it: `"its-name"`, or `http[2]` when it has none.
    struct RouteRule: CustomStringConvertible {
        var section: String
        var index: Int
        var name: String?

        var description: String { name.map { "\"\($0)\"" } ?? "\(section)[\(index)]" }
    }

    /// Why a rule is never used.
    enum UnreachableReason {
        /// An earlier rule of the section (its index) has no match and takes every request.
        case afterCatchAll(Int)
        /// Earlier rules have every match of this one.
        case matchesTakenEarlier
    }

    /// IST0130.
    static func virtualServiceUnreachableRule(_ service: AnalyzedResource, rule: RouteRule, _ reason: UnreachableReason, at node: YAMLNode?) -> AnalysisMessage {
        let why: String
        switch reason {
        case .afterCatchAll(let first):
            why = "rule \(rule.section)[\(first)] before it has no match and takes every request; only the last rule may have no match"
        case .matchesTakenEarlier:
            why = "earlier rules already have all of its matches"
        }
        return AnalysisMessage(Messages.virtualServiceUnreachableRule, "rule \(rule) is never used: \(why)", on: service, at: node)
    }

    /// IST0131: match `match` of `rule` is never used because rule `earlierRule` of the section matches first.
    static func virtualServiceIneffectiveMatch(_ service: AnalyzedResource, rule: RouteRule, match: Int, earlierRule: Int,
                                               at node: YAMLNode?) -> AnalysisMessage {
        AnalysisMessage(Messages.virtualServiceIneffectiveMatch,
            "match \(match) of rule \(rule) is never used: rule \(rule.section)[\(earlierRule)] has the same or a wider match first",
            on: service, at: node)
    }

    /// IST0132: the Gateway `namespace/name` serves none of `hosts`.
    static func virtualServiceHostNotFoundInGateway(_ service: AnalyzedResource, hosts: [String], gatewayNamespace: String, gatewayName: String,
                                                    at node: YAMLNode?) -> AnalysisMessage {
        let gateway = gatewayNamespace.isEmpty ? gatewayName : "\(gatewayNamespace)/\(gatewayName)"
        return AnalysisMessage(Messages.virtualServiceHostNotFoundInGateway,
            "none of the hosts [\(hosts.joined(separator: ", "))] of VirtualService \(service.qualifiedName) "
                + "is served by Gateway \(gateway); add them to one of the Gateway's servers", on: service, at: node)
    }

    /// IST0140: `meshRule` splits `host` by subset, but the gateway route in `service` sends to it without one.
    static func ingressRouteRulesNotAffected(_ service: AnalyzedResource, meshRule: AnalyzedResource, host: String, at node: YAMLNode?) -> AnalysisMessage {
        AnalysisMessage(Messages.ingressRouteRulesNotAffected,
            "VirtualService \(meshRule.qualifiedName) splits \(host) by subset, but this gateway route "
                + "sends to \(host) without a subset, so that split does not apply to requests entering through the gateway",
            on: service, at: node)
    }

    /// IST0149: the route matches JWT claim `claim`, but no RequestAuthentication covers the pods of `gateway` (`selector`).
    static func jwtClaimBasedRoutingWithoutRequestAuthN(_ service: AnalyzedResource, claim: String, gateway: String, selector: String) -> AnalysisMessage {
        AnalysisMessage(Messages.jwtClaimBasedRoutingWithoutRequestAuthN,
            "the route matches the JWT claim \(claim), but no RequestAuthentication covers the pods of Gateway \(gateway) "
                + "(\(selector)), so the claim is never available; apply a RequestAuthentication that selects them", on: service)
    }

    /// IST0165: `gateway` is a Gateway Istio generates for a Kubernetes Gateway.
    static func referencedInternalGateway(_ service: AnalyzedResource, gateway: String, at node: YAMLNode?) -> AnalysisMessage {
        AnalysisMessage(Messages.referencedInternalGateway,
            "VirtualService \(service.qualifiedName) names \(GoFormat.quote(gateway)), a Gateway Istio "
                + "generates for a Kubernetes Gateway; reference the Kubernetes Gateway through an HTTPRoute instead", on: service, at: node)
    }

    // MARK: Selectors: IST0110, IST0111, IST0127, IST0159, IST0160, IST0166, IST0167

    /// IST0110: `sidecars` all select `pod`.
    static func conflictingSidecarWorkloadSelectors(_ sidecar: AnalyzedResource, sidecars: [String], pod: String) -> AnalysisMessage {
        AnalysisMessage(Messages.conflictingSidecarWorkloadSelectors,
            "Sidecars \(sidecars.joined(separator: ", ")) all select pod \(pod): which one applies is undefined; make their selectors distinct",
            on: sidecar)
    }

    /// IST0111: `sidecars` of `namespace` all have no workload selector.
    static func multipleSidecarsWithoutWorkloadSelectors(_ sidecar: AnalyzedResource, sidecars: [String], namespace: String) -> AnalysisMessage {
        AnalysisMessage(Messages.multipleSidecarsWithoutWorkloadSelectors,
            "Sidecars \(sidecars.joined(separator: ", ")) in namespace \(namespace) all have no workload "
                + "selector: which one applies is undefined; keep one, or give the others selectors", on: sidecar)
    }

    /// IST0127: `labels` is the policy's selector as `key=value,...` ("" when it has none).
    static func noMatchingWorkloadsFound(_ policy: AnalyzedResource, labels: String, at node: YAMLNode?) -> AnalysisMessage {
        AnalysisMessage(Messages.noMatchingWorkloadsFound,
            "no running workload matches this policy" + (labels.isEmpty ? " (no pods in its namespace)" : " (labels \(labels))")
                + "; check its selector and namespace", on: policy, at: node)
    }

    /// IST0159: `telemetries` all select `pod`.
    static func conflictingTelemetryWorkloadSelectors(_ telemetry: AnalyzedResource, telemetries: [String], pod: String) -> AnalysisMessage {
        AnalysisMessage(Messages.conflictingTelemetryWorkloadSelectors,
            "Telemetries \(telemetries.joined(separator: ", ")) all select pod \(pod): which one applies is undefined; "
                + "make their selectors distinct", on: telemetry)
    }

    /// IST0160: `telemetries` of `namespace` all have no selector.
    static func multipleTelemetriesWithoutWorkloadSelectors(_ telemetry: AnalyzedResource, telemetries: [String], namespace: String) -> AnalysisMessage {
        AnalysisMessage(Messages.multipleTelemetriesWithoutWorkloadSelectors,
            "Telemetries \(telemetries.joined(separator: ", ")) in namespace \(namespace) all have no selector: "
                + "which one applies is undefined; keep one, or give the others selectors", on: telemetry)
    }

    /// IST0166: the policy's selector picks pods of the Kubernetes Gateway `gateway`.
    static func ineffectiveSelector(_ policy: AnalyzedResource, gateway: String, at node: YAMLNode?) -> AnalysisMessage {
        AnalysisMessage(Messages.ineffectiveSelector,
            "the selector picks pods of Kubernetes Gateway \(gateway), where selectors have no effect; use targetRef "
                + "(group: gateway.networking.k8s.io, kind: Gateway, name: \(gateway)) instead", on: policy, at: node)
    }

    /// Why a Sidecar does nothing in ambient mode.
    enum AmbientReason {
        /// The Sidecar's namespace (named) uses ambient mode and the Sidecar selects no workload.
        case ambientNamespace(String)
        /// Every pod it selects runs in ambient mode.
        case ambientPods
    }

    /// IST0167, for a Sidecar in ambient mode.
    static func ineffectivePolicy(_ sidecar: AnalyzedResource, _ reason: AmbientReason) -> AnalysisMessage {
        let why: String
        switch reason {
        case .ambientNamespace(let namespace): why = "namespace \(namespace) uses ambient mode"
        case .ambientPods: why = "the pods it selects run in ambient mode"
        }
        return AnalysisMessage(Messages.ineffectivePolicy,
            "this Sidecar has no effect: \(why); ambient workloads have no sidecar to configure", on: sidecar)
    }

    // MARK: Services and workloads: IST0116, IST0118, IST0137, IST0144, IST0150, IST0170, IST0173, IST0174

    /// IST0116: Services of `deployment` give `port` the different `protocols`.
    static func deploymentAssociatedToMultipleServices(_ deployment: AnalyzedResource, port: Int, protocols: [String]) -> AnalysisMessage {
        AnalysisMessage(Messages.deploymentAssociatedToMultipleServices,
            "Deployment \(deployment.name) is behind several Services that use port \(port) with different protocols "
                + "(\(protocols.sorted().joined(separator: ", "))); give the port one protocol in every Service", on: deployment)
    }

    /// IST0118.
    static func portNameIsNotUnderNamingConvention(_ service: AnalyzedResource, portName: String, port: String, targetPort: String,
                                                   at node: YAMLNode?) -> AnalysisMessage {
        AnalysisMessage(Messages.portNameIsNotUnderNamingConvention,
            "Port name \(portName) (port: \(port), targetPort: \(targetPort)) does not follow Istio's port naming convention "
                + "<protocol>[-<suffix>]; rename it or set appProtocol", on: service, at: node)
    }

    /// IST0137: `services` of `deployment` send `targetPort` through the different `ports`.
    static func deploymentConflictingPorts(_ deployment: AnalyzedResource, services: [String], targetPort: String, ports: [Int]) -> AnalysisMessage {
        AnalysisMessage(Messages.deploymentConflictingPorts,
            "Deployment \(deployment.name) is behind Services \(services.joined(separator: ", ")) that send target port "
                + "\(targetPort) through different ports (\(ports.sorted().map(String.init).joined(separator: ", "))); use one port for it",
            on: deployment)
    }

    /// IST0144.
    static func invalidApplicationUID(_ workload: AnalyzedResource, at node: YAMLNode?) -> AnalysisMessage {
        AnalysisMessage(Messages.invalidApplicationUID,
            "UID 1337 belongs to the sidecar proxy: traffic from this workload would skip the proxy; run it as another user", on: workload, at: node)
    }

    /// IST0150: `portName` is "" for a port without a name.
    static func externalNameServiceTypeInvalidPortName(_ service: AnalyzedResource, portName: String, at node: YAMLNode?) -> AnalysisMessage {
        AnalysisMessage(Messages.externalNameServiceTypeInvalidPortName,
            "Port \(portName.isEmpty ? "without a name" : "name \(GoFormat.quote(portName))") of ExternalName service is read as TCP: "
                + "the proxy may not forward its traffic as intended; name it <protocol>[-<suffix>] with the protocol it serves",
            on: service, at: node)
    }

    /// How one aspect of a Service differs between two clusters.
    struct ServiceDifference: Equatable, CustomStringConvertible {
        var aspect: String
        var value: String
        var cluster: String
        /// nil when the other cluster's Service lacks the aspect.
        var otherValue: String?
        var otherCluster: String

        var description: String { "\(aspect): \(value) in \(cluster), \(otherValue ?? "none") in \(otherCluster)" }
    }

    /// IST0170: the Service differs between `clusters` in `differences`.
    static func multiClusterInconsistentService(_ service: AnalyzedResource, clusters: [String], differences: [ServiceDifference]) -> AnalysisMessage {
        AnalysisMessage(Messages.multiClusterInconsistentService,
            "Service \(service.name) in namespace \(service.namespaceOrEmpty) differs between clusters \(clusters.joined(separator: ", ")): "
                + differences.map(\.description).joined(separator: "; ") + "; which definition applies then depends on the cluster that answers",
            on: service)
    }

    /// IST0173: `subset` of the rule selects no pod of `service`.
    static func destinationRuleSubsetNotSelectPods(_ rule: AnalyzedResource, subset: String, service: AnalyzedResource, at node: YAMLNode?) -> AnalysisMessage {
        AnalysisMessage(Messages.destinationRuleSubsetNotSelectPods,
            "subset \(subset) selects no pod of Service \(service.qualifiedName): requests to it fail with 503 UH "
                + "(no healthy upstream); fix its labels or deploy the version", on: rule, at: node)
    }

    /// IST0174.
    static func unknownDestinationRuleHost(_ rule: AnalyzedResource, host: String, at node: YAMLNode?) -> AnalysisMessage {
        AnalysisMessage(Messages.unknownDestinationRuleHost,
            "host \(host) of the DestinationRule matches no Service or ServiceEntry in the mesh; check its name and namespace", on: rule, at: node)
    }

    // MARK: Mesh configuration and webhooks: IST0126, IST0139, IST0163, IST0164

    /// IST0126: `network` takes endpoints from the unknown `registry`.
    static func unknownMeshNetworksServiceRegistry(_ holder: AnalyzedResource, registry: String, network: String, location: SourceLocation) -> AnalysisMessage {
        AnalysisMessage(Messages.unknownMeshNetworksServiceRegistry,
            "network \(network) takes endpoints from registry \(registry), which is neither this cluster "
                + "(Kubernetes) nor a cluster with a remote secret; fix the name or add the cluster's secret", on: holder, location: location)
    }

    /// What is wrong with an injector configuration's webhooks.
    enum WebhookProblem {
        /// `webhook` calls the Service `namespace/name`, which does not exist.
        case missingService(webhook: String, namespace: String, name: String)
        /// Its webhooks select the same namespaces and pods as the configuration named.
        case overlapsWith(String)
    }

    /// IST0139.
    static func invalidWebhook(_ configuration: AnalyzedResource, _ problem: WebhookProblem, at node: YAMLNode? = nil) -> AnalysisMessage {
        let text: String
        switch problem {
        case .missingService(let webhook, let namespace, let name):
            text = "webhook \(webhook) calls Service \(namespace)/\(name), which does not exist; injection fails or is skipped"
        case .overlapsWith(let other):
            text = "its injection webhooks select the same namespaces and pods as \(other): pods there would be "
                + "injected twice; make the selectors exclusive (e.g. istio-injection vs istio.io/rev)"
        }
        return AnalysisMessage(Messages.invalidWebhook, text, on: configuration, at: node)
    }

    /// IST0163: `webhook` has an empty clientConfig.url.
    static func invalidExternalControlPlaneConfig(_ configuration: AnalyzedResource, webhook: String, at node: YAMLNode?) -> AnalysisMessage {
        AnalysisMessage(Messages.invalidExternalControlPlaneConfig,
            "webhook \(webhook) has an empty clientConfig.url, so it cannot reach the external control plane's "
                + "ingress gateway; set the gateway's URL", on: configuration, at: node)
    }

    /// IST0164: `webhook` reaches the external control plane at the IP `address`.
    static func externalControlPlaneAddressIsNotAHostname(_ configuration: AnalyzedResource, webhook: String, address: String,
                                                          at node: YAMLNode?) -> AnalysisMessage {
        AnalysisMessage(Messages.externalControlPlaneAddressIsNotAHostname,
            "webhook \(webhook) reaches the external control plane at the IP address \(address); a host name is "
                + "recommended in production", on: configuration, at: node)
    }

    // MARK: TLS and security: IST0128, IST0129, IST0138, IST0161, IST0175

    /// IST0128: the rule's TLS `mode` does not verify `host`.
    static func noServerCertificateVerificationDestinationLevel(_ rule: AnalyzedResource, mode: String, host: String, at node: YAMLNode?) -> AnalysisMessage {
        AnalysisMessage(Messages.noServerCertificateVerificationDestinationLevel,
            "DestinationRule \(rule.name) in namespace \(rule.namespaceOrEmpty) uses TLS mode \(mode) without caCertificates, "
                + "so the identity of \(host) is not verified; set caCertificates (or credentialName with a workloadSelector)", on: rule, at: node)
    }

    /// IST0129: as IST0128, on one port's settings.
    static func noServerCertificateVerificationPortLevel(_ rule: AnalyzedResource, mode: String, host: String, port: String,
                                                         at node: YAMLNode?) -> AnalysisMessage {
        AnalysisMessage(Messages.noServerCertificateVerificationPortLevel,
            "DestinationRule \(rule.name) in namespace \(rule.namespaceOrEmpty) uses TLS mode \(mode) on port \(port) without "
                + "caCertificates, so the identity of \(host) is not verified there; set caCertificates for the port", on: rule, at: node)
    }

    /// IST0138: `gateways` (the reported one first) serve the same certificate to the same workloads.
    static func gatewayDuplicateCertificate(_ gateway: AnalyzedResource, gateways: [AnalyzedResource]) -> AnalysisMessage {
        AnalysisMessage(Messages.gatewayDuplicateCertificate,
            "Gateways \(gateways.map(\.qualifiedName).joined(separator: ", ")) serve the same certificate to the same workloads: HTTP/2 "
                + "clients may reuse one connection for another gateway's hosts and get 404s; merge the servers into one Gateway or use distinct "
                + "certificates", on: gateway)
    }

    /// IST0161: the credential `namespace/name` cannot be served; `problem` says what is wrong with the secret.
    static func invalidGatewayCredential(_ gateway: AnalyzedResource, namespace: String, name: String, problem: String,
                                         at node: YAMLNode?) -> AnalysisMessage {
        AnalysisMessage(Messages.invalidGatewayCredential,
            "TLS credential \(namespace)/\(name) cannot be served, so TLS to this gateway fails: the secret \(problem)", on: gateway, at: node)
    }

    /// IST0175: istiod fetches the JWKS URIs of `requestAuthentications` without BLOCKED_CIDRS_IN_JWKS_URIS.
    static func jwksUriFetchUnrestricted(_ istiod: AnalyzedResource, requestAuthentications: [AnalyzedResource]) -> AnalysisMessage {
        AnalysisMessage(Messages.jwksUriFetchUnrestricted,
            "istiod does not set BLOCKED_CIDRS_IN_JWKS_URIS, but \(requestAuthentications.count) RequestAuthentication(s) "
                + "(\(requestAuthentications.map(\.qualifiedName).joined(separator: ", "))) "
                + "make it fetch JWKS URIs; set it to the networks istiod must not reach, e.g. 10.0.0.0/8,192.168.0.0/16", on: istiod)
    }

    // MARK: Gateways: IST0145, IST0162, IST0176

    /// IST0145: the Gateway conflicts with `others` on `port` for `hosts`; `selector` is its workload selector.
    static func conflictingGateways(_ gateway: AnalyzedResource, others: [AnalyzedResource], selector: String, port: Int, hosts: [String],
                                    at node: YAMLNode?) -> AnalysisMessage {
        AnalysisMessage(Messages.conflictingGateways,
            "conflicts with Gateway \(others.map(\.qualifiedName).joined(separator: ", ")) (workload selector \(selector), port \(port), "
                + "hosts \(hosts.joined(separator: ", "))): only one of them gets the port; merge them or change a port or host", on: gateway, at: node)
    }

    /// IST0162: no Service of the gateway's pods (`selector`) exposes `port`.
    static func gatewayPortNotDefinedOnService(_ gateway: AnalyzedResource, port: Int, selector: String, at node: YAMLNode?) -> AnalysisMessage {
        AnalysisMessage(Messages.gatewayPortNotDefinedOnService,
            "the Gateway listens on port \(port), which no Service of its pods (selector \(selector)) exposes; "
                + "add the port to the gateway's Service, or clients cannot reach it through that Service", on: gateway, at: node)
    }

    /// IST0176: the CRD of `kind` is at bundle `installed`; Istio needs `minimum`, the first to serve `kind` `apiVersion`.
    static func gatewayAPICRDVersionBelowMinimum(_ crd: AnalyzedResource, installed: String, minimum: String, kind: String,
                                                 apiVersion: String) -> AnalysisMessage {
        AnalysisMessage(Messages.gatewayAPICRDVersionBelowMinimum,
            "Gateway API CRD \(GoFormat.quote(crd.name)) is at version \(GoFormat.quote(installed)) but Istio requires at least "
                + "\(GoFormat.quote(minimum)) (the first to serve \(kind) \(apiVersion)); \(kind) resources will not be "
                + "processed until the Gateway API CRDs are upgraded", on: crd)
    }

    // MARK: EnvoyFilters: IST0151 to IST0155

    /// IST0151: a patch uses the relative `operation` without a priority.
    static func envoyFilterUsesRelativeOperation(_ filter: AnalyzedResource, operation: String, at node: YAMLNode?) -> AnalysisMessage {
        AnalysisMessage(Messages.envoyFilterUsesRelativeOperation,
            "a patch uses the relative operation \(operation) without a priority, so whether it applies depends on the order "
                + "of EnvoyFilters; set spec.priority, or use ADD or INSERT_FIRST", on: filter, at: node)
    }

    /// IST0152: REPLACE applied to `applyTo`.
    static func envoyFilterUsesReplaceOperationIncorrectly(_ filter: AnalyzedResource, applyTo: String, at node: YAMLNode?) -> AnalysisMessage {
        AnalysisMessage(Messages.envoyFilterUsesReplaceOperationIncorrectly,
            "REPLACE only works on HTTP_FILTER and NETWORK_FILTER; this patch applies to \(applyTo) and is ignored", on: filter, at: node)
    }

    /// IST0153: ADD applied to a route configuration or route (`applyTo`).
    static func envoyFilterUsesAddOperationIncorrectly(_ filter: AnalyzedResource, applyTo: String, at node: YAMLNode?) -> AnalysisMessage {
        AnalysisMessage(Messages.envoyFilterUsesAddOperationIncorrectly,
            "ADD is ignored for \(applyTo); use MERGE to change a route configuration", on: filter, at: node)
    }

    /// IST0154: REMOVE applied to a route configuration or route (`applyTo`).
    static func envoyFilterUsesRemoveOperationIncorrectly(_ filter: AnalyzedResource, applyTo: String, at node: YAMLNode?) -> AnalysisMessage {
        AnalysisMessage(Messages.envoyFilterUsesRemoveOperationIncorrectly, "REMOVE is ignored for \(applyTo)", on: filter, at: node)
    }

    /// IST0155: as IST0151, in a patch that also matches a proxyVersion.
    static func envoyFilterUsesRelativeOperationWithProxyVersion(_ filter: AnalyzedResource, operation: String, at node: YAMLNode?) -> AnalysisMessage {
        AnalysisMessage(Messages.envoyFilterUsesRelativeOperationWithProxyVersion,
            "a patch uses the relative operation \(operation) and matches a proxyVersion, without a priority: after an upgrade "
                + "it may apply in another order or not at all; set spec.priority, or use ADD or INSERT_FIRST", on: filter, at: node)
    }

    // MARK: ServiceEntries, Telemetry and conditions: IST0134, IST0157, IST0171, IST0177

    /// IST0134: the entry has a TCP port (`node`) but no addresses.
    static func serviceEntryAddressesRequired(_ entry: AnalyzedResource, at node: YAMLNode?) -> AnalysisMessage {
        AnalysisMessage(Messages.serviceEntryAddressesRequired,
            "ServiceEntry \(entry.name) has a TCP port (or one without a protocol) but no addresses: the proxy cannot route its "
                + "traffic by host; set addresses, a protocol such as HTTP or TLS, or enable DNS capture with auto allocation", on: entry, at: node)
    }

    /// IST0157: a `section` entry names no provider and the mesh has no default one.
    static func invalidTelemetryProvider(_ telemetry: AnalyzedResource, section: String, at node: YAMLNode?) -> AnalysisMessage {
        AnalysisMessage(Messages.invalidTelemetryProvider,
            "a \(section) entry of Telemetry \(telemetry.name) in namespace \(telemetry.namespaceOrEmpty) names no provider and the mesh "
                + "has no default one, so it is ignored; add providers, or set meshConfig.defaultProviders.\(section)", on: telemetry, at: node)
    }

    /// IST0171: condition `type` has status `status` for `reason`, with its message when it has one.
    static func negativeConditionStatus(_ resource: AnalyzedResource, type: String, status: String, reason: String, message: String?,
                                        at node: YAMLNode?) -> AnalysisMessage {
        let detail = message.map { ": \($0)" } ?? ""
        return AnalysisMessage(Messages.negativeConditionStatus, "condition \(type) is \(status) with reason \(reason)\(detail)", on: resource, at: node)
    }

    /// IST0177: `entries` give `host:port` the different `protocols`.
    static func conflictingServiceEntryProtocol(_ entry: AnalyzedResource, entries: [AnalyzedResource], hostPort: String, protocols: [String],
                                                at node: YAMLNode?) -> AnalysisMessage {
        AnalysisMessage(Messages.conflictingServiceEntryProtocol,
            "ServiceEntries \(entries.map(\.qualifiedName).joined(separator: ", ")) give \(hostPort) different protocols "
                + "(\(protocols.joined(separator: ", "))): only one of them takes effect; make them agree", on: entry, at: node)
    }
}
