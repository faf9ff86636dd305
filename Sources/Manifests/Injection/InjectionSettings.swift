/// Istio's mesh configuration (the `istio` ConfigMap's `mesh`), with Istio's defaults for what it
/// leaves out, kept in its JSON form.
public struct MeshConfiguration: Sendable {
    public private(set) var node: YAMLNode

    static var empty: MeshConfiguration { MeshConfiguration(node: defaultMesh) }
    private init(node: YAMLNode) { self.node = node }

    /// Istio's defaults for a proxy, as `mesh.DefaultProxyConfig` sets them.
    public static let defaultProxyConfig: YAMLNode = .mapping([
        ("configPath", .string("./etc/istio/proxy")),
        ("binaryPath", .string("/usr/local/bin/envoy")),
        ("serviceCluster", .string("istio-proxy")),
        ("drainDuration", .string("45s")),
        ("terminationDrainDuration", .string("5s")),
        ("discoveryAddress", .string("istiod.istio-system.svc:15012")),
        ("proxyAdminPort", .int(15000)),
        ("controlPlaneAuthPolicy", .string("MUTUAL_TLS")),
        ("statNameLength", .int(189)),
        ("statusPort", .int(15020)),
        ("tracing", .mapping([("zipkin", .mapping([("address", .string("zipkin.istio-system:9411"))]))])),
    ])

    /// Istio's mesh defaults that injection reads.
    public static let defaultMesh: YAMLNode = .mapping([
        ("trustDomain", .string("cluster.local")),
        ("rootNamespace", .string("istio-system")),
        ("proxyListenPort", .int(15001)),
        ("proxyInboundListenPort", .int(15006)),
        ("enablePrometheusMerge", .bool(true)),
        ("defaultConfig", defaultProxyConfig),
    ])

    /// ProxyConfig's JSON names in protobuf field-number order, the order protojson writes them in.
    static let proxyConfigFieldOrder = [
        "configPath", "binaryPath", "serviceCluster", "drainDuration", "parentShutdownDuration", "discoveryAddress",
        "connectTimeout", "statsdUdpAddress", "envoyMetricsServiceAddress", "proxyAdminPort", "availabilityZone",
        "controlPlaneAuthPolicy", "customConfigFile", "statNameLength", "concurrency", "proxyBootstrapTemplatePath",
        "interceptionMode", "tracing", "sds", "envoyAccessLogService", "envoyMetricsService", "proxyMetadata",
        "runtimeValues", "statusPort", "extraStatTags", "gatewayTopology", "terminationDrainDuration", "meshId",
        "readinessProbe", "proxyStatsMatcher", "holdApplicationUntilProxyStarts", "caCertificatesPem", "image",
        "privateKeyProvider", "proxyHeaders",
    ]

    static let proxyConfigKinds: [String: ProtoFieldKind] = [
        "interceptionMode": .enumeration(zero: "REDIRECT"),
        "controlPlaneAuthPolicy": .enumeration(zero: "NONE"),
        "holdApplicationUntilProxyStarts": .wrapper,
        "concurrency": .wrapper,
        "proxyMetadata": .stringMap,
        "statusPort": .int,
        "discoveryAddress": .string,
        "tracing": .message(["tlsSettings": .message(["caCertificates": .string])]),
        "image": .message(["imageType": .string]),
    ]

    static let meshConfigKinds: [String: ProtoFieldKind] = [
        "trustDomain": .string,
        "proxyListenPort": .int,
        "proxyInboundListenPort": .int,
        "inboundTrafficPolicy": .message(["mode": .enumeration(zero: "PASSTHROUGH")]),
        "defaultConfig": .message(proxyConfigKinds),
    ]

    /// The mesh configuration from its YAML text: every field given replaces the default, except
    /// `defaultConfig`, which is merged into the default proxy configuration.
    public init(yaml: String?, file: String? = nil) throws(YAMLError) {
        var mesh = Self.defaultMesh
        if let yaml, let given = try YAMLParser.parse(yaml, file: file).first?.root, let pairs = given.pairs {
            for pair in pairs {
                guard let key = pair.key.scalarText else { continue }
                if key == "defaultConfig" {
                    mesh["defaultConfig"] = Self.mergeProto(Self.defaultProxyConfig, pair.value)
                } else {
                    mesh[key] = pair.value
                }
            }
        }
        node = mesh
    }

