/// One pod's injection: the steps of Istio's `injectPod`, in order.
struct PodInjection {
    let settings: InjectionSettings
    let mesh: MeshConfiguration
    /// `{metadata, spec}` of the pod as written.
    let pod: YAMLNode
    let typeMeta: YAMLNode
    let deployMeta: YAMLNode

    static let proxyName = "istio-proxy"
    static let initName = "istio-init"
    static let validationName = "istio-validation"
    static let coreDumpName = "enable-core-dump"

    func run() throws -> YAMLNode {
        let annotations = pod["metadata"]?["annotations"]
        try AnnotationValidation.validate(annotations)

        // Cluster and network for the proxy's environment.
        var proxyEnvs: [(String, String)] = []
        let cluster = settings.value("global", "multiCluster", "clusterName")?.scalarText ?? ""
        var network = settings.value("global", "network")?.scalarText ?? ""
        if let label = pod["metadata"]?["labels"]?["topology.istio.io/network"]?.scalarText { network = label }
        if !cluster.isEmpty { proxyEnvs.append(("ISTIO_META_CLUSTER_ID", cluster)) }
        if !network.isEmpty { proxyEnvs.append(("ISTIO_META_NETWORK", network)) }

        let stripped = try reinsertOverrides(strip(pod))
        let data = templateData(stripped)

        var merged = pod
        var templatePod = YAMLNode.mapping([])
        for name in selectedTemplates() {
            guard let template = settings.config.templates[name] else {
                let known = settings.config.templates.keys.sorted().joined(separator: ", ")
                throw InjectionError("requested template \"\(name)\" not found; " + (known.isEmpty ? "the injector configuration has no templates" : "have \(known)"))
            }
            let patch: YAMLNode
            let rendered: String
            do {
                rendered = try template.execute(data, functions: Self.functions(mesh: mesh))
            } catch {
                throw InjectionError("failed to run injection template: \(error)")
            }
            do {
                patch = try YAMLParser.parse(rendered, file: "template \(name)").first?.root ?? .mapping([])
            } catch {
                throw InjectionError("failed parsing generated injected YAML (check Istio sidecar injector configuration): \(error)")
            }
            guard patch.pairs != nil || patch.isNull else {
                throw InjectionError("failed parsing generated injected YAML: template \(name) did not produce a pod")
            }
            templatePod = KubeRoundTrip.normalizePodFields(StrategicMerge.apply(patch, to: templatePod))
            var native = settings.nativeSidecars
            switch merged["metadata"]?["annotations"]?["sidecar.istio.io/nativeSidecar"]?.scalarText {
            case "true": native = true
            case "false": native = false
            default: break
            }
            if native, Self.container(Self.proxyName, in: templatePod, field: "initContainers") != nil,
               Self.container(Self.proxyName, in: merged, field: "containers") != nil {
                merged = Self.moveContainer(Self.proxyName, in: merged, from: "containers", to: "initContainers")
            }
            merged = KubeRoundTrip.normalizePodFields(StrategicMerge.apply(patch, to: merged))
        }

        merged = try reapplyOverwrittenContainers(merged, template: templatePod)
        return try postProcess(merged, template: templatePod, proxyEnvs: proxyEnvs)
    }

    // MARK: Templates and their data

    private func selectedTemplates() -> [String] {
        var names = settings.config.defaultTemplates
        if let list = pod["metadata"]?["annotations"]?["inject.istio.io/templates"]?.scalarText {
            names = list.split(separator: ",", omittingEmptySubsequences: false).map { String($0).trimmed }
        }
        return names.flatMap { settings.config.aliases[$0] ?? [$0] }
    }

    static func functions(mesh: MeshConfiguration) -> [String: TemplateFunction] {
        var functions = TemplateFunctions.istioInjection
        let cleaned = mesh.cleanedProxyConfigJSON
        functions["protoToJSON"] = { args in
            guard args.count == 1 else { throw TemplateFunctionError("wrong number of args for protoToJSON: want 1 got \(args.count)") }
            if case .object(let object) = args[0], object is ProtoMessage, object.typeName.hasSuffix("ProxyConfig") {
                return .string(cleaned)
            }
            if case .object(let object) = args[0], let message = object as? any TemplateProtoMessage { return .string(message.protoJSON) }
            return .string(args[0].isNil ? "{}" : GoFormat.json(args[0]))
        }
        functions["otelResourceAttributes"] = { args in .string(OpenTelemetry.resourceAttributes(args)) }
        return functions
    }

