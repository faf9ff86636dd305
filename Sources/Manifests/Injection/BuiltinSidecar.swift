/// What a template is given: the pod being injected and everything about the mesh.
public struct TemplateInput {
    var metadata: YAMLNode
    var spec: YAMLNode
    var typeMeta: YAMLNode
    var deployMeta: YAMLNode
    var settings: InjectionSettings
    var mesh: MeshConfiguration
    var proxyImage: String
    var proxyInitImage: String
    var proxyUID: Int
    var proxyGID: Int
    var inboundTrafficPolicyMode: String
    /// The same, as data for Go templates.
    var data: TemplateValue
}

/// An injection template: one of Istio's Go templates, or one built into meshctl.
public enum InjectionTemplate: Sendable {
    case go(GoTemplate)
    case builtin(@Sendable (TemplateInput) throws -> YAMLNode)
}

/// meshctl's own sidecar template: the pod changes Istio 1.32's default sidecar template makes, built
/// directly in Swift. With the built-in values and mesh defaults it is what `meshctl kube-inject` uses
/// when it is given no configuration.
enum BuiltinSidecar {
    /// Which of Istio's pod shapes to build: an application sidecar or a gateway's proxy.
    enum Flavor { case sidecar, gateway, grpcAgent }

    static func render(_ input: TemplateInput) throws -> YAMLNode {
        try Builder(input, flavor: .sidecar).pod()
    }

    static func renderGateway(_ input: TemplateInput) throws -> YAMLNode {
        try Builder(input, flavor: .gateway).gatewayPod()
    }

    static func renderGRPCAgent(_ input: TemplateInput) throws -> YAMLNode {
        try Builder(input, flavor: .grpcAgent).grpcAgentPod()
    }

    private struct Builder {
        let input: TemplateInput
        let flavor: Flavor
        let annotations: [String: String]
        let labels: [String: String]
        let proxyMetadata: [(String, String)]

        init(_ input: TemplateInput, flavor: Flavor) {
            self.input = input
            self.flavor = flavor
            func strings(_ node: YAMLNode?) -> [String: String] {
                var map: [String: String] = [:]
                for pair in node?.pairs ?? [] { map[pair.key.scalarText ?? ""] = pair.value.scalarText ?? "" }
                return map
            }
            annotations = strings(input.metadata["annotations"])
            labels = strings(input.metadata["labels"])
            proxyMetadata = (input.mesh.proxyConfig["proxyMetadata"]?.pairs ?? [])
                .map { ($0.key.scalarText ?? "", $0.value.scalarText ?? "") }.sorted { $0.0 < $1.0 }
        }

        // MARK: Reading values as the chart's template does

        func value(_ path: String...) -> YAMLNode? { input.settings.values.value(at: path.map { .key($0) }) }

        /// A value as Go prints it (numbers from JSON are float64: 15020 prints as 15020).
        func text(_ node: YAMLNode?) -> String {
            guard let node, !node.isNull else { return "<no value>" }
            return GoFormat.value(TemplateValue(jsonNode: node))
        }

        func isTrue(_ node: YAMLNode?) -> Bool {
            guard let node else { return false }
            return TemplateValue(jsonNode: node).isTruthy
        }

        /// An annotation, else the value's text.
        func annotation(_ name: String, _ fallback: YAMLNode?) -> String { annotations[name] ?? text(fallback) }
        func annotation(_ name: String, _ fallback: String) -> String { annotations[name] ?? fallback }

        /// `key: {{ expression }}` written unquoted: YAML decides the type.
        func plain(_ text: String) -> YAMLNode { .scalar(YAMLScalar(plain: text)) }

        var interceptionMode: String {
            annotation("sidecar.istio.io/interceptionMode", input.mesh.proxyConfig["interceptionMode"]?.scalarText ?? "REDIRECT")
        }
        var tproxy: Bool { interceptionMode == "TPROXY" }
        var capNetBindService: Bool { annotation("sidecar.istio.io/capNetBindService", value("global", "proxy", "capNetBindService")) == "true" }
        var native: Bool {
            let setting = annotations["sidecar.istio.io/nativeSidecar"].flatMap { $0.isEmpty ? nil : $0 } ?? (input.settings.nativeSidecars ? "true" : "false")
            return setting != "false"
        }
        var cni: Bool { isTrue(value("pilot", "cni", "enabled")) }
        var statusPort: String { annotation("status.sidecar.istio.io/port", value("global", "proxy", "statusPort")) }
        var excludedInboundPorts: String {
            let excluded = annotation("traffic.sidecar.istio.io/excludeInboundPorts", value("global", "proxy", "excludeInboundPorts"))
            let function = TemplateFunctions.istio["excludeInboundPort"]!
            return (try? function([.string(statusPort), .string(excluded)]))?.stringValue ?? excluded
        }
        var appContainers: [String] {
            (input.spec["containers"]?.items ?? []).compactMap { $0["name"]?.scalarText }.filter { $0 != "istio-proxy" }
        }
        var revision: String { input.settings.revision }

        // MARK: The pod

        func pod() throws -> YAMLNode {
            var spec: [(String, YAMLNode)] = []
            let hold = (input.mesh.proxyConfig["holdApplicationUntilProxyStarts"]?.bool ?? false
                        || isTrue(value("global", "proxy", "holdApplicationUntilProxyStarts"))) && !native
            var initContainers: [YAMLNode] = []
            if interceptionMode != "NONE" { initContainers.append(initContainer()) }
            let proxy = try proxyContainer(hold: hold)
            if native {
                initContainers.append(proxy)
                spec.append(("initContainers", .sequence(initContainers)))
            } else {
                spec.append(("initContainers", .sequence(interceptionMode == "NONE" ? [] : initContainers)))
                spec.append(("containers", .sequence([proxy])))
            }
            spec.append(("volumes", .sequence(volumes())))
            if let secrets = value("global", "imagePullSecrets")?.items, !secrets.isEmpty {
                spec.append(("imagePullSecrets", .sequence(secrets.map { .mapping([("name", .string(text($0)))]) })))
            }
            return .mapping([("metadata", metadata()), ("spec", .mapping(spec))])
        }

