/// Checks the injection annotations Istio validates before it injects.
enum AnnotationValidation {
    private enum Rule {
        case interceptionMode, cidrListOrWildcard, cidrList, portListOrWildcard, portList, port, unsigned, bool
    }

    /// Annotation → (rule, the values.yaml setting it overrides, for the message).
    private static let rules: [String: (Rule, String)] = [
        "sidecar.istio.io/interceptionMode": (.interceptionMode, "interceptionMode"),
        "traffic.sidecar.istio.io/includeOutboundIPRanges": (.cidrListOrWildcard, "global.proxy.includeIPRanges"),
        "traffic.sidecar.istio.io/excludeOutboundIPRanges": (.cidrList, "global.proxy.excludeIPRanges"),
        "traffic.sidecar.istio.io/includeInboundPorts": (.portListOrWildcard, "global.proxy.includeInboundPorts"),
        "traffic.sidecar.istio.io/excludeInboundPorts": (.portList, "global.proxy.excludeInboundPorts"),
        "traffic.sidecar.istio.io/includeOutboundPorts": (.portList, "global.proxy.includeOutboundPorts"),
        "traffic.sidecar.istio.io/excludeOutboundPorts": (.portList, "global.proxy.excludeOutboundPorts"),
        "status.sidecar.istio.io/port": (.port, "global.proxy.statusPort"),
        "readiness.status.sidecar.istio.io/initialDelaySeconds": (.unsigned, "global.proxy.readinessInitialDelaySeconds"),
        "readiness.status.sidecar.istio.io/periodSeconds": (.unsigned, "global.proxy.readinessPeriodSeconds"),
        "readiness.status.sidecar.istio.io/failureThreshold": (.unsigned, "global.proxy.readinessFailureThreshold"),
        "prometheus.istio.io/merge-metrics": (.bool, "meshConfig.enablePrometheusMerge"),
    ]

    /// Throws for the first invalid annotation, with its location and field path.
    static func validate(_ annotations: YAMLNode?) throws {
        for pair in annotations?.pairs ?? [] {
            guard let name = pair.key.scalarText, let (_, setting) = rules[name] else { continue }
            let value = pair.value.scalarText ?? ""
            if let problem = problem(annotation: name, value: value) {
                throw InjectionError("invalid value '\(value)' for annotation '\(name)' (the per-pod form of \(setting)): \(problem)",
                                     location: pair.value.location, fieldPath: "metadata.annotations[\"\(name)\"]")
            }
        }
    }

    /// What is wrong with `value` for the injection annotation `name`; nil when it is valid or not one Istio checks.
    static func problem(annotation name: String, value: String) -> String? {
        guard let (rule, _) = rules[name] else { return nil }
        switch rule {
        case .interceptionMode:
            return ["REDIRECT", "TPROXY", "NONE"].contains(value) ? nil : "must be REDIRECT, TPROXY or NONE"
        case .cidrListOrWildcard:
            if value == "*" { return nil }
            return cidrProblem(value)
        case .cidrList:
            return cidrProblem(value)
        case .portListOrWildcard:
            if value == "*" { return nil }
            return portsProblem(value)
        case .portList:
            return portsProblem(value)
        case .port:
            guard let port = Int(value), (0...65535).contains(port) else { return "must be a port number from 0 to 65535" }
            return nil
        case .unsigned:
            guard let number = UInt32(value) else { return "must be a whole number of 0 or more" }
            _ = number
            return nil
        case .bool:
            return ["true", "false", "1", "0", "t", "f", "TRUE", "FALSE", "True", "False"].contains(value) ? nil : "must be true or false"
        }
    }

    private static func cidrProblem(_ value: String) -> String? {
        for item in value.split(separator: ",").map({ String($0).trimmed }) where !item.isEmpty {
            if !IPAddressText.isCIDR(item) { return "'\(item)' is not an IP range in CIDR form (e.g. 10.0.0.0/8); use a comma-separated list of them" }
        }
        return nil
    }

    private static func portsProblem(_ value: String) -> String? {
        for item in value.split(separator: ",").map({ String($0).trimmed }) where !item.isEmpty {
            guard let port = Int(item), (1...65535).contains(port) else {
                return "'\(item)' is not a port number from 1 to 65535; use a comma-separated list of ports"
            }
        }
        return nil
    }
}

/// Istio's Prometheus metrics merge: the app's `prometheus.io/*` annotations move into the proxy's
/// environment and the pod is scraped through the proxy's status port instead.
enum Prometheus {
    /// Prometheus reads `prometheus.io/scrape`, `prometheus.io.scrape` and `prometheus-io/scrape` alike.
    static func sanitized(_ name: String) -> String {
        String(name.map { $0.isASCII && ($0.isLetter || $0.isNumber) ? $0 : "_" })
    }

