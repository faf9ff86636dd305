/// What validating one document found.
public enum ValidationOutcome: Sendable, Equatable {
    /// The document is a resource meshctl checks; these are its problems (none when it is valid).
    case checked(resource: String, problems: [ValidationProblem])
    /// A kind meshctl does not check, with the reason.
    case skipped(resource: String, reason: String)
}

/// Validates Istio resources: their schema (types, enums, required and unknown fields) and Istio's rules.
public enum ResourceValidator {
    struct Kind {
        var group: String
        var versions: [String]
        var name: String
        var spec: SchemaType
        var specRequired: Bool = false
        /// Istio's rules that need the resource's name, namespace or labels besides its spec.
        var resourceRules: [NetworkingRules.ResourceRule] = []
    }

    static let kinds: [Kind] = [
        Kind(group: "networking.istio.io", versions: ["v1", "v1beta1", "v1alpha3"], name: "VirtualService", spec: NetworkingSchemas.virtualService,
             resourceRules: [NetworkingRules.exportToOwnNamespace]),
        Kind(group: "networking.istio.io", versions: ["v1", "v1beta1", "v1alpha3"], name: "DestinationRule", spec: NetworkingSchemas.destinationRule,
             resourceRules: [NetworkingRules.exportToOwnNamespace, NetworkingRules.destinationRuleNamespace]),
        Kind(group: "networking.istio.io", versions: ["v1", "v1beta1", "v1alpha3"], name: "Gateway", spec: NetworkingSchemas.gateway,
             resourceRules: [NetworkingRules.gatewayName]),
        Kind(group: "networking.istio.io", versions: ["v1", "v1beta1", "v1alpha3"], name: "ServiceEntry", spec: NetworkingSchemas.serviceEntry,
             specRequired: true, resourceRules: [NetworkingRules.exportToOwnNamespace, NetworkingRules.serviceEntryWaypoint]),
        Kind(group: "networking.istio.io", versions: ["v1", "v1beta1", "v1alpha3"], name: "Sidecar", spec: NetworkingSchemas.sidecar),
        Kind(group: "networking.istio.io", versions: ["v1", "v1beta1", "v1alpha3"], name: "WorkloadEntry",
             spec: .object(NetworkingSchemas.workloadEntry(requireAddress: true)), specRequired: true),
        Kind(group: "networking.istio.io", versions: ["v1", "v1beta1", "v1alpha3"], name: "WorkloadGroup", spec: NetworkingSchemas.workloadGroup,
             specRequired: true),
        Kind(group: "networking.istio.io", versions: ["v1alpha3"], name: "EnvoyFilter", spec: NetworkingSchemas.envoyFilter),
        Kind(group: "networking.istio.io", versions: ["v1beta1"], name: "ProxyConfig", spec: ProxyConfigSchemas.proxyConfig),
        Kind(group: "security.istio.io", versions: ["v1", "v1beta1"], name: "AuthorizationPolicy", spec: SecuritySchemas.authorizationPolicy),
        Kind(group: "security.istio.io", versions: ["v1", "v1beta1"], name: "PeerAuthentication", spec: SecuritySchemas.peerAuthentication),
        Kind(group: "security.istio.io", versions: ["v1", "v1beta1"], name: "RequestAuthentication", spec: SecuritySchemas.requestAuthentication),
        Kind(group: "telemetry.istio.io", versions: ["v1", "v1alpha1"], name: "Telemetry", spec: TelemetrySchemas.telemetry),
        Kind(group: "extensions.istio.io", versions: ["v1alpha1"], name: "WasmPlugin", spec: ExtensionSchemas.wasmPlugin, specRequired: true),
        Kind(group: "extensions.istio.io", versions: ["v1alpha1"], name: "TrafficExtension", spec: ExtensionSchemas.trafficExtension,
             specRequired: true),
    ]

    /// An IstioOperator's spec: its known sections; the mesh config with Istio's rules, values free-form.
    static let istioOperatorSpec = SchemaType.object(ObjectType("IstioOperatorSpec", [
        "profile": .string, "installPackagePath": .string, "hub": .string, "tag": .any, "resourceSuffix": .string,
        "namespace": .string, "revision": .string, "compatibilityVersion": .string, "defaultRevision": .string,
        "meshConfig": MeshConfigSchemas.meshConfig, "components": .any, "values": .any, "unvalidatedValues": .any,
    ]))

    /// Istio's rules for a mesh config (the `istio` ConfigMap's `mesh` key, `--meshConfigFile`); paths start at its root.
    public static func validateMeshConfig(_ meshConfig: YAMLNode) -> [ValidationProblem] {
        SchemaValidator.validate(meshConfig, as: MeshConfigSchemas.meshConfig, path: [])
    }