        private func metadata() -> YAMLNode {
            func firstNonEmpty(_ candidates: String?...) -> String {
                candidates.compactMap { $0 }.first { !$0.isEmpty } ?? ""
            }
            var canonicalName = firstNonEmpty(labels["service.istio.io/canonical-name"], labels["app.kubernetes.io/name"],
                                              labels["app"], input.deployMeta["name"]?.scalarText)
            var podLabels: [(String, YAMLNode)] = []
            if flavor == .sidecar {
                if canonicalName.utf8.count > 63 { canonicalName = String(decoding: Array(canonicalName.utf8.prefix(63)), as: UTF8.self) }
                let trimSet: Set<Character> = ["-", "_", "."]
                while let first = canonicalName.first, trimSet.contains(first) { canonicalName.removeFirst() }
                while let last = canonicalName.last, trimSet.contains(last) { canonicalName.removeLast() }
                podLabels.append(("security.istio.io/tlsMode", .string(firstNonEmpty(labels["security.istio.io/tlsMode"], "istio"))))
            }
            if flavor == .sidecar && proxyMetadata.first(where: { $0.0 == "ISTIO_META_ENABLE_HBONE" })?.1 == "true" {
                podLabels.append(("networking.istio.io/tunnel", .string(firstNonEmpty(labels["networking.istio.io/tunnel"], "http"))))
            }
            podLabels.append(("service.istio.io/canonical-name", .string(canonicalName)))
            podLabels.append(("service.istio.io/canonical-revision", .string(firstNonEmpty(
                labels["service.istio.io/canonical-revision"], labels["app.kubernetes.io/version"], labels["version"], "latest"))))

            var podAnnotations: [(String, YAMLNode)] = [("istio.io/rev", .string(revision.isEmpty ? "default" : revision))]
            if let first = appContainers.first {
                if annotations["kubectl.kubernetes.io/default-logs-container"] == nil {
                    podAnnotations.append(("kubectl.kubernetes.io/default-logs-container", .string(first)))
                }
                if annotations["kubectl.kubernetes.io/default-container"] == nil {
                    podAnnotations.append(("kubectl.kubernetes.io/default-container", .string(first)))
                }
            }
            if flavor == .grpcAgent { podAnnotations.append(("sidecar.istio.io/rewriteAppHTTPProbers", .string("false"))) }
            if cni && flavor == .sidecar {
                if text(value("pilot", "cni", "provider")) == "multus" {
                    let function = TemplateFunctions.istio["appendMultusNetwork"]!
                    let networks = (try? function([.string(annotations["k8s.v1.cni.cncf.io/networks"] ?? ""), .string("default/istio-cni")]))?.stringValue ?? ""
                    podAnnotations.append(("k8s.v1.cni.cncf.io/networks", .string(networks)))
                }
                podAnnotations.append(("sidecar.istio.io/interceptionMode", .string(interceptionMode)))
                let include = annotation("traffic.sidecar.istio.io/includeOutboundIPRanges", value("global", "proxy", "includeIPRanges"))
                if !include.isEmpty { podAnnotations.append(("traffic.sidecar.istio.io/includeOutboundIPRanges", .string(include))) }
                let exclude = annotation("traffic.sidecar.istio.io/excludeOutboundIPRanges", value("global", "proxy", "excludeIPRanges"))
                if !exclude.isEmpty { podAnnotations.append(("traffic.sidecar.istio.io/excludeOutboundIPRanges", .string(exclude))) }
                podAnnotations.append(("traffic.sidecar.istio.io/includeInboundPorts",
                                       .string(annotation("traffic.sidecar.istio.io/includeInboundPorts", value("global", "proxy", "includeInboundPorts")))))
                podAnnotations.append(("traffic.sidecar.istio.io/excludeInboundPorts", .string(excludedInboundPorts)))
                if annotations["traffic.sidecar.istio.io/includeOutboundPorts"] != nil || !isEmptyText(value("global", "proxy", "includeOutboundPorts")) {
                    podAnnotations.append(("traffic.sidecar.istio.io/includeOutboundPorts",
                                           .string(annotation("traffic.sidecar.istio.io/includeOutboundPorts", value("global", "proxy", "includeOutboundPorts")))))
                }
                if annotations["traffic.sidecar.istio.io/excludeOutboundPorts"] != nil || !isEmptyText(value("global", "proxy", "excludeOutboundPorts")) {
                    podAnnotations.append(("traffic.sidecar.istio.io/excludeOutboundPorts",
                                           .string(annotation("traffic.sidecar.istio.io/excludeOutboundPorts", value("global", "proxy", "excludeOutboundPorts")))))
                }
                for name in ["traffic.sidecar.istio.io/kubevirtInterfaces", "istio.io/reroute-virtual-interfaces", "traffic.sidecar.istio.io/excludeInterfaces"] {
                    if let given = annotations[name], !given.isEmpty { podAnnotations.append((name, .string(given))) }
                }
            }
            return .mapping([("labels", .mapping(podLabels)), ("annotations", .mapping(podAnnotations))])
        }

        private func isEmptyText(_ node: YAMLNode?) -> Bool {
            guard let node, !node.isNull else { return true }
            return node.scalarText == ""
        }