    /// The same mesh with a pod's `proxy.istio.io/config` annotation merged into its proxy configuration.
    public func applyingProxyConfig(_ yaml: String) throws(YAMLError) -> MeshConfiguration {
        var copy = self
        if let patch = try YAMLParser.parse(yaml, file: "proxy.istio.io/config").first?.root, patch.pairs != nil {
            copy.node["defaultConfig"] = Self.mergeProto(node["defaultConfig"] ?? .mapping([]), patch)
        }
        return copy
    }

    /// Changes the configuration as Go code would (the conformance corpus patches mesh configs so).
    public mutating func patch(_ patch: YAMLNode, replacing: Bool = false) {
        if replacing {
            node = Self.replaceLeaves(node, patch)
        } else {
            node = Self.mergeProto(node, patch)
        }
    }

    /// Proto merge: messages and maps merge field by field; scalars and lists are replaced.
    static func mergeProto(_ base: YAMLNode, _ patch: YAMLNode) -> YAMLNode {
        guard var result = base.pairs, let changes = patch.pairs else { return patch }
        for change in changes {
            if let index = result.firstIndex(where: { $0.key.scalarText == change.key.scalarText }) {
                result[index].value = mergeProto(result[index].value, change.value)
            } else {
                result.append(change)
            }
        }
        return .mapping(result)
    }

    /// Sets the innermost fields the patch names, replacing whole what it names at its leaves.
    static func replaceLeaves(_ base: YAMLNode, _ patch: YAMLNode) -> YAMLNode {
        guard var result = base.pairs, let changes = patch.pairs else { return patch }
        for change in changes {
            if let index = result.firstIndex(where: { $0.key.scalarText == change.key.scalarText }) {
                let isLeaf = change.value.pairs?.allSatisfy { $0.value.pairs == nil || $0.value.pairs!.isEmpty } ?? true
                result[index].value = isLeaf ? change.value : replaceLeaves(result[index].value, change.value)
            } else {
                result.append(change)
            }
        }
        return .mapping(result)
    }

    public var proxyConfig: YAMLNode { node["defaultConfig"] ?? .mapping([]) }

    /// `defaultConfig.statusPort`, 15020 by default.
    public var statusPort: Int { proxyConfig["statusPort"]?.int ?? 15020 }

    public var enablePrometheusMerge: Bool { node["enablePrometheusMerge"]?.bool ?? true }

    /// The proxy configuration with Istio's defaults left out, as the `PROXY_CONFIG` variable shows it.
    var cleanedProxyConfig: YAMLNode {
        guard var pairs = proxyConfig.pairs else { return .mapping([]) }
        let defaults = Self.defaultProxyConfig
        pairs.removeAll { pair in
            guard let key = pair.key.scalarText else { return true }
            if key == "proxyMetadata" { return pair.value.pairs?.isEmpty ?? true }
            if key == "envoyMetricsService" || key == "envoyAccessLogService" {
                return pair.value.pairs?.allSatisfy { $0.value.scalarText == "" } ?? false
            }
            if key == "parentShutdownDuration" { return pair.value.scalarText == "60s" }
            guard let standard = defaults[key] else { return false }
            return standard == pair.value
        }
        return .mapping(pairs)
    }

    var proxyConfigObject: ProtoMessage {
        ProtoMessage(typeName: "*v1alpha1.ProxyConfig", node: proxyConfig, fieldKinds: Self.proxyConfigKinds,
                     fieldOrder: Self.proxyConfigFieldOrder)
    }

    /// What `protoToJSON .ProxyConfig` writes.
    var cleanedProxyConfigJSON: String {
        ProtoMessage(typeName: "*v1alpha1.ProxyConfig", node: cleanedProxyConfig, fieldKinds: Self.proxyConfigKinds,
                     fieldOrder: Self.proxyConfigFieldOrder).protoJSON
    }

    var meshConfigObject: ProtoMessage {
        ProtoMessage(typeName: "*v1alpha1.MeshConfig", node: node, fieldKinds: Self.meshConfigKinds, fieldOrder: [])
    }
}

/// The injector's own configuration (the `istio-sidecar-injector` ConfigMap's `config`).
public struct InjectorConfig: Sendable {
    public var templates: [String: GoTemplate]
    public var defaultTemplates: [String]
    public var aliases: [String: [String]]
    public var injectedAnnotations: [(String, String)]
    public var policy: String