    /// What a template is given: the pod being injected and everything about the mesh, as Istio's injector names it.
    private func templateData(_ stripped: YAMLNode) -> TemplateValue {
        let annotations = stripped["metadata"]?["annotations"]
        let proxyConfig = mesh.proxyConfig
        var imageType = settings.value("global", "variant")?.scalarText
        if let type = proxyConfig["image"]?["imageType"]?.scalarText { imageType = type }
        if let type = annotations?["sidecar.istio.io/proxyImageType"]?.scalarText { imageType = type }
        let proxyImageName = settings.value("global", "proxy", "image")?.scalarText.flatMap { $0.isEmpty ? nil : $0 } ?? "proxyv2"
        let initImageName = settings.value("global", "proxy_init", "image")?.scalarText.flatMap { $0.isEmpty ? nil : $0 } ?? "proxyv2"
        let inboundMode = mesh.node["inboundTrafficPolicy"]?["mode"]?.scalarText == "LOCALHOST" ? "localhost" : "passthrough"
        var metadata = stripped["metadata"] ?? .mapping([])
        if metadata.pairs == nil { metadata = .mapping([]) }
        let proxyImage = settings.imageURL(imageName: proxyImageName, imageType: imageType)
        let proxyInitImage = settings.imageURL(imageName: initImageName, imageType: imageType)
        return TemplateValue.map(TemplateMap([
            ("TypeMeta", .object(KubeStruct(type: .typeMeta, node: typeMeta))),
            ("DeploymentMeta", .object(KubeStruct(type: .namespacedName, node: deployMeta))),
            ("ObjectMeta", .object(KubeStruct(type: .objectMeta, node: metadata))),
            ("Spec", .object(KubeStruct(type: .podSpec, node: stripped["spec"] ?? .mapping([])))),
            ("ProxyConfig", .object(mesh.proxyConfigObject)),
            ("MeshConfig", .object(mesh.meshConfigObject)),
            ("Values", TemplateValue(jsonNode: settings.values)),
            ("Revision", .string(settings.revision)),
            ("NativeSidecars", .bool(settings.nativeSidecars)),
            ("ProxyImage", .string(proxyImage)),
            ("ProxyInitImage", .string(proxyInitImage)),
            ("ProxyUID", .int(settings.proxyUID)),
            ("ProxyGID", .int(settings.proxyGID)),
            ("InboundTrafficPolicyMode", .string(inboundMode)),
            ("CompliancePolicy", .string(settings.compliancePolicy)),
        ]))
    }

    // MARK: Re-injection

    /// The pod without what an earlier injection added (its status annotation names it).
    private func strip(_ pod: YAMLNode) -> YAMLNode {
        guard let statusText = pod["metadata"]?["annotations"]?["sidecar.istio.io/status"]?.scalarText,
              let status = try? YAMLParser.parse(statusText).first?.root, status.pairs != nil else { return pod }
        var copy = pod
        for (field, statusKey) in [("containers", "containers"), ("initContainers", "initContainers")] {
            let names = Set(status[statusKey]?.items?.compactMap(\.scalarText) ?? [])
            if let items = copy["spec"]?[field]?.items {
                copy = SidecarInjector.setting(copy, at: [.key("spec"), .key(field)],
                                               to: .sequence(items.filter { !names.contains($0["name"]?.scalarText ?? "") }))
            }
        }
        var annotations = copy["metadata"]?["annotations"] ?? .mapping([])
        if Prometheus.port(in: annotations) == String(mesh.statusPort) { annotations = Prometheus.clearing(annotations) }
        annotations["sidecar.istio.io/status"] = nil
        copy = SidecarInjector.setting(copy, at: [.key("metadata"), .key("annotations")], to: annotations)
        return copy
    }

    /// Puts back containers recorded in `proxy.istio.io/overrides` that stripping removed.
    private func reinsertOverrides(_ pod: YAMLNode) throws -> YAMLNode {
        guard let text = pod["metadata"]?["annotations"]?["proxy.istio.io/overrides"]?.scalarText else { return pod }
        guard let overrides = try? YAMLParser.parse(text).first?.root else {
            throw InjectionError("invalid proxy.istio.io/overrides annotation: not JSON")
        }
        var copy = pod
        for field in ["containers", "initContainers"] {
            var items = copy["spec"]?[field]?.items ?? []
            for container in overrides[field]?.items ?? [] where !items.contains(where: { $0["name"] == container["name"] }) {
                items.append(container)
            }
            if !items.isEmpty { copy = SidecarInjector.setting(copy, at: [.key("spec"), .key(field)], to: .sequence(items)) }
        }
        return copy
    }