        /// `resources` from the proxy annotations, else the values' proxy resources.
        private func resources() -> YAMLNode {
            let names = ["sidecar.istio.io/proxyCPU", "sidecar.istio.io/proxyMemory", "sidecar.istio.io/proxyCPULimit", "sidecar.istio.io/proxyMemoryLimit"]
            if names.contains(where: { annotations[$0] != nil }) {
                var result: [(String, YAMLNode)] = []
                var requests: [(String, YAMLNode)] = []
                if let cpu = annotations[names[0]] { requests.append(("cpu", .string(cpu))) }
                if let memory = annotations[names[1]] { requests.append(("memory", .string(memory))) }
                if !requests.isEmpty { result.append(("requests", .mapping(requests))) }
                var limits: [(String, YAMLNode)] = []
                if let cpu = annotations[names[2]] { limits.append(("cpu", .string(cpu))) }
                if let memory = annotations[names[3]] { limits.append(("memory", .string(memory))) }
                if !limits.isEmpty { result.append(("limits", .mapping(limits))) }
                return .mapping(result)
            }
            guard let configured = value("global", "proxy", "resources"), isTrue(configured) else { return .null }
            return withoutNulls(configured)
        }

        private func withoutNulls(_ node: YAMLNode) -> YAMLNode {
            switch node.content {
            case .mapping(let pairs): return .mapping(pairs.filter { !$0.value.isNull }.map { YAMLPair(key: $0.key, value: withoutNulls($0.value)) })
            case .sequence(let items): return .sequence(items.map(withoutNulls))
            case .scalar: return node
            }
        }

        private func image(annotationOf values: YAMLNode?, otherwise image: String) -> String {
            let given = annotation("sidecar.istio.io/proxyImage", values)
            return given.contains("/") ? given : image
        }

        private func initContainer() -> YAMLNode {
            var args = ["istio-iptables",
                        "-p", portText(input.mesh.node["proxyListenPort"], otherwise: "15001"),
                        "-z", portText(input.mesh.node["proxyInboundListenPort"], otherwise: "15006"),
                        "-u", tproxy ? "1337" : String(input.proxyUID),
                        "-m", interceptionMode,
                        "-i", annotation("traffic.sidecar.istio.io/includeOutboundIPRanges", value("global", "proxy", "includeIPRanges")),
                        "-x", annotation("traffic.sidecar.istio.io/excludeOutboundIPRanges", value("global", "proxy", "excludeIPRanges")),
                        "-b", annotation("traffic.sidecar.istio.io/includeInboundPorts", value("global", "proxy", "includeInboundPorts")),
                        "-d", excludedInboundPorts.isEmpty ? "15090,15021" : "15090,15021,\(excludedInboundPorts)"]
            if annotations["traffic.sidecar.istio.io/includeOutboundPorts"] != nil || !isEmptyText(value("global", "proxy", "includeOutboundPorts")) {
                args += ["-q", annotation("traffic.sidecar.istio.io/includeOutboundPorts", value("global", "proxy", "includeOutboundPorts"))]
            }
            if annotations["traffic.sidecar.istio.io/excludeOutboundPorts"] != nil || !isEmptyText(value("global", "proxy", "excludeOutboundPorts")) {
                args += ["-o", annotation("traffic.sidecar.istio.io/excludeOutboundPorts", value("global", "proxy", "excludeOutboundPorts"))]
            }
            if let interfaces = annotations["istio.io/reroute-virtual-interfaces"] ?? annotations["traffic.sidecar.istio.io/kubevirtInterfaces"] {
                args += ["-k", interfaces]
            }
            if let excluded = annotations["traffic.sidecar.istio.io/excludeInterfaces"] { args += ["-c", excluded] }
            args.append("--log_output_level=" + annotation("sidecar.istio.io/agentLogLevel", value("global", "logging", "level")))
            if isTrue(value("global", "logAsJson")) { args.append("--log_as_json") }
            if cni {
                args += ["--run-validation", "--skip-rule-apply"]
            } else if isTrue(value("global", "proxy_init", "forceApplyIptables")) {
                args.append("--force-apply")
            }
            if isTrue(value("global", "nativeNftables")) { args.append("--native-nftables") }

            var container: [(String, YAMLNode)] = [
                ("name", .string(cni ? "istio-validation" : "istio-init")),
                ("image", .string(image(annotationOf: value("global", "proxy_init", "image"), otherwise: input.proxyInitImage))),
                ("args", .sequence(args.map { .string($0) })),
            ]
            if let policy = value("global", "imagePullPolicy"), isTrue(policy) { container.append(("imagePullPolicy", .string(text(policy)))) }
            if !proxyMetadata.isEmpty {
                container.append(("env", .sequence(proxyMetadata.map { .mapping([("name", .string($0.0)), ("value", .string($0.1))]) })))
            }
            container.append(("resources", resources()))
            let privileged = plain(text(value("global", "proxy", "privileged")))
            var security: [(String, YAMLNode)] = [("allowPrivilegeEscalation", privileged), ("privileged", privileged)]
            var capabilities: [(String, YAMLNode)] = []
            if !cni { capabilities.append(("add", .sequence([.string("NET_ADMIN"), .string("NET_RAW")]))) }
            capabilities.append(("drop", .sequence([.string("ALL")])))
            security.append(("capabilities", .mapping(capabilities)))
            if !cni {
                security += [("readOnlyRootFilesystem", .bool(false)), ("runAsGroup", .int(0)), ("runAsNonRoot", .bool(false)), ("runAsUser", .int(0))]
            } else {
                security += [("readOnlyRootFilesystem", .bool(true)),
                             ("runAsGroup", .int(tproxy ? 1337 : input.proxyGID)),
                             ("runAsUser", .int(tproxy ? 1337 : input.proxyUID)),
                             ("runAsNonRoot", .bool(true))]
            }
            if let seccomp = value("global", "proxy", "seccompProfile"), isTrue(seccomp) { security.append(("seccompProfile", seccomp)) }
            container.append(("securityContext", .mapping(security)))
            return .mapping(container)
        }