    static func value(_ suffix: String, in annotations: YAMLNode?) -> String? {
        annotations?.pairs?.first { sanitized($0.key.scalarText ?? "") == "prometheus_io_" + suffix }?.value.scalarText
    }

    static func port(in annotations: YAMLNode?) -> String? { value("port", in: annotations) }

    static let scrapeTargets = "prometheus.istio.io/scrape-targets"

    static func clearing(_ annotations: YAMLNode) -> YAMLNode {
        let names: Set<String> = ["prometheus_io_scrape", "prometheus_io_port", "prometheus_io_path"]
        return .mapping((annotations.pairs ?? []).filter { !names.contains(sanitized($0.key.scalarText ?? "")) })
    }

    static func merge(_ pod: YAMLNode, mesh: MeshConfiguration) -> YAMLNode {
        let annotations = pod["metadata"]?["annotations"] ?? .mapping([])
        if let scrape = value("scrape", in: annotations), let enabled = parseBool(scrape), !enabled { return pod }
        var mergeEnabled = mesh.enablePrometheusMerge
        if let setting = annotations["prometheus.istio.io/merge-metrics"]?.scalarText, let enabled = parseBool(setting) {
            mergeEnabled = enabled
        }
        guard mergeEnabled else { return pod }
        let target = String(mesh.statusPort)
        if port(in: annotations) == target { return pod }
        var result = pod
        // prometheus.istio.io/scrape-targets: "8080:/metrics,9100:/custom" lists several endpoints.
        let targets: [(String, String)] = (annotations[scrapeTargets]?.scalarText ?? "").split(separator: ",").compactMap { item in
            let parts = item.split(separator: ":", maxSplits: 1).map { String($0).trimmed }
            guard let port = parts.first, !port.isEmpty else { return nil }
            return (port, parts.count > 1 ? parts[1] : "")
        }
        var path = value("path", in: annotations), port = value("port", in: annotations)
        if let first = targets.first {
            if path == nil || path == "" { path = first.1 }
            if port == nil || port == "" { port = first.0 }
        }
        var scrape: [(String, TemplateValue)] = [("scrape", value("scrape", in: annotations)), ("path", path), ("port", port)]
            .compactMap { name, text in text.flatMap { $0.isEmpty ? nil : (name, TemplateValue.string($0)) } }
        if !targets.isEmpty {
            scrape.append(("targets", .list(targets.map { target in
                .object(OrderedData(value: .map(TemplateMap([("port", .string(target.0))] + (target.1.isEmpty ? [] : [("path", .string(target.1))])))))
            })))
        }
        if !scrape.isEmpty {
            let json = GoFormat.json(.object(OrderedData(value: .map(TemplateMap(scrape)))))
            result = PodInjection.updatingSidecar(result) { sidecar in
                sidecar["env"] = .sequence((sidecar["env"]?.items ?? []) +
                    [.mapping([("name", .string("ISTIO_PROMETHEUS_ANNOTATIONS")), ("value", .string(json))])])
            }
        }
        var updated = clearing(annotations)
        updated[scrapeTargets] = nil
        updated["prometheus.io/port"] = .string(target)
        updated["prometheus.io/path"] = .string("/stats/prometheus")
        updated["prometheus.io/scrape"] = .string("true")
        return SidecarInjector.setting(result, at: [.key("metadata"), .key("annotations")], to: updated)
    }

    static func parseBool(_ text: String) -> Bool? {
        switch text {
        case "1", "t", "T", "true", "TRUE", "True": return true
        case "0", "f", "F", "false", "FALSE", "False": return false
        default: return nil
        }
    }
}