    /// Reads an injection configuration as istioctl's `--injectConfigFile` takes it: the full form
    /// (`templates: {sidecar: ...}`, `policy`, `defaultTemplates`...), or a bare template, which becomes
    /// the `sidecar` template.
    public init(fileText text: String, file: String? = nil) throws {
        let parsed = try? YAMLParser.parse(text, file: file).first?.root
        if let parsed, let templates = parsed["templates"]?.pairs, !templates.isEmpty {
            try self.init(root: parsed)
        } else {
            try self.init(root: .mapping([("templates", .mapping([("sidecar", .string(text))]))]))
        }
    }

    /// Reads the configuration YAML and parses every template in it.
    public init(yaml: String, file: String? = nil) throws {
        try self.init(root: try YAMLParser.parse(yaml, file: file).first?.root ?? .mapping([]))
    }

    private init(root: YAMLNode) throws {
        var templates: [String: GoTemplate] = [:]
        for pair in root["templates"]?.pairs ?? [] {
            guard let name = pair.key.scalarText, let source = pair.value.string else { continue }
            templates[name] = try GoTemplate(name: name, source: source)
        }
        self.templates = templates
        let defaults = root["defaultTemplates"]?.items?.compactMap(\.scalarText) ?? []
        defaultTemplates = defaults.isEmpty ? ["sidecar"] : defaults
        var aliases: [String: [String]] = [:]
        for pair in root["aliases"]?.pairs ?? [] {
            aliases[pair.key.scalarText ?? ""] = pair.value.items?.compactMap(\.scalarText) ?? []
        }
        self.aliases = aliases
        injectedAnnotations = (root["injectedAnnotations"]?.pairs ?? []).map { ($0.key.scalarText ?? "", $0.value.scalarText ?? "") }
        policy = root["policy"]?.scalarText ?? "enabled"
    }
}

extension InjectorConfig {
    /// meshctl's built-in configuration: its own sidecar, gateway and proxyless gRPC templates (`BuiltinTemplates`),
    /// with the sidecar injected by default.
    public static var builtin: InjectorConfig {
        InjectorConfig(templates: parsedTemplates, defaultTemplates: ["sidecar"], aliases: [:], injectedAnnotations: [], policy: "enabled")
    }

    /// meshctl's templates, parsed once (BuiltinTemplatesTests checks that every one parses).
    private static let parsedTemplates: [String: GoTemplate] = Dictionary(uniqueKeysWithValues: BuiltinTemplates.names.compactMap { name in
        (try? GoTemplate(name: name, source: BuiltinTemplates.text(name) ?? "")).map { (name, $0) }
    })

    init(templates: [String: GoTemplate], defaultTemplates: [String], aliases: [String: [String]],
         injectedAnnotations: [(String, String)], policy: String) {
        self.templates = templates
        self.defaultTemplates = defaultTemplates
        self.aliases = aliases
        self.injectedAnnotations = injectedAnnotations
        self.policy = policy
    }
}

extension InjectionSettings {
    /// The Istio release meshctl's built-in defaults follow.
    public static let builtinHub = "docker.io/istio"
    public static let builtinTag = "1.32.0"

