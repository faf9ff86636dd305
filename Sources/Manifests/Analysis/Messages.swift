/// The message types meshctl's analyzers emit: Istio's codes, names and levels. Analyzers make their messages
/// with the constructors of `AnalysisMessage` in MessageConstructors.swift, one per code, which hold meshctl's wording.
public enum Messages {
    public static let deprecated = MessageType(code: "IST0002", name: "Deprecated", level: .warning)
    public static let referencedResourceNotFound = MessageType(code: "IST0101", name: "ReferencedResourceNotFound", level: .error)
    public static let schemaValidationError = MessageType(code: "IST0106", name: "SchemaValidationError", level: .error)
    public static let noServerCertificateVerificationDestinationLevel = MessageType(
        code: "IST0128", name: "NoServerCertificateVerificationDestinationLevel", level: .warning)
    public static let noServerCertificateVerificationPortLevel = MessageType(
        code: "IST0129", name: "NoServerCertificateVerificationPortLevel", level: .warning)
    public static let invalidApplicationUID = MessageType(code: "IST0144", name: "InvalidApplicationUID", level: .warning)
    public static let conflictingGateways = MessageType(code: "IST0145", name: "ConflictingGateways", level: .error)
    public static let gatewayPortNotDefinedOnService = MessageType(code: "IST0162", name: "GatewayPortNotDefinedOnService", level: .warning)
    public static let serviceEntryAddressesRequired = MessageType(code: "IST0134", name: "ServiceEntryAddressesRequired", level: .warning)
    public static let deploymentAssociatedToMultipleServices = MessageType(code: "IST0116", name: "DeploymentAssociatedToMultipleServices",
                                                                           level: .warning)
    public static let deploymentConflictingPorts = MessageType(code: "IST0137", name: "DeploymentConflictingPorts", level: .warning)
    public static let destinationRuleSubsetNotSelectPods = MessageType(code: "IST0173", name: "DestinationRuleSubsetNotSelectPods", level: .error)
    public static let unknownDestinationRuleHost = MessageType(code: "IST0174", name: "UnknownDestinationRuleHost", level: .warning)
    public static let conflictingServiceEntryProtocol = MessageType(code: "IST0177", name: "ConflictingServiceEntryProtocol", level: .warning)
    public static let conflictingMeshGatewayVirtualServiceHosts = MessageType(code: "IST0109", name: "ConflictingMeshGatewayVirtualServiceHosts",
                                                                              level: .error)
    public static let conflictingSidecarWorkloadSelectors = MessageType(code: "IST0110", name: "ConflictingSidecarWorkloadSelectors", level: .error)
    public static let multipleSidecarsWithoutWorkloadSelectors = MessageType(code: "IST0111", name: "MultipleSidecarsWithoutWorkloadSelectors",
                                                                             level: .error)
    public static let ineffectivePolicy = MessageType(code: "IST0167", name: "IneffectivePolicy", level: .warning)
    public static let virtualServiceDestinationPortSelectorRequired = MessageType(
        code: "IST0112", name: "VirtualServiceDestinationPortSelectorRequired", level: .error)
    public static let ingressRouteRulesNotAffected = MessageType(code: "IST0140", name: "IngressRouteRulesNotAffected", level: .warning)
    public static let invalidTelemetryProvider = MessageType(code: "IST0157", name: "InvalidTelemetryProvider", level: .warning)
    public static let conflictingTelemetryWorkloadSelectors = MessageType(code: "IST0159", name: "ConflictingTelemetryWorkloadSelectors",
                                                                          level: .error)
    public static let multipleTelemetriesWithoutWorkloadSelectors = MessageType(
        code: "IST0160", name: "MultipleTelemetriesWithoutWorkloadSelectors", level: .error)
    public static let invalidExternalControlPlaneConfig = MessageType(code: "IST0163", name: "InvalidExternalControlPlaneConfig", level: .warning)
    public static let externalControlPlaneAddressIsNotAHostname = MessageType(code: "IST0164", name: "ExternalControlPlaneAddressIsNotAHostname",
                                                                              level: .info)
    public static let gatewayDuplicateCertificate = MessageType(code: "IST0138", name: "GatewayDuplicateCertificate", level: .warning)
    public static let jwksUriFetchUnrestricted = MessageType(code: "IST0175", name: "JwksUriFetchUnrestricted", level: .warning)
    public static let namespaceNotInjected = MessageType(code: "IST0102", name: "NamespaceNotInjected", level: .info)
    public static let podMissingProxy = MessageType(code: "IST0103", name: "PodMissingProxy", level: .warning)
    public static let namespaceMultipleInjectionLabels = MessageType(code: "IST0123", name: "NamespaceMultipleInjectionLabels", level: .warning)
    public static let namespaceInjectionEnabledByDefault = MessageType(code: "IST0148", name: "NamespaceInjectionEnabledByDefault", level: .info)
    public static let envoyFilterUsesRelativeOperation = MessageType(code: "IST0151", name: "EnvoyFilterUsesRelativeOperation", level: .warning)
    public static let envoyFilterUsesReplaceOperationIncorrectly = MessageType(code: "IST0152", name: "EnvoyFilterUsesReplaceOperationIncorrectly",
                                                                               level: .error)
    public static let envoyFilterUsesAddOperationIncorrectly = MessageType(code: "IST0153", name: "EnvoyFilterUsesAddOperationIncorrectly",
                                                                           level: .error)
    public static let envoyFilterUsesRemoveOperationIncorrectly = MessageType(code: "IST0154", name: "EnvoyFilterUsesRemoveOperationIncorrectly",
                                                                              level: .error)
    public static let envoyFilterUsesRelativeOperationWithProxyVersion = MessageType(
        code: "IST0155", name: "EnvoyFilterUsesRelativeOperationWithProxyVersion", level: .warning)
    public static let podsIstioProxyImageMismatchInNamespace = MessageType(code: "IST0158", name: "PodsIstioProxyImageMismatchInNamespace",
                                                                           level: .warning)
    public static let imageAutoWithoutInjectionWarning = MessageType(code: "IST0146", name: "ImageAutoWithoutInjectionWarning", level: .warning)
    public static let imageAutoWithoutInjectionError = MessageType(code: "IST0147", name: "ImageAutoWithoutInjectionError", level: .error)
    public static let ineffectiveSelector = MessageType(code: "IST0166", name: "IneffectiveSelector", level: .warning)
    public static let negativeConditionStatus = MessageType(code: "IST0171", name: "NegativeConditionStatus", level: .warning)
    public static let jwtClaimBasedRoutingWithoutRequestAuthN = MessageType(code: "IST0149", name: "JwtClaimBasedRoutingWithoutRequestAuthN",
                                                                            level: .error)
    public static let noMatchingWorkloadsFound = MessageType(code: "IST0127", name: "NoMatchingWorkloadsFound", level: .warning)
    public static let invalidWebhook = MessageType(code: "IST0139", name: "InvalidWebhook", level: .error)
    public static let unknownMeshNetworksServiceRegistry = MessageType(code: "IST0126", name: "UnknownMeshNetworksServiceRegistry", level: .error)
    public static let virtualServiceUnreachableRule = MessageType(code: "IST0130", name: "VirtualServiceUnreachableRule", level: .warning)
    public static let virtualServiceIneffectiveMatch = MessageType(code: "IST0131", name: "VirtualServiceIneffectiveMatch", level: .info)
    public static let portNameIsNotUnderNamingConvention = MessageType(code: "IST0118", name: "PortNameIsNotUnderNamingConvention", level: .info)
    public static let virtualServiceHostNotFoundInGateway = MessageType(code: "IST0132", name: "VirtualServiceHostNotFoundInGateway",
                                                                        level: .warning)
    public static let externalNameServiceTypeInvalidPortName = MessageType(code: "IST0150", name: "ExternalNameServiceTypeInvalidPortName",
                                                                           level: .warning)
    public static let referencedInternalGateway = MessageType(code: "IST0165", name: "ReferencedInternalGateway", level: .warning)

    public static let misplacedAnnotation = MessageType(code: "IST0107", name: "MisplacedAnnotation", level: .warning)
    public static let unknownAnnotation = MessageType(code: "IST0108", name: "UnknownAnnotation", level: .warning)
    public static let invalidAnnotation = MessageType(code: "IST0125", name: "InvalidAnnotation", level: .warning)
    public static let deprecatedAnnotation = MessageType(code: "IST0135", name: "DeprecatedAnnotation", level: .info)
    public static let alphaAnnotation = MessageType(code: "IST0136", name: "AlphaAnnotation", level: .info)
    public static let invalidGatewayCredential = MessageType(code: "IST0161", name: "InvalidGatewayCredential", level: .error)
    public static let multiClusterInconsistentService = MessageType(code: "IST0170", name: "MultiClusterInconsistentService", level: .warning)
    public static let gatewayAPICRDVersionBelowMinimum = MessageType(code: "IST0176", name: "GatewayAPICRDVersionBelowMinimum", level: .warning)

}