    /// Containers the user defined with the same name as injected ones (an `istio-proxy` with custom
    /// settings) are merged back over the injected ones, and recorded in `proxy.istio.io/overrides`.
    private func reapplyOverwrittenContainers(_ merged: YAMLNode, template: YAMLNode) throws -> YAMLNode {
        var final = merged
        let annotations = pod["metadata"]?["annotations"]
        let existing = annotations?["proxy.istio.io/overrides"]?.scalarText.flatMap { try? YAMLParser.parse($0).first?.root }
        let statusText = annotations?["sidecar.istio.io/status"]?.scalarText
        let status = statusText.flatMap { try? YAMLParser.parse($0).first?.root }
        let alreadyInjected = statusText != nil
        var overrides: [(String, [YAMLNode])] = [("containers", []), ("initContainers", [])]

        for (index, field) in ["containers", "initContainers"].enumerated() {
            for injected in template["spec"]?[field]?.items ?? [] {
                guard let name = injected["name"]?.scalarText else { continue }
                // Overrides recorded at an earlier injection apply again; other previously injected
                // containers take the new template as it is.
                var match = existing?[field]?.items?.first { $0["name"]?.scalarText == name }
                if match == nil && status?[field]?.items?.contains(where: { $0.scalarText == name }) == true { continue }
                if match == nil {
                    match = field == "containers"
                        ? Self.container(name, in: pod, field: "containers")
                        : (Self.container(name, in: pod, field: "containers") ?? Self.container(name, in: pod, field: "initContainers"))
                }
                guard var overlay = match else { continue }
                if overlay["image"]?.scalarText == "auto" { overlay["image"] = nil }
                overrides[index].1.append(overlay)
                var patchSpec: [(String, YAMLNode)] = [(field, .sequence([overlay]))]
                if field == "initContainers" { patchSpec.insert(("containers", .sequence([])), at: 0) }
                final = KubeRoundTrip.normalizePodFields(StrategicMerge.apply(.mapping([("spec", .mapping(patchSpec))]), to: final))
            }
        }
        if !alreadyInjected, overrides.contains(where: { !$0.1.isEmpty }) {
            var map = TemplateMap()
            for (field, containers) in overrides where !containers.isEmpty {
                map[field] = .list(containers.map(GoStructJSON.container))
            }
            var annotationsNode = final["metadata"]?["annotations"] ?? .mapping([])
            if annotationsNode.pairs == nil { annotationsNode = .mapping([]) }
            annotationsNode["proxy.istio.io/overrides"] = .string(GoFormat.json(.object(OrderedData(value: .map(map)))))
            final = SidecarInjector.setting(final, at: [.key("metadata"), .key("annotations")], to: annotationsNode)
        }
        return adjustInitContainerUser(final)
    }

    /// A user's `istio-proxy` with its own runAsUser/runAsGroup: the init container follows it.
    private func adjustInitContainerUser(_ final: YAMLNode) -> YAMLNode {
        // The user's own istio-proxy: as recorded at an earlier injection, else as written.
        let recorded = pod["metadata"]?["annotations"]?["proxy.istio.io/overrides"]?.scalarText
            .flatMap { try? YAMLParser.parse($0).first?.root }
            .flatMap { overrides in ["containers", "initContainers"].lazy.compactMap { overrides[$0]?.items?.first { $0["name"]?.scalarText == Self.proxyName } }.first }
        guard let user = recorded ?? Self.container(Self.proxyName, in: pod, field: "containers") ?? Self.container(Self.proxyName, in: pod, field: "initContainers"),
              let context = user["securityContext"], context["runAsUser"] != nil || context["runAsGroup"] != nil else { return final }
        var result = final
        let tproxy = mesh.proxyConfig["interceptionMode"]?.scalarText == "TPROXY"
            || final["metadata"]?["annotations"]?["sidecar.istio.io/interceptionMode"]?.scalarText == "TPROXY"
        guard var initContainers = result["spec"]?["initContainers"]?.items,
              let initIndex = initContainers.firstIndex(where: { $0["name"]?.scalarText == Self.initName })
                ?? initContainers.firstIndex(where: { $0["name"]?.scalarText == Self.validationName }) else { return final }
        if tproxy, context["runAsUser"] != nil {
            for field in ["containers", "initContainers"] {
                guard var items = result["spec"]?[field]?.items,
                      let index = items.firstIndex(where: { $0["name"]?.scalarText == Self.proxyName }) else { continue }
                var security = items[index]["securityContext"] ?? .mapping([])
                security["runAsUser"] = .int(0)
                items[index]["securityContext"] = security
                result = SidecarInjector.setting(result, at: [.key("spec"), .key(field)], to: .sequence(items))
                break
            }
            initContainers = result["spec"]?["initContainers"]?.items ?? initContainers
        }
        var initContainer = initContainers[initIndex]
        if !tproxy && initContainer["name"]?.scalarText == Self.validationName {
            var security = initContainer["securityContext"] ?? .mapping([])
            if let uid = context["runAsUser"] { security["runAsUser"] = uid }
            if let gid = context["runAsGroup"] { security["runAsGroup"] = gid }
            initContainer["securityContext"] = security
        }
        if let uid = context["runAsUser"]?.int, uid != 0, var args = initContainer["args"]?.items,
           let flag = args.firstIndex(where: { $0.scalarText == "-u" }), flag + 1 < args.count {
            args[flag + 1] = .string(String(uid))
            initContainer["args"] = .sequence(args)
        }
        initContainers[initIndex] = initContainer
        return SidecarInjector.setting(result, at: [.key("spec"), .key("initContainers")], to: .sequence(initContainers))
    }