        private func portText(_ node: YAMLNode?, otherwise: String) -> String {
            guard let number = node?.int, number != 0 else { return otherwise }
            return String(number)
        }

        private func fieldRef(_ name: String, _ path: String) -> YAMLNode {
            .mapping([("name", .string(name)), ("valueFrom", .mapping([("fieldRef", .mapping([("fieldPath", .string(path))]))]))])
        }

        private func resourceRef(_ name: String, _ resource: String) -> YAMLNode {
            .mapping([("name", .string(name)), ("valueFrom", .mapping([("resourceFieldRef", .mapping([
                ("resource", .string(resource)), ("divisor", .string("1"))]))]))])
        }

        private func env(_ name: String, _ value: String) -> YAMLNode {
            .mapping([("name", .string(name)), ("value", .string(value))])
        }

        private func proxyContainer(hold: Bool) throws -> YAMLNode {
            var container = proxyBasics(role: "sidecar", port: 15090, portName: "http-envoy-prom", restartAlways: native,
                                        outlierLog: true)

            if let lifecycle = value("global", "proxy", "lifecycle"), isTrue(lifecycle) {
                container.append(("lifecycle", lifecycle))
            } else if hold {
                container.append(("lifecycle", .mapping([("postStart", .mapping([("exec", .mapping([
                    ("command", .sequence([.string("pilot-agent"), .string("wait")]))]))]))])))
            } else if native {
                container.append(("lifecycle", .mapping([("preStop", .mapping([("exec", .mapping([
                    ("command", .sequence(["pilot-agent", "request", "--debug-port=\(statusPort)", "POST", "drain"].map { .string($0) }))]))]))])))
            }

            container.append(("env", .sequence(try environment())))
            if let policy = value("global", "imagePullPolicy"), isTrue(policy) { container.append(("imagePullPolicy", .string(text(policy)))) }
            if statusPort != "0" {
                if isTrue(value("global", "proxy", "startupProbe", "enabled")) {
                    container.append(("startupProbe", .mapping([
                        ("httpGet", .mapping([("path", .string("/healthz/ready")), ("port", .int(15021))])),
                        ("initialDelaySeconds", .int(0)), ("periodSeconds", .int(1)), ("timeoutSeconds", .int(3)),
                        ("failureThreshold", plain(text(value("global", "proxy", "startupProbe", "failureThreshold")))),
                    ])))
                }
                container.append(("readinessProbe", .mapping([
                    ("httpGet", .mapping([("path", .string("/healthz/ready")), ("port", .int(15021))])),
                    ("initialDelaySeconds", plain(annotation("readiness.status.sidecar.istio.io/initialDelaySeconds", value("global", "proxy", "readinessInitialDelaySeconds")))),
                    ("periodSeconds", plain(annotation("readiness.status.sidecar.istio.io/periodSeconds", value("global", "proxy", "readinessPeriodSeconds")))),
                    ("timeoutSeconds", .int(3)),
                    ("failureThreshold", plain(annotation("readiness.status.sidecar.istio.io/failureThreshold", value("global", "proxy", "readinessFailureThreshold")))),
                ])))
            }
            container.append(("securityContext", proxySecurityContext()))
            container.append(("resources", resources()))
            container.append(("volumeMounts", .sequence(volumeMounts())))
            return .mapping(container)
        }

        /// The proxy container's name, image, port and agent arguments, which every template shares.
        /// - Parameters:
        ///   - role: `sidecar` or `router` (a gateway).
        ///   - restartAlways: a native sidecar, which Kubernetes restarts among the init containers.
        ///   - outlierLog: pass `--outlierLogPath` when the values set one.
        private func proxyBasics(role: String, port: Int, portName: String, restartAlways: Bool, outlierLog: Bool) -> [(String, YAMLNode)] {
            var container: [(String, YAMLNode)] = [
                ("name", .string("istio-proxy")),
                ("image", .string(image(annotationOf: value("global", "proxy", "image"), otherwise: input.proxyImage))),
            ]
            if restartAlways { container.append(("restartPolicy", .string("Always"))) }
            container.append(("ports", .sequence([.mapping([("containerPort", .int(port)), ("protocol", .string("TCP")), ("name", .string(portName))])])))
            var args = ["proxy", role, "--domain", "$(POD_NAMESPACE).svc." + text(value("global", "proxy", "clusterDomain")),
                        "--proxyLogLevel=" + annotation("sidecar.istio.io/logLevel", value("global", "proxy", "logLevel")),
                        "--proxyComponentLogLevel=" + annotation("sidecar.istio.io/componentLogLevel", value("global", "proxy", "componentLogLevel")),
                        "--log_output_level=" + annotation("sidecar.istio.io/agentLogLevel", value("global", "logging", "level"))]
            if isTrue(value("global", "sts", "servicePort")) { args.append("--stsPort=" + text(value("global", "sts", "servicePort"))) }
            if isTrue(value("global", "logAsJson")) { args.append("--log_as_json") }
            if outlierLog && isTrue(value("global", "proxy", "outlierLogPath")) {
                args.append("--outlierLogPath=" + text(value("global", "proxy", "outlierLogPath")))
            }
            container.append(("args", .sequence(args.map { .string($0) })))
            return container
        }

