/// Namespaces not labelled for injection (IST0102, or IST0148 when the injector enables every namespace),
/// namespaces with more than one kind of injection label (IST0123), and running pods that should have the
/// proxy but do not (IST0103).
struct InjectionAnalyzer: Analyzer {
    let name = "injection.Analyzer"
    let summary = "Checks namespaces' injection labels and that pods in injected namespaces have the proxy"

    /// `sidecarInjectorWebhook.enableNamespacesByDefault` from the injector ConfigMap's values, if present.
    static func namespacesEnabledByDefault(_ input: AnalysisInput) -> Bool {
        let configMaps = input.resources("ConfigMap", group: "").filter { $0.name.hasPrefix("istio-sidecar-injector") }
        return configMaps.contains { $0.injectorValues?["sidecarInjectorWebhook"]?["enableNamespacesByDefault"]?.scalarText == "true" }
    }

    func analyze(_ input: AnalysisInput) -> [AnalysisMessage] {
        var messages: [AnalysisMessage] = []
        let byDefault = Self.namespacesEnabledByDefault(input)
        var injected: Set<String> = []
        for namespace in input.resources("Namespace", group: "") {
            if ServicePortNameAnalyzer.systemNamespaces.contains(namespace.name) || namespace.name == input.istioNamespace { continue }
            let labels = namespace.labels
            let injection = labels["istio-injection"]
            if injection == "disabled" { continue }
            var kinds: [String] = []
            if injection != nil { kinds.append("istio-injection") }
            if labels["istio.io/rev"] != nil { kinds.append("istio.io/rev") }
            if labels["istio.io/dataplane-mode"] == "ambient" { kinds.append("istio.io/dataplane-mode") }
            if kinds.count > 1 {
                messages.append(.namespaceMultipleInjectionLabels(namespace, labels: kinds))
                continue
            }
            if namespace.injectionRevision != nil { injected.insert(namespace.name) }
            guard kinds.isEmpty else { continue }
            if byDefault {
                injected.insert(namespace.name)
                messages.append(.namespaceInjectionEnabledByDefault(namespace))
            } else {
                messages.append(.namespaceNotInjected(namespace))
            }
        }
        guard input.podsAreRunning else { return messages }
        for pod in input.resources("Pod", group: "") where injected.contains(pod.namespaceOrEmpty) {
            let label = pod.labels["sidecar.istio.io/inject"], annotation = pod.annotations["sidecar.istio.io/inject"]
            if (label ?? annotation) == "false" || pod.spec?["hostNetwork"]?.scalarText == "true" { continue }
            if pod.sidecarProxy != nil { continue }
            messages.append(.podMissingProxy(pod))
        }
        return messages
    }
}

/// Running proxies whose image differs from the one the namespace's injector would give them now,
/// typically after a control-plane upgrade (IST0158, once per namespace).
struct InjectionImageAnalyzer: Analyzer {
    let name = "injection.ImageAnalyzer"
    let summary = "Checks that running proxies use the image the injector currently gives their namespace"

    /// The injector ConfigMaps' values by revision ("" for the default injector).
    static func injectorValues(_ input: AnalysisInput) -> [String: YAMLNode] {
        var values: [String: YAMLNode] = [:]
        for configMap in input.resources("ConfigMap", group: "") where configMap.namespaceOrEmpty == input.istioNamespace {
            guard configMap.name == "istio-sidecar-injector" || configMap.name.hasPrefix("istio-sidecar-injector-"),
                  let parsed = configMap.injectorValues else { continue }
            values[String(configMap.name.dropFirst("istio-sidecar-injector".count).drop { $0 == "-" })] = parsed
        }
        return values
    }

    /// The proxy image type for a pod: its annotation, else the most specific ProxyConfig, else the mesh config.
    static func imageType(of pod: AnalyzedResource, _ input: AnalysisInput) -> String? {
        if let annotation = pod.annotations["proxy.istio.io/config"], let config = try? YAMLParser.parse(annotation).first?.root,
           let type = config["image"]?["imageType"]?.scalarText {
            return type
        }
        let proxyConfigs = input.resources("ProxyConfig", group: "networking.istio.io")
        let workload = proxyConfigs.first { config in
            let selector = AnalyzedResource.stringMap(config.spec?["selector"]?["matchLabels"])
            return config.namespaceOrEmpty == pod.namespaceOrEmpty && !selector.isEmpty && pod.isSelected(by: selector)
        }
        let namespaceWide = proxyConfigs.first { $0.namespaceOrEmpty == pod.namespaceOrEmpty && $0.spec?["selector"] == nil }
        let meshWide = proxyConfigs.first { $0.namespaceOrEmpty == input.istioNamespace && $0.spec?["selector"] == nil }
        for config in [workload, namespaceWide, meshWide].compactMap({ $0 }) {
            if let type = config.spec?["image"]?["imageType"]?.scalarText { return type }
        }
        return input.meshConfig?["defaultConfig"]?["image"]?["imageType"]?.scalarText
    }

    /// The image the injector writes: `global.proxy.image` when it is a full reference, else hub/image:tag,
    /// with `-<type>` for an image type other than the default.
    static func expectedImage(_ values: YAMLNode, imageType: String?) -> String? {
        let global = values["global"]
        guard let image = global?["proxy"]?["image"]?.scalarText else { return nil }
        let suffix = imageType.map { $0 == "default" || $0.isEmpty ? "" : "-\($0)" } ?? ""
        if image.contains("/") { return image + suffix }
        guard let hub = global?["hub"]?.scalarText, let tag = global?["tag"]?.scalarText else { return nil }
        return "\(hub)/\(image):\(tag)\(suffix)"
    }

    func analyze(_ input: AnalysisInput) -> [AnalysisMessage] {
        guard input.podsAreRunning else { return [] }
        let injectors = Self.injectorValues(input)
        guard !injectors.isEmpty else { return [] }
        let pods = input.resources("Pod", group: "")
        var messages: [AnalysisMessage] = []
        for namespace in input.resources("Namespace", group: "") {
            guard let revision = namespace.injectionRevision, let values = injectors[revision] else { continue }
            var stale: [String] = []
            for pod in pods where pod.namespaceOrEmpty == namespace.name && pod.annotations["sidecar.istio.io/proxyImage"] == nil {
                // A pod that kept the default image type when a variant is configured is not stale: only the version counts then.
                guard let proxy = pod.sidecarProxy?["image"]?.scalarText,
                      let plain = Self.expectedImage(values, imageType: nil) else { continue }
                let variant = Self.expectedImage(values, imageType: Self.imageType(of: pod, input)) ?? plain
                if proxy != plain && proxy != variant { stale.append(pod.name) }
            }
            if !stale.isEmpty {
                messages.append(.podsIstioProxyImageMismatchInNamespace(namespace, pods: stale))
            }
        }
        return messages
    }
}