    /// The schema of the spec of one of Istio's kinds, as meshctl checks it (nil for kinds it does not check).
    public static func specSchema(group: String, kind: String) -> SchemaType? {
        kinds.first { $0.group == group && $0.name == kind }?.spec
    }

    /// Validates one document.
    public static func validate(_ document: YAMLNode) -> ValidationOutcome {
        let kind = document["kind"]?.scalarText ?? ""
        let apiVersion = document["apiVersion"]?.scalarText ?? ""
        let namespace = document["metadata"]?["namespace"]?.scalarText
        let name = document["metadata"]?["name"]?.scalarText ?? ""
        let resource = "\(kind.isEmpty ? "resource" : kind) " + (namespace.map { "\($0)/" } ?? "") + name
        var problems: [ValidationProblem] = []
        if document.pairs == nil {
            return .checked(resource: "document", problems: [ValidationProblem(.error, path: [], location: document.location,
                                                                               message: "a resource must be a mapping with apiVersion and kind")])
        }
        if kind.isEmpty {
            problems.append(ValidationProblem(.error, path: [.key("kind")], location: document.location, message: "Required value: kind is missing"))
        }
        // Plain Kubernetes objects are read as kubectl reads them; Istio's kinds need their apiVersion.
        if apiVersion.isEmpty && KubernetesChecks.kinds.contains(kind) {
            return .checked(resource: resource, problems: KubernetesChecks.errors(document) + KubernetesChecks.warnings(document))
        }
        if apiVersion.isEmpty {
            problems.append(ValidationProblem(.error, path: [.key("apiVersion")], location: document.location,
                                              message: "Required value: apiVersion is missing"))
        }
        if !problems.isEmpty { return .checked(resource: resource, problems: problems) }

        let group = apiVersion.contains("/") ? String(apiVersion.split(separator: "/")[0]) : ""
        let version = String(apiVersion.split(separator: "/").last ?? "")
        if group == "install.istio.io" && kind == "IstioOperator" {
            return .checked(resource: resource, problems: problems + SchemaValidator.validate(document["spec"] ?? .mapping([]), as: istioOperatorSpec,
                                                                                               path: [.key("spec")]))
        }
        if KubernetesChecks.kinds.contains(kind) && !group.hasSuffix("istio.io") {
            return .checked(resource: resource, problems: problems + KubernetesChecks.errors(document) + KubernetesChecks.warnings(document))
        }
        if group.hasSuffix("istio.io") {
            for pair in document.pairs ?? [] {
                guard let key = pair.key.scalarText, !["apiVersion", "kind", "metadata", "spec", "status"].contains(key) else { continue }
                let suggestion = SchemaValidator.closestField(key, in: ["apiVersion", "kind", "metadata", "spec", "status"])
                problems.append(ValidationProblem(.error, path: [.key(key)], location: pair.key.location,
                                                  message: "unknown field \"\(key)\"" + (suggestion.map { "; did you mean \"\($0)\"?" } ?? "")))
            }
        }
        guard let known = kinds.first(where: { $0.group == group && $0.name == kind }) else {
            let reason = group.hasSuffix("istio.io") ? "\(apiVersion) \(kind) is not a kind meshctl validates yet"
                                                     : "not an Istio resource"
            return .skipped(resource: resource, reason: reason)
        }
        guard known.versions.contains(version) else {
            return .checked(resource: resource, problems: [ValidationProblem(.error, path: [.key("apiVersion")],
                location: document["apiVersion"]!.location,
                message: "Unsupported value: \"\(apiVersion)\": \(kind) is served as \(known.versions.map { "\(group)/\($0)" }.joined(separator: ", "))")])
        }
        if name.isEmpty {
            problems.append(ValidationProblem(.error, path: [.key("metadata"), .key("name")], location: document["metadata"]?.location ?? document.location,
                                              message: "Required value: metadata.name is missing"))
        }
        problems += IstioMetadataRules.problems(document, dryRunAllowed: known.name == "AuthorizationPolicy")
        if let spec = document["spec"] {
            if spec.isNull {
                problems.append(ValidationProblem(.error, path: [.key("spec")], location: spec.location,
                                                  message: "in body must be of type object: \"null\""))
            } else {
                problems += SchemaValidator.validate(spec, as: known.spec, path: [.key("spec")])
            }
        } else if known.specRequired {
            problems.append(ValidationProblem(.error, path: [.key("spec")], location: document.location, message: "Required value"))
        }
        // Like object rules, resource rules read only a spec whose fields have the right types.
        if !problems.contains(where: { $0.severity == .error && $0.path.first == .key("spec") }) {
            problems += known.resourceRules.flatMap { $0(document) }
        }
        return .checked(resource: resource, problems: problems)
    }
}