    /// meshctl's built-in values: the injector values of a default Istio 1.32 installation.
    public static var builtinValues: YAMLNode {
        func m(_ pairs: [(String, YAMLNode)]) -> YAMLNode { .mapping(pairs) }
        let s: (String) -> YAMLNode = { .string($0) }
        let b: (Bool) -> YAMLNode = { .bool($0) }
        let i: (Int) -> YAMLNode = { .int($0) }
        let proxy = m([
            ("autoInject", s("enabled")), ("clusterDomain", s("cluster.local")), ("componentLogLevel", s("misc:error")),
            ("excludeIPRanges", s("")), ("excludeInboundPorts", s("")), ("excludeOutboundPorts", s("")), ("image", s("proxyv2")),
            ("includeIPRanges", s("*")), ("includeInboundPorts", s("*")), ("includeOutboundPorts", s("")), ("logLevel", s("warning")),
            ("outlierLogPath", s("")), ("privileged", b(false)), ("readinessFailureThreshold", i(4)),
            ("readinessInitialDelaySeconds", i(0)), ("readinessPeriodSeconds", i(15)),
            ("resources", m([("limits", m([("cpu", s("2000m")), ("memory", s("1024Mi"))])),
                             ("requests", m([("cpu", s("100m")), ("memory", s("128Mi"))]))])),
            ("seccompProfile", m([])), ("startupProbe", m([("enabled", b(true)), ("failureThreshold", i(600))])),
            ("statusPort", i(15020)), ("tracer", s("none")),
        ])
        let global = m([
            ("caAddress", s("")), ("caName", s("")), ("hub", s(builtinHub)), ("tag", s(builtinTag)), ("variant", s("")),
            ("imagePullPolicy", s("")), ("imagePullSecrets", .sequence([])), ("istioNamespace", s("istio-system")),
            ("logAsJson", b(false)), ("logging", m([("level", s("default:info"))])), ("meshID", s("")),
            ("mountMtlsCerts", b(false)), ("multiCluster", m([("clusterName", s(""))])), ("nativeNftables", b(false)),
            ("network", s("")), ("pilotCertProvider", s("istiod")), ("proxy", proxy),
            ("proxy_init", m([("forceApplyIptables", b(false)), ("image", s("proxyv2"))])),
            ("sds", m([("token", m([("aud", s("istio-ca"))]))])), ("sts", m([("servicePort", i(0))])),
        ])
        return m([
            ("gateways", m([("seccompProfile", m([])), ("securityContext", m([]))])),
            ("global", global),
            ("pilot", m([("cni", m([("enabled", b(false)), ("provider", s("default"))])), ("env", m([]))])),
            ("revision", s("")),
            ("sidecarInjectorWebhook", m([("rewriteAppHTTPProbe", b(true))])),
        ])
    }

    /// Settings with meshctl's built-in template, values and mesh defaults.
    public static func builtin(values: YAMLNode = builtinValues, revision: String = "", nativeSidecars: Bool = false,
                               compliancePolicy: String = "") -> InjectionSettings {
        // The mesh defaults of a default installation; they cannot fail to parse.
        let mesh = (try? MeshConfiguration(yaml: nil)) ?? MeshConfiguration.empty
        return InjectionSettings(config: .builtin, values: values, mesh: mesh, revision: revision,
                                 nativeSidecars: nativeSidecars, compliancePolicy: compliancePolicy)
    }
}

/// Everything the injector needs besides the manifests.
public struct InjectionSettings: Sendable {
    public var config: InjectorConfig
    /// The values (`data.values`), as JSON-shaped data.
    public var values: YAMLNode
    public var mesh: MeshConfiguration
    public var revision: String
    /// Put the proxy in `initContainers` with `restartPolicy: Always` (Kubernetes native sidecars).
    public var nativeSidecars: Bool
    /// `COMPLIANCE_POLICY`, e.g. `fips-140-3`.
    public var compliancePolicy: String
    /// The pod's namespace's annotations, when known (OpenShift assigns user ranges through them).
    public var namespaceAnnotations: [String: String] = [:]
    /// The cluster is OpenShift (Istio's `PLATFORM=openshift`): the webhook drops a proxy user copied from the app.
    public var openShift = false

    public init(config: InjectorConfig, values: YAMLNode, mesh: MeshConfiguration, revision: String = "",
                nativeSidecars: Bool = false, compliancePolicy: String = "") {
        self.config = config
        self.values = values
        self.mesh = mesh
        self.revision = revision
        self.nativeSidecars = nativeSidecars
        self.compliancePolicy = compliancePolicy
    }

    func value(_ path: String...) -> YAMLNode? {
        values.value(at: path.map { .key($0) })
    }

    /// `hub/image:tag`, with an image type (`distroless`, `debug`) replacing one already on the tag.
    func imageURL(imageName: String, imageType: String?) -> String {
        let hub = value("global", "hub")?.scalarText ?? ""
        var tag = value("global", "tag").map { GoFormat.value(TemplateValue(jsonNode: $0)) } ?? ""
        if value("global", "tag")?.isNull ?? true { tag = "" }
        if let imageType, !imageType.isEmpty {
            for known in ["distroless", "debug"] where tag.hasSuffix("-" + known) {
                tag = String(tag.dropLast(known.count + 1))
                break
            }
            if imageType != "default" { tag += "-" + imageType }
        }
        return hub + "/" + imageName + ":" + tag
    }
}