        private func environment() throws -> [YAMLNode] {
            var list: [YAMLNode] = []
            if flavor == .grpcAgent { list += [env("ISTIO_META_GENERATOR", "grpc"), env("OUTPUT_CERTS", "/var/lib/istio/data")] }
            if input.inboundTrafficPolicyMode == "localhost" { list.append(env("REWRITE_PROBE_LEGACY_LOCALHOST_DESTINATION", "true")) }
            list.append(.mapping([("name", .string("PILOT_CERT_PROVIDER")), ("value", plain(text(value("global", "pilotCertProvider"))))]))
            if let address = value("global", "caAddress"), isTrue(address) {
                list.append(.mapping([("name", .string("CA_ADDR")), ("value", plain(text(address)))]))
            } else {
                let valuesRevision = value("revision")?.scalarText ?? ""
                list.append(env("CA_ADDR", "istiod" + (valuesRevision.isEmpty ? "" : "-" + valuesRevision) + "."
                                + text(value("global", "istioNamespace")) + ".svc:15012"))
            }
            list += [fieldRef("POD_NAME", "metadata.name"), fieldRef("POD_NAMESPACE", "metadata.namespace"),
                     fieldRef("INSTANCE_IP", "status.podIP"), fieldRef("SERVICE_ACCOUNT", "spec.serviceAccountName"),
                     fieldRef("HOST_IP", "status.hostIP")]
            if flavor != .grpcAgent { list.append(resourceRef("ISTIO_CPU_LIMIT", "limits.cpu")) }
            list.append(env("PROXY_CONFIG", input.mesh.cleanedProxyConfigJSON + "\n"))
            var ports = "["
            var first = true
            for container in input.spec["containers"]?.items ?? [] {
                for port in container["ports"]?.items ?? [] {
                    let json = GoFormat.json(.object(KubeStruct(type: .containerPort, node: port)))
                    ports += "\n    " + (first ? "" : ",") + json
                    first = false
                }
            }
            list.append(env("ISTIO_META_POD_PORTS", ports + "\n]"))
            if flavor != .gateway { list.append(env("ISTIO_META_APP_CONTAINERS", appContainers.joined(separator: ","))) }
            if flavor != .grpcAgent { list.append(resourceRef("GOMEMLIMIT", "limits.memory")) }
            let compliance = input.settings.compliancePolicy
            if !compliance.isEmpty && flavor != .grpcAgent {
                list.append(env("COMPLIANCE_POLICY", compliance))
                if compliance == "fips-140-3" { list.append(env("GODEBUG", "fips140=only")) }
            }
            if flavor == .gateway { list.append(env("ISTIO_META_APP_CONTAINERS", appContainers.joined(separator: ","))) }
            let cluster = value("global", "multiCluster", "clusterName")?.scalarText ?? ""
            list.append(env("ISTIO_META_CLUSTER_ID", cluster.isEmpty ? "Kubernetes" : cluster))
            list.append(fieldRef("ISTIO_META_NODE_NAME", "spec.nodeName"))
            if flavor == .grpcAgent {
                if let network = value("global", "network"), isTrue(network) { list.append(env("ISTIO_META_NETWORK", text(network))) }
                list += ownerAndMesh(workload: input.deployMeta["name"]?.scalarText ?? "")
                for (key, value) in proxyMetadata { list.append(env(key, value)) }
                list += [env("ISTIO_META_DNS_CAPTURE", "false"), env("DISABLE_ENVOY", "true")]
                return list
            }
            let configuredMode = input.mesh.proxyConfig["interceptionMode"]?.scalarText ?? "REDIRECT"
            let mode = flavor == .gateway ? configuredMode
                : annotations["sidecar.istio.io/interceptionMode"].flatMap { $0.isEmpty ? nil : $0 } ?? configuredMode
            list.append(env("ISTIO_META_INTERCEPTION_MODE", mode))
            if let network = value("global", "network"), isTrue(network) { list.append(env("ISTIO_META_NETWORK", text(network))) }
            let deploymentName = input.deployMeta["name"]?.scalarText ?? ""
            let workload = flavor == .gateway ? deploymentName
                : labels["service.istio.io/workload-name"].flatMap { $0.isEmpty ? nil : $0 } ?? deploymentName
            list += ownerAndMesh(workload: workload)
            if flavor == .gateway {
                for (key, value) in proxyMetadata { list.append(env(key, value)) }
                return list
            }
            if text(value("global", "proxy", "tracer")) == "datadog", let json = annotations["apm.datadoghq.com/env"],
               let settings = try? YAMLParser.parse(json).first?.root.pairs {
                for pair in settings.sorted(by: { ($0.key.scalarText ?? "") < ($1.key.scalarText ?? "") }) {
                    list.append(env(pair.key.scalarText ?? "", text(pair.value)))
                }
            }
            let otel = OpenTelemetry.resourceAttributes([
                .object(input.mesh.meshConfigObject),
                .map(TemplateMap(annotations.map { ($0.key, TemplateValue.string($0.value)) })),
                .map(TemplateMap(labels.map { ($0.key, TemplateValue.string($0.value)) })),
                .string(input.deployMeta["namespace"]?.scalarText ?? ""),
                KubeStruct(type: .podSpec, node: input.spec).field("Containers") ?? .null,
            ])
            if !otel.isEmpty { list.append(env("OTEL_RESOURCE_ATTRIBUTES", otel)) }
            for (key, value) in proxyMetadata { list.append(env(key, value)) }
            return list
        }