/// Kubernetes probes of the application rewritten to go through the proxy's status port, with the
/// original probes in `ISTIO_KUBE_APP_PROBERS` for the agent to run.
enum AppProbes {
    static func rewrite(_ pod: YAMLNode, settings: InjectionSettings, mesh: MeshConfiguration) -> YAMLNode {
        let annotations = pod["metadata"]?["annotations"]
        var enabled = settings.value("sidecarInjectorWebhook", "rewriteAppHTTPProbe")?.bool ?? false
        if let text = annotations?["sidecar.istio.io/rewriteAppHTTPProbers"]?.scalarText, let value = Prometheus.parseBool(text) {
            enabled = value
        }
        guard enabled, PodInjection.container(PodInjection.proxyName, in: pod, field: "containers") != nil
                || PodInjection.container(PodInjection.proxyName, in: pod, field: "initContainers") != nil else { return pod }
        var result = pod
        let statusPort = mesh.statusPort
        if let probers = dump(pod, statusPort: statusPort) {
            let previouslyInjected = annotations?["sidecar.istio.io/status"] != nil
            result = PodInjection.updatingSidecar(result) { sidecar in
                var env = sidecar["env"]?.items ?? []
                if previouslyInjected, let index = env.firstIndex(where: { $0["name"]?.scalarText == "ISTIO_KUBE_APP_PROBERS" }),
                   let old = try? YAMLParser.parse(env[index]["value"]?.scalarText ?? "{}").first?.root,
                   let new = try? YAMLParser.parse(probers).first?.root {
                    var merged = TemplateMap()
                    for pair in (new.pairs ?? []) + (old.pairs ?? []) {
                        merged[pair.key.scalarText ?? ""] = proberValue(pair.value)
                    }
                    env[index] = .mapping([("name", .string("ISTIO_KUBE_APP_PROBERS")), ("value", .string(GoFormat.json(.map(merged))))])
                } else {
                    env.append(.mapping([("name", .string("ISTIO_KUBE_APP_PROBERS")), ("value", .string(probers))]))
                }
                sidecar["env"] = .sequence(env)
            }
        }
        var port = statusPort
        if let text = annotations?["status.sidecar.istio.io/port"]?.scalarText { port = Int(text) ?? 0 }
        for field in ["containers", "initContainers"] {
            guard let items = result["spec"]?[field]?.items else { continue }
            result = SidecarInjector.setting(result, at: [.key("spec"), .key(field)], to: .sequence(items.map { container in
                guard let name = container["name"]?.scalarText, name != PodInjection.proxyName else { return container }
                return convert(container, name: name, port: port)
            }))
        }
        return result
    }

    private static func proberValue(_ node: YAMLNode) -> TemplateValue {
        GoStructJSON.value(.mapping((node.pairs ?? []).map { YAMLPair(key: $0.key, value: $0.value) }), key: "prober")
    }

    private static func convert(_ container: YAMLNode, name: String, port: Int) -> YAMLNode {
        var copy = container
        for (field, suffix) in [("readinessProbe", "readyz"), ("livenessProbe", "livez"), ("startupProbe", "startupz")] {
            guard var probe = copy[field], let rewritten = rewriteHandler(&probe, url: "/app-health/\(name)/\(suffix)", port: port, grpc: true),
                  rewritten else { continue }
            copy[field] = probe
        }
        if var lifecycle = copy["lifecycle"] {
            for (field, suffix) in [("preStop", "prestopz"), ("postStart", "poststartz")] {
                guard var handler = lifecycle[field], rewriteHandler(&handler, url: "/app-lifecycle/\(name)/\(suffix)", port: port, grpc: false) == true
                else { continue }
                lifecycle[field] = handler
            }
            copy["lifecycle"] = lifecycle
        }
        return copy
    }

    /// Points an httpGet, tcpSocket (or grpc) handler at the agent; true when it changed.
    private static func rewriteHandler(_ handler: inout YAMLNode, url: String, port: Int, grpc: Bool) -> Bool? {
        if var http = handler["httpGet"] {
            http["port"] = .int(port)
            http["path"] = .string(url)
            if http["scheme"]?.scalarText == "HTTPS" { http["scheme"] = .string("HTTP") }
            handler["httpGet"] = http
            return true
        }
        if handler["tcpSocket"] != nil || (grpc && handler["grpc"] != nil) {
            handler["tcpSocket"] = nil
            handler["grpc"] = nil
            handler["httpGet"] = .mapping([("path", .string(url)), ("port", .int(port))])
            return true
        }
        return nil
    }