    // MARK: Post-processing

    private func postProcess(_ merged: YAMLNode, template: YAMLNode, proxyEnvs: [(String, String)]) throws -> YAMLNode {
        var pod = merged
        if pod["metadata"]?.pairs == nil { pod["metadata"] = .mapping([]) }
        var metadata = pod["metadata"]!
        if metadata["annotations"]?.pairs == nil { metadata["annotations"] = .mapping([]) }
        if metadata["labels"]?.pairs == nil { metadata["labels"] = .mapping([]) }
        pod["metadata"] = metadata

        // Cluster and network from the injection URL or values replace the template's.
        if !proxyEnvs.isEmpty {
            pod = Self.updatingSidecar(pod) { sidecar in
                var env = (sidecar["env"]?.items ?? []).filter { item in !proxyEnvs.contains { $0.0 == item["name"]?.scalarText } }
                for (name, value) in proxyEnvs.sorted(by: { $0.0 < $1.0 }) {
                    env.append(.mapping([("name", .string(name)), ("value", .string(value))]))
                }
                sidecar["env"] = .sequence(env)
            }
        }
        pod = Prometheus.merge(pod, mesh: mesh)
        pod = AppProbes.rewrite(pod, settings: settings, mesh: mesh)

        // Metadata: network label, the status annotation, injected annotations.
        var annotations = pod["metadata"]?["annotations"] ?? .mapping([])
        if let network = proxyEnvs.first(where: { $0.0 == "ISTIO_META_NETWORK" })?.1 {
            var labels = pod["metadata"]?["labels"] ?? .mapping([])
            labels["topology.istio.io/network"] = .string(network)
            pod = SidecarInjector.setting(pod, at: [.key("metadata"), .key("labels")], to: labels)
        }
        annotations["sidecar.istio.io/status"] = .string(Self.injectionStatus(template, revision: settings.revision))
        for (key, value) in settings.config.injectedAnnotations { annotations[key] = .string(value) }
        pod = SidecarInjector.setting(pod, at: [.key("metadata"), .key("annotations")], to: annotations)
        return try reorder(pod)
    }

    /// `sidecar.istio.io/status`: what the templates added, by name.
    static func injectionStatus(_ template: YAMLNode, revision: String) -> String {
        func names(_ field: String) -> TemplateValue {
            guard let items = template["spec"]?[field]?.items, !items.isEmpty else { return .null }
            return .list(items.map { .string($0["name"]?.scalarText ?? "") })
        }
        let status = TemplateMap([
            ("initContainers", names("initContainers")), ("containers", names("containers")), ("volumes", names("volumes")),
            ("imagePullSecrets", names("imagePullSecrets")), ("revision", .string(revision.isEmpty ? "default" : revision)),
        ])
        return GoFormat.json(.object(OrderedData(value: .map(status))))
    }