        /// Workload name, owner, bootstrap override, mesh id and trust domain, in the templates' order.
        private func ownerAndMesh(workload: String) -> [YAMLNode] {
            var list: [YAMLNode] = []
            let deploymentName = input.deployMeta["name"]?.scalarText ?? ""
            if !workload.isEmpty { list.append(env("ISTIO_META_WORKLOAD_NAME", workload)) }
            let apiVersion = input.typeMeta["apiVersion"]?.scalarText ?? ""
            if !apiVersion.isEmpty && !deploymentName.isEmpty {
                let namespace = input.deployMeta["namespace"]?.scalarText.flatMap { $0.isEmpty ? nil : $0 } ?? "default"
                let kind = (input.typeMeta["kind"]?.scalarText ?? "").lowercased()
                list.append(.mapping([("name", .string("ISTIO_META_OWNER")),
                                      ("value", plain("kubernetes://apis/\(apiVersion)/namespaces/\(namespace)/\(kind)s/\(deploymentName)"))]))
            }
            if flavor != .grpcAgent && annotations["sidecar.istio.io/bootstrapOverride"] != nil {
                list.append(env("ISTIO_BOOTSTRAP_OVERRIDE", "/etc/istio/custom-bootstrap/custom_bootstrap.json"))
            }
            let trustDomain = [input.mesh.node["trustDomain"]?.scalarText, value("global", "trustDomain")?.scalarText]
                .compactMap { $0 }.first { !$0.isEmpty }
            if let meshID = value("global", "meshID"), isTrue(meshID) {
                list.append(env("ISTIO_META_MESH_ID", text(meshID)))
            } else if let trustDomain {
                list.append(env("ISTIO_META_MESH_ID", trustDomain))
            }
            if let trustDomain { list.append(env("TRUST_DOMAIN", trustDomain)) }
            return list
        }

        /// The proxyless gRPC agent: the agent alone serves xDS and certificates to gRPC applications.
        func grpcAgentPod() throws -> YAMLNode {
            var proxy = proxyBasics(role: "sidecar", port: 15020, portName: "mesh-metrics", restartAlways: false, outlierLog: false)
            proxy.append(("lifecycle", .mapping([("postStart", .mapping([("exec", .mapping([("command", .sequence(
                ["pilot-agent", "wait", "--url=http://localhost:15020/healthz/ready"].map { .string($0) }))]))]))])))
            proxy.append(("env", .sequence(try environment())))
            if let policy = value("global", "imagePullPolicy"), isTrue(policy) { proxy.append(("imagePullPolicy", .string(text(policy)))) }
            let certsMount = text(value("global", "caName")) == "GkeWorkloadCertificate"
                ? mount("gke-workload-certificate", "/var/run/secrets/workload-spiffe-credentials", readOnly: true)
                : mount("workload-certs", "/var/run/secrets/workload-spiffe-credentials")
            var mounts: [YAMLNode] = []
            if statusPort != "0" {
                proxy.append(("readinessProbe", .mapping([
                    ("httpGet", .mapping([("path", .string("/healthz/ready")), ("port", .int(15020))])),
                    ("initialDelaySeconds", plain(annotation("readiness.status.sidecar.istio.io/initialDelaySeconds", value("global", "proxy", "readinessInitialDelaySeconds")))),
                    ("periodSeconds", plain(annotation("readiness.status.sidecar.istio.io/periodSeconds", value("global", "proxy", "readinessPeriodSeconds")))),
                    ("timeoutSeconds", .int(3)),
                    ("failureThreshold", plain(annotation("readiness.status.sidecar.istio.io/failureThreshold", value("global", "proxy", "readinessFailureThreshold")))),
                ])))
                proxy.append(("resources", resources()))
                mounts = [mount("workload-socket", "/var/run/secrets/workload-spiffe-uds"), certsMount]
                if text(value("global", "pilotCertProvider")) == "istiod" { mounts.append(mount("istiod-ca-cert", "/var/run/secrets/istio")) }
                mounts += [mount("istio-data", "/var/lib/istio/data"), mount("istio-xds", "/etc/istio/proxy"), mount("istio-token", "/var/run/secrets/tokens")]
                if isTrue(value("global", "mountMtlsCerts")) { mounts.append(mount("istio-certs", "/etc/certs/", readOnly: true)) }
                mounts.append(mount("istio-podinfo", "/etc/istio/pod"))
            }
            mounts += userEntries("sidecar.istio.io/userVolumeMount")
            if !mounts.isEmpty { proxy.append(("volumeMounts", .sequence(mounts))) }

            var containers: [YAMLNode] = [.mapping(proxy)]
            for name in appContainers {
                containers.append(.mapping([
                    ("name", .string(name)),
                    ("env", .sequence([env("GRPC_XDS_EXPERIMENTAL_SECURITY_SUPPORT", "true"), env("GRPC_XDS_BOOTSTRAP", "/etc/istio/proxy/grpc-bootstrap.json")])),
                    ("volumeMounts", .sequence([mount("istio-data", "/var/lib/istio/data"), mount("istio-xds", "/etc/istio/proxy"), certsMount])),
                ]))
            }

            var volumes: [YAMLNode] = [.mapping([("name", .string("workload-socket"))])]
            if text(value("global", "caName")) == "GkeWorkloadCertificate" {
                volumes.append(.mapping([("name", .string("gke-workload-certificate")),
                                         ("csi", .mapping([("driver", .string("workloadcertificates.security.cloud.google.com"))]))]))
            } else {
                volumes.append(.mapping([("name", .string("workload-certs"))]))
            }
            if let configMap = annotations["sidecar.istio.io/bootstrapOverride"] {
                volumes.append(.mapping([("name", .string("custom-bootstrap-volume")), ("configMap", .mapping([("name", .string(configMap))]))]))
            }
            volumes.append(.mapping([("emptyDir", .mapping([("medium", .string("Memory"))])), ("name", .string("istio-xds"))]))
            volumes += self.volumes().filter { item in
                ["istio-data", "istio-podinfo", "istio-token", "istiod-ca-cert", "istio-certs"].contains(item["name"]?.scalarText ?? "")
            }
            volumes += userEntries("sidecar.istio.io/userVolume")
            var spec: [(String, YAMLNode)] = [("containers", .sequence(containers)), ("volumes", .sequence(volumes))]
            if let secrets = value("global", "imagePullSecrets")?.items, !secrets.isEmpty {
                spec.append(("imagePullSecrets", .sequence(secrets.map { .mapping([("name", .string(text($0)))]) })))
            }
            return .mapping([("metadata", metadata()), ("spec", .mapping(spec))])
        }