    /// `ISTIO_KUBE_APP_PROBERS`: each app probe by its agent URL, named ports resolved to numbers.
    static func dump(_ pod: YAMLNode, statusPort: Int) -> String? {
        let included = includedPorts(pod["metadata"]?["annotations"])
        var probers = TemplateMap()
        let containers = (pod["spec"]?["initContainers"]?.items ?? []) + (pod["spec"]?["containers"]?.items ?? [])
        for container in containers {
            guard let name = container["name"]?.scalarText, name != PodInjection.proxyName else { continue }
            let ports = container["ports"]?.items ?? []
            func resolve(_ probe: YAMLNode?, lifecycle: Bool) -> TemplateValue? {
                guard let probe else { return nil }
                var prober: [(String, YAMLNode)] = []
                var portNode: YAMLNode?
                var key = ""
                if let http = probe["httpGet"] { key = "httpGet"; portNode = http["port"]; prober.append(("httpGet", http)) }
                else if let tcp = probe["tcpSocket"] { key = "tcpSocket"; portNode = tcp["port"]; prober.append(("tcpSocket", tcp)) }
                else if !lifecycle, let grpcAction = probe["grpc"] {
                    let port = grpcAction["port"]?.int ?? 0
                    if !included.isEmpty && !included.contains(port) { return nil }
                    prober.append(("grpc", grpcAction))
                    if let timeout = probe["timeoutSeconds"], timeout.int != 0 { prober.append(("timeoutSeconds", timeout)) }
                    return GoStructJSON.value(.mapping(prober), key: "prober")
                } else { return nil }
                var number: Int
                if let text = portNode?.string {
                    if let named = ports.first(where: { $0["name"]?.scalarText == text })?["containerPort"]?.int {
                        number = named
                    } else {
                        number = Int(text) ?? 0
                    }
                } else {
                    number = portNode?.int ?? 0
                    if number == statusPort && key == "httpGet" && portNode?.int == statusPort { }
                }
                if !included.isEmpty && !included.contains(number) { return nil }
                var action = prober[0].1
                action["port"] = .int(number)
                prober[0].1 = action
                if !lifecycle, let timeout = probe["timeoutSeconds"], timeout.int != 0 { prober.append(("timeoutSeconds", timeout)) }
                return GoStructJSON.value(.mapping(prober), key: "prober")
            }
            let health = "/app-health/\(name)/", lifecycle = "/app-lifecycle/\(name)/"
            if let value = resolve(container["readinessProbe"], lifecycle: false) { probers[health + "readyz"] = value }
            if let value = resolve(container["livenessProbe"], lifecycle: false) { probers[health + "livez"] = value }
            if let value = resolve(container["startupProbe"], lifecycle: false) { probers[health + "startupz"] = value }
            if let value = resolve(container["lifecycle"]?["preStop"], lifecycle: true) { probers[lifecycle + "prestopz"] = value }
            if let value = resolve(container["lifecycle"]?["postStart"], lifecycle: true) { probers[lifecycle + "poststartz"] = value }
        }
        return probers.isEmpty ? nil : GoFormat.json(.map(probers))
    }

    /// Ports the proxy captures inbound; empty means all.
    private static func includedPorts(_ annotations: YAMLNode?) -> Set<Int> {
        guard let annotations else { return [] }
        if let include = annotations["traffic.sidecar.istio.io/includeInboundPorts"]?.scalarText, !include.isEmpty {
            if include == "*" { return [] }
            return Set(include.split(separator: ",").compactMap { Int(String($0).trimmed) })
        }
        return []
    }
}

/// `OTEL_RESOURCE_ATTRIBUTES` for the proxy when an OpenTelemetry provider asks for Kubernetes
/// semantic conventions: the service's namespace, version and instance id, as the OpenTelemetry
/// conventions for Kubernetes derive them.
enum OpenTelemetry {
    /// Arguments: the mesh config, the pod's annotations, its labels, its namespace, its containers.
    static func resourceAttributes(_ args: [TemplateValue]) -> String {
        guard args.count == 5, case .object(let mesh) = args[0], let meshNode = (mesh as? ProtoMessage)?.node else { return "" }
        let wantsConventions = (meshNode["extensionProviders"]?.items ?? []).contains {
            $0["opentelemetry"]?["serviceAttributeEnrichment"]?.scalarText == "OTEL_SEMANTIC_CONVENTIONS"
        }
        guard wantsConventions else { return "" }
        func lookup(_ map: TemplateValue, _ key: String) -> String? {
            guard case .map(let values) = map, let value = values[key]?.stringValue, !value.isEmpty else { return nil }
            return value
        }
        let annotations = args[1], labels = args[2]
        var namespace = args[3].stringValue ?? ""
        if namespace.isEmpty { namespace = "default" }
        var attributes: [String] = []
        let serviceNamespace = lookup(annotations, "resource.opentelemetry.io/service.namespace") ?? namespace
        attributes.append("service.namespace=\(serviceNamespace)")
        if let version = lookup(annotations, "resource.opentelemetry.io/service.version") ?? lookup(labels, "app.kubernetes.io/version") {
            attributes.append("service.version=\(version)")
        }
        var container = ""
        if case .list(let containers) = args[4] {
            for item in containers {
                guard case .object(let object) = item, let name = object.field("Name")?.stringValue, name != "istio-proxy" else { continue }
                container = name
                break
            }
        }
        let instance = lookup(annotations, "resource.opentelemetry.io/service.instance.id") ?? "\(namespace).$(POD_NAME).\(container)"
        attributes.append("service.instance.id=\(instance)")
        return attributes.joined(separator: ",")
    }
}