    /// The proxy last among containers (first when the application must wait for it); init containers
    /// in the order iptables setup needs.
    private func reorder(_ pod: YAMLNode) throws -> YAMLNode {
        var holdMesh = settings.mesh
        if let proxyConfig = self.pod["metadata"]?["annotations"]?["proxy.istio.io/config"]?.scalarText {
            holdMesh = try holdMesh.applyingProxyConfig(proxyConfig)
        }
        let hold = holdMesh.proxyConfig["holdApplicationUntilProxyStarts"]?.bool == true
            || settings.value("global", "proxy", "holdApplicationUntilProxyStarts")?.bool == true
        var result = pod
        var containers = result["spec"]?["containers"]?.items ?? []
        containers = Self.move(Self.proxyName, in: containers, first: hold)
        var initContainers = result["spec"]?["initContainers"]?.items ?? []
        if initContainers.contains(where: { $0["name"]?.scalarText == Self.proxyName }) {
            initContainers = Self.move(Self.coreDumpName, in: initContainers, first: true)
            initContainers = Self.move(Self.proxyName, in: initContainers, first: true)
            let before = (pod["metadata"]?["annotations"]?["sidecar.istio.io/init-containers-before-proxy"]?.scalarText ?? "")
                .split(separator: ",").map(String.init)
            var unique: [String] = []
            for name in before where !unique.contains(name) { unique.append(name) }
            for name in unique.reversed() { initContainers = Self.move(name, in: initContainers, first: true) }
            initContainers = Self.move(Self.validationName, in: initContainers, first: true)
            initContainers = Self.move(Self.initName, in: initContainers, first: true)
        } else {
            initContainers = Self.move(Self.validationName, in: initContainers, first: true)
            initContainers = Self.move(Self.initName, in: initContainers, first: false)
            initContainers = Self.move(Self.coreDumpName, in: initContainers, first: false)
        }
        if result["spec"]?["containers"] != nil { result = SidecarInjector.setting(result, at: [.key("spec"), .key("containers")], to: .sequence(containers)) }
        if result["spec"]?["initContainers"] != nil {
            result = SidecarInjector.setting(result, at: [.key("spec"), .key("initContainers")], to: .sequence(initContainers))
        }
        return result
    }

    // MARK: Container helpers

    static func container(_ name: String, in pod: YAMLNode, field: String) -> YAMLNode? {
        pod["spec"]?[field]?.items?.first { $0["name"]?.scalarText == name }
    }

    static func move(_ name: String, in containers: [YAMLNode], first: Bool) -> [YAMLNode] {
        guard let index = containers.firstIndex(where: { $0["name"]?.scalarText == name }) else { return containers }
        var rest = containers
        let item = rest.remove(at: index)
        rest.removeAll { $0["name"]?.scalarText == name }
        return first ? [item] + rest : rest + [item]
    }

    static func moveContainer(_ name: String, in pod: YAMLNode, from: String, to: String) -> YAMLNode {
        var source = pod["spec"]?[from]?.items ?? []
        guard let index = source.firstIndex(where: { $0["name"]?.scalarText == name }) else { return pod }
        let item = source.remove(at: index)
        var target = pod["spec"]?[to]?.items ?? []
        target.append(item)
        var result = SidecarInjector.setting(pod, at: [.key("spec"), .key(from)], to: .sequence(source))
        result = SidecarInjector.setting(result, at: [.key("spec"), .key(to)], to: .sequence(target))
        return result
    }

    /// Applies a change to the `istio-proxy` container, wherever it is.
    static func updatingSidecar(_ pod: YAMLNode, _ change: (inout YAMLNode) -> Void) -> YAMLNode {
        for field in ["containers", "initContainers"] {
            guard var items = pod["spec"]?[field]?.items,
                  let index = items.firstIndex(where: { $0["name"]?.scalarText == proxyName }) else { continue }
            change(&items[index])
            return SidecarInjector.setting(pod, at: [.key("spec"), .key(field)], to: .sequence(items))
        }
        return pod
    }
}

extension KubeRoundTrip {
    /// A pod after Go decodes it into `corev1.Pod`: empty optional fields gone.
    static func normalizePodFields(_ pod: YAMLNode) -> YAMLNode {
        normalize(pod, kind: "")
    }
}

extension InjectionSettings {
    /// The proxy's user: 1337, or on OpenShift the last of the namespace's assigned UID range.
    var proxyUID: Int { Self.lastOfRange(namespaceAnnotations["openshift.io/sa.scc.uid-range"]) ?? 1337 }
    var proxyGID: Int { Self.lastOfRange(namespaceAnnotations["openshift.io/sa.scc.supplemental-groups"]) ?? 1337 }

    private static func lastOfRange(_ text: String?) -> Int? {
        guard let text, let slash = text.firstIndex(of: "/"),
              let start = Int(text[..<slash]), let size = Int(text[text.index(after: slash)...]), size > 0 else { return nil }
        return start + size - 1
    }
}