        private func proxySecurityContext() -> YAMLNode {
            var security: [(String, YAMLNode)]
            if proxyMetadata.first(where: { $0.0 == "IPTABLES_TRACE_LOGGING" })?.1 == "true" {
                security = [("allowPrivilegeEscalation", .bool(true)),
                            ("capabilities", .mapping([("add", .sequence([.string("NET_ADMIN")])), ("drop", .sequence([.string("ALL")]))])),
                            ("privileged", .bool(true)), ("readOnlyRootFilesystem", .bool(true)),
                            ("runAsGroup", .int(input.proxyGID)), ("runAsNonRoot", .bool(false)), ("runAsUser", .int(0))]
            } else {
                let privileged = plain(text(value("global", "proxy", "privileged")))
                var capabilities: [(String, YAMLNode)] = []
                if tproxy || capNetBindService {
                    var add: [YAMLNode] = []
                    if tproxy { add.append(.string("NET_ADMIN")) }
                    if capNetBindService { add.append(.string("NET_BIND_SERVICE")) }
                    capabilities.append(("add", .sequence(add)))
                }
                capabilities.append(("drop", .sequence([.string("ALL")])))
                security = [("allowPrivilegeEscalation", privileged), ("capabilities", .mapping(capabilities)),
                            ("privileged", privileged), ("readOnlyRootFilesystem", .bool(true))]
                if tproxy || capNetBindService {
                    security += [("runAsNonRoot", .bool(false)), ("runAsUser", .int(0)), ("runAsGroup", .int(1337))]
                } else {
                    security += [("runAsNonRoot", .bool(true)), ("runAsUser", .int(input.proxyUID)), ("runAsGroup", .int(input.proxyGID))]
                }
            }
            if let seccomp = value("global", "proxy", "seccompProfile"), isTrue(seccomp) { security.append(("seccompProfile", seccomp)) }
            return .mapping(security)
        }

        private func mount(_ name: String, _ path: String, readOnly: Bool = false) -> YAMLNode {
            var fields: [(String, YAMLNode)] = [("name", .string(name)), ("mountPath", .string(path))]
            if readOnly { fields.append(("readOnly", .bool(true))) }
            return .mapping(fields)
        }

        private var lightstepCACertificates: String? {
            guard text(value("global", "proxy", "tracer")) == "lightstep",
                  let settings = input.mesh.proxyConfig["tracing"]?["tlsSettings"], settings.pairs != nil else { return nil }
            return settings["caCertificates"]?.scalarText ?? ""
        }

        private func volumeMounts() -> [YAMLNode] {
            var mounts = [mount("workload-socket", "/var/run/secrets/workload-spiffe-uds"),
                          mount("credential-socket", "/var/run/secrets/credential-uds")]
            if text(value("global", "caName")) == "GkeWorkloadCertificate" {
                mounts.append(mount("gke-workload-certificate", "/var/run/secrets/workload-spiffe-credentials", readOnly: true))
            } else {
                mounts.append(mount("workload-certs", "/var/run/secrets/workload-spiffe-credentials"))
            }
            if text(value("global", "pilotCertProvider")) == "istiod" {
                mounts.append(mount("istiod-ca-cert", "/var/run/secrets/istio"))
                if flavor == .sidecar { mounts.append(mount("istio-ca-crl", "/var/run/secrets/istio/crl")) }
            }
            mounts.append(mount("istio-data", "/var/lib/istio/data"))
            if annotations["sidecar.istio.io/bootstrapOverride"] != nil { mounts.append(mount("custom-bootstrap-volume", "/etc/istio/custom-bootstrap")) }
            mounts += [mount("istio-envoy", "/etc/istio/proxy"), mount("istio-token", "/var/run/secrets/tokens")]
            if isTrue(value("global", "mountMtlsCerts")) { mounts.append(mount("istio-certs", "/etc/certs/", readOnly: true)) }
            mounts.append(mount("istio-podinfo", "/etc/istio/pod"))
            if flavor == .gateway { return mounts }
            if let certificates = lightstepCACertificates {
                let function = TemplateFunctions.istio["directory"]!
                let folder = (try? function([.string(certificates)]))?.stringValue ?? ""
                mounts.append(mount("lightstep-certs", folder, readOnly: true))
            }
            mounts += userEntries("sidecar.istio.io/userVolumeMount")
            return mounts
        }

        private func volume(_ name: String, emptyDir: YAMLNode?) -> YAMLNode {
            var fields: [(String, YAMLNode)] = [("name", .string(name))]
            if let emptyDir { fields.append(("emptyDir", emptyDir)) }
            return .mapping(fields)
        }

        // MARK: Gateways

        /// A gateway pod: the proxy runs as the pod's only purpose (`proxy router`), without iptables.
        func gatewayPod() throws -> YAMLNode {
            var container = proxyBasics(role: "router", port: 15090, portName: "http-envoy-prom", restartAlways: false, outlierLog: false)
            if let lifecycle = value("global", "proxy", "lifecycle"), isTrue(lifecycle) { container.append(("lifecycle", lifecycle)) }
            container.append(("securityContext", .mapping([("runAsUser", .int(input.proxyUID)), ("runAsGroup", .int(input.proxyGID))])))
            container.append(("env", .sequence(try environment())))
            if let policy = value("global", "imagePullPolicy"), isTrue(policy) { container.append(("imagePullPolicy", .string(text(policy)))) }
            container.append(("readinessProbe", .mapping([
                ("httpGet", .mapping([("path", .string("/healthz/ready")), ("port", .int(15021))])),
                ("initialDelaySeconds", plain(text(value("global", "proxy", "readinessInitialDelaySeconds")))),
                ("periodSeconds", plain(text(value("global", "proxy", "readinessPeriodSeconds")))),
                ("timeoutSeconds", .int(3)),
                ("failureThreshold", plain(text(value("global", "proxy", "readinessFailureThreshold")))),
            ])))
            container.append(("volumeMounts", .sequence(volumeMounts())))

            var securityContext = YAMLNode.mapping([("sysctls", .sequence([.mapping([
                ("name", .string("net.ipv4.ip_unprivileged_port_start")), ("value", .string("0"))])]))])
            if let configured = value("gateways", "securityContext"), isTrue(configured) { securityContext = configured }
            var spec: [(String, YAMLNode)] = [("securityContext", securityContext), ("containers", .sequence([.mapping(container)])),
                                             ("volumes", .sequence(volumes()))]
            if let secrets = value("global", "imagePullSecrets")?.items, !secrets.isEmpty {
                spec.append(("imagePullSecrets", .sequence(secrets.map { .mapping([("name", .string(text($0)))]) })))
            }
            return .mapping([("metadata", metadata()), ("spec", .mapping(spec))])
        }

        /// `sidecar.istio.io/userVolume(Mount)`: a JSON object of name → definition.
        private func userEntries(_ annotation: String) -> [YAMLNode] {
            guard let json = annotations[annotation], let entries = try? YAMLParser.parse(json).first?.root.pairs else { return [] }
            return entries.sorted { ($0.key.scalarText ?? "") < ($1.key.scalarText ?? "") }.map { entry in
                var item = YAMLNode.mapping([("name", .string(entry.key.scalarText ?? ""))])
                for pair in entry.value.pairs ?? [] { item[pair.key.scalarText ?? ""] = pair.value }
                return item
            }
        }

        private func volumes() -> [YAMLNode] {
            // The gateway's template gives two of the sockets an emptyDir; the sidecar's leaves them null.
            let socketVolume: YAMLNode? = flavor == .gateway ? .mapping([]) : nil
            var list: [YAMLNode] = [.mapping([("name", .string("workload-socket"))]), volume("credential-socket", emptyDir: socketVolume)]
            if text(value("global", "caName")) == "GkeWorkloadCertificate" {
                list.append(.mapping([("name", .string("gke-workload-certificate")),
                                      ("csi", .mapping([("driver", .string("workloadcertificates.security.cloud.google.com"))]))]))
            } else {
                list.append(volume("workload-certs", emptyDir: socketVolume))
            }
            if let configMap = annotations["sidecar.istio.io/bootstrapOverride"] {
                list.append(.mapping([("name", .string("custom-bootstrap-volume")), ("configMap", .mapping([("name", .string(configMap))]))]))
            }
            list.append(.mapping([("emptyDir", .mapping([("medium", .string("Memory"))])), ("name", .string("istio-envoy"))]))
            list.append(.mapping([("name", .string("istio-data")), ("emptyDir", .mapping([]))]))
            list.append(.mapping([("name", .string("istio-podinfo")), ("downwardAPI", .mapping([("items", .sequence([
                .mapping([("path", .string("labels")), ("fieldRef", .mapping([("fieldPath", .string("metadata.labels"))]))]),
                .mapping([("path", .string("annotations")), ("fieldRef", .mapping([("fieldPath", .string("metadata.annotations"))]))]),
            ]))]))]))
            list.append(.mapping([("name", .string("istio-token")), ("projected", .mapping([("sources", .sequence([
                .mapping([("serviceAccountToken", .mapping([("path", .string("istio-token")), ("expirationSeconds", .int(43200)),
                                                             ("audience", plain(text(value("global", "sds", "token", "aud"))))]))]),
            ]))]))]))
            if text(value("global", "pilotCertProvider")) == "istiod" {
                let bundle = value("global", "trustBundleName").flatMap { isTrue($0) ? text($0) : nil }
                if value("pilot", "env", "ENABLE_CLUSTER_TRUST_BUNDLE_API")?.bool == true {
                    list.append(.mapping([("name", .string("istiod-ca-cert")), ("projected", .mapping([("sources", .sequence([
                        .mapping([("clusterTrustBundle", .mapping([("name", .string("istio.io:istiod-ca:" + (bundle ?? "root-cert"))),
                                                                    ("path", .string("root-cert.pem"))]))]),
                    ]))]))]))
                } else {
                    list.append(.mapping([("name", .string("istiod-ca-cert")), ("configMap", .mapping([("name", .string(bundle ?? "istio-ca-root-cert"))]))]))
                }
            }
            if flavor == .sidecar {
                let crl = value("pilot", "crlConfigMapName").flatMap { isTrue($0) ? text($0) : nil } ?? "istio-ca-crl"
                list.append(.mapping([("name", .string("istio-ca-crl")), ("configMap", .mapping([("name", .string(crl)), ("optional", .bool(true))]))]))
            }
            if isTrue(value("global", "mountMtlsCerts")) {
                let account = input.spec["serviceAccountName"]?.scalarText ?? ""
                list.append(.mapping([("name", .string("istio-certs")), ("secret", .mapping([
                    ("optional", .bool(true)), ("secretName", .string(account.isEmpty ? "istio.default" : "istio.\(account)"))]))]))
            }
            if flavor == .gateway { return list }
            list += userEntries("sidecar.istio.io/userVolume")
            if lightstepCACertificates != nil {
                list.append(.mapping([("name", .string("lightstep-certs")), ("secret", .mapping([
                    ("optional", .bool(true)), ("secretName", .string("lightstep.cacert"))]))]))
            }
            return list
        }
    }
}
