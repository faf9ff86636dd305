/// Adds the Istio sidecar to Kubernetes manifests as Istio's injector does: renders the injection
/// templates for each workload's pod, merges them into the pod, and applies Istio's post-processing.
public struct SidecarInjector: Sendable {
    public let settings: InjectionSettings

    public init(settings: InjectionSettings) {
        self.settings = settings
    }

    /// What injecting a stream gave: the output text and the warnings for the user.
    public struct Result: Sendable {
        public var output: String
        public var warnings: [String]
    }

    /// Workload kinds by API version, as the injector knows them; other documents pass through as text.
    static let workloadKinds: [String: Set<String>] = [
        "v1": ["Pod", "ReplicationController", "List", "DeploymentConfig"],
        "apps/v1": ["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"],
        "batch/v1": ["Job", "CronJob"],
        "apps.openshift.io/v1": ["DeploymentConfig"],
    ]

    /// Injects every workload of a YAML stream; other documents are copied through unchanged.
    public func inject(_ text: String, file: String?) throws -> Result {
        var output = ""
        var warnings: [String] = []
        for chunk in Self.documents(of: text) {
            if let injected = try injectDocument(chunk.text, file: file, firstLine: chunk.line, warnings: &warnings) {
                output += YAMLEmitter(keyOrder: .sorted).emit(injected)
            } else {
                output += chunk.text
            }
            output += "---\n"
        }
        return Result(output: output, warnings: warnings)
    }

    /// The documents of a stream, split at `---` lines the way Kubernetes' YAML reader splits them
    /// (empty documents dropped), each with its first line number.
    static func documents(of text: String) -> [(text: String, line: Int)] {
        var result: [(String, Int)] = []
        var current = ""
        var start = 1
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let endsWithNewline = text.hasSuffix("\n")
        if endsWithNewline { lines.removeLast() }
        for (offset, line) in lines.enumerated() {
            let lineNumber = offset + 1
            if line.hasPrefix("---"), line.dropFirst(3).allSatisfy({ $0 == " " || $0 == "\t" || $0 == "\r" }) {
                if !current.isEmpty { result.append((current, start)) }
                current = ""
                start = lineNumber + 1
                continue
            }
            current += line
            if offset < lines.count - 1 || endsWithNewline { current += "\n" }
        }
        if !current.isEmpty { result.append((current, start)) }
        return result
    }

    /// The injected document, or nil when it is not a workload and passes through as it is.
    func injectDocument(_ text: String, file: String?, firstLine: Int, warnings: inout [String]) throws -> YAMLNode? {
        let root: YAMLNode
        do {
            guard let parsed = try YAMLParser.parse(text, file: file).first?.root else { return nil }
            root = parsed
        } catch var error {
            error.location.line += firstLine - 1
            error.contextLocation?.line += firstLine - 1
            throw error
        }
        guard let kind = root["kind"]?.string, let apiVersion = root["apiVersion"]?.string,
              Self.workloadKinds[apiVersion]?.contains(kind) == true else { return nil }
        do {
            return try injectObject(root, kind: kind, warnings: &warnings)
        } catch var error as InjectionError {
            error.location?.line += firstLine - 1
            throw error
        }
    }

    /// Injects one workload object (a `List`'s items one by one).
    /// Injects one workload object (a Pod as the admission webhook sees it, or a workload with a pod template);
    /// returns the object and any warnings. Objects the injector skips come back unchanged.
    public func inject(object: YAMLNode) throws -> (object: YAMLNode, warnings: [String]) {
        guard let kind = object["kind"]?.string else { return (object, []) }
        var warnings: [String] = []
        let admitted = kind == "Pod" && settings.openShift ? Self.withoutCopiedProxyUser(object) : object
        return (try injectObject(admitted, kind: kind, warnings: &warnings), warnings)
    }

    /// On OpenShift, which gives every container of a pod the same user, a Pod whose istio-proxy container
    /// runs as the application's user gets that proxy user (and group) dropped before the webhook injects it,
    /// so the template's proxy user applies and traffic interception can tell the proxy from the app.
    /// A proxy user that differs from the application's was chosen on purpose and stays.
    static func withoutCopiedProxyUser(_ pod: YAMLNode) -> YAMLNode {
        guard let spec = pod["spec"] else { return pod }
        let containers = (spec["containers"]?.items ?? []) + (spec["initContainers"]?.items ?? [])
        var proxyUser = 0, appUser = 0
        for container in containers {
            let user = container["securityContext"]?["runAsUser"]?.int
            switch container["name"]?.scalarText {
            case PodInjection.proxyName: if let user { proxyUser = user }
            case PodInjection.validationName, PodInjection.initName: break
            default: if let user { appUser = user }
            }
        }
        guard proxyUser == appUser else { return pod }
        var result = pod
        for field in ["containers", "initContainers"] {
            guard let items = spec[field]?.items,
                  let index = items.firstIndex(where: { $0["name"]?.scalarText == PodInjection.proxyName }),
                  var security = items[index]["securityContext"], security.pairs != nil else { continue }
            security["runAsUser"] = nil
            security["runAsGroup"] = nil
            var updated = items
            updated[index]["securityContext"] = security
            result["spec"]?[field] = .sequence(updated)
            break
        }
        return result
    }

    func injectObject(_ object: YAMLNode, kind: String, warnings: inout [String]) throws -> YAMLNode {
        if kind == "List" {
            var list = object
            if let items = object["items"]?.items {
                list["items"] = .sequence(try items.map { item in
                    guard let itemKind = item["kind"]?.string, let version = item["apiVersion"]?.string,
                          Self.workloadKinds[version]?.contains(itemKind) == true, itemKind != "List" else { return item }
                    return try injectObject(item, kind: itemKind, warnings: &warnings)
                })
            }
            if list["metadata"] == nil { list["metadata"] = .mapping([]) }
            return list
        }

        let metadataPath: [YAMLPathComponent]
        let specPath: [YAMLPathComponent]
        switch kind {
        case "Pod":
            metadataPath = [.key("metadata")]
            specPath = [.key("spec")]
        case "CronJob":
            metadataPath = [.key("spec"), .key("jobTemplate"), .key("metadata")]
            specPath = [.key("spec"), .key("jobTemplate"), .key("spec"), .key("template"), .key("spec")]
        default:
            metadataPath = [.key("spec"), .key("template"), .key("metadata")]
            specPath = [.key("spec"), .key("template"), .key("spec")]
        }
        let metadata = object.value(at: metadataPath) ?? .mapping([])
        let spec = object.value(at: specPath) ?? .mapping([])

        var typeMeta = YAMLNode.mapping([("kind", .string(kind)), ("apiVersion", object["apiVersion"] ?? .string(""))])
        var deployMeta = YAMLNode.mapping([("name", object["metadata"]?["name"] ?? .string("")),
                                           ("namespace", object["metadata"]?["namespace"] ?? .string(""))])
        if kind == "Pod" { (deployMeta, typeMeta) = Self.deploymentMeta(ofPod: metadata) }
        let name = metadata["name"]?.scalarText.flatMap { $0.isEmpty ? nil : $0 } ?? deployMeta["name"]?.scalarText ?? ""
        let namespace = deployMeta["namespace"]?.scalarText ?? ""
        let fullName = namespace.isEmpty ? name : "\(namespace)/\(name)"

        if spec["hostNetwork"]?.bool == true {
            warnings.append("===> Skipping injection because \(kind) \"\(fullName)\" has host networking enabled")
            return finish(object, kind: kind)
        }
        var mesh = settings.mesh
        if let proxyConfig = metadata["annotations"]?["proxy.istio.io/config"]?.scalarText {
            mesh = try mesh.applyingProxyConfig(proxyConfig)
        }
        if !Self.injectionRequired(metadata: metadata) {
            warnings.append("===> Skipping injection because \(kind) \"\(fullName)\" has sidecar injection disabled")
            return finish(object, kind: kind)
        }

        let pod = YAMLNode.mapping([("metadata", metadata), ("spec", spec)])
        let injected: YAMLNode
        do {
            injected = try PodInjection(settings: settings, mesh: mesh, pod: pod, typeMeta: typeMeta, deployMeta: deployMeta).run()
        } catch var error as InjectionError {
            // Field paths from the pod are relative to its metadata; make them relative to the document.
            if let path = error.fieldPath, path.hasPrefix("metadata.") {
                error.fieldPath = metadataPath.fieldPath + path.dropFirst("metadata".count)
            }
            throw error
        }
        var result = object
        result = Self.setting(result, at: metadataPath, to: injected["metadata"] ?? .mapping([]))
        result = Self.setting(result, at: specPath, to: injected["spec"] ?? .mapping([]))
        return finish(result, kind: kind)
    }

    /// The object as Kubernetes' API types write it back.
    private func finish(_ object: YAMLNode, kind: String) -> YAMLNode {
        var node = KubeRoundTrip.normalize(object, kind: kind)
        let templatePath: [YAMLPathComponent] = kind == "CronJob"
            ? [.key("spec"), .key("jobTemplate"), .key("spec"), .key("template")]
            : [.key("spec"), .key("template")]
        if kind == "Pod" {
            let pod = KubeRoundTrip.normalizePodTemplate(node)
            node["spec"] = pod["spec"]
        } else if let template = node.value(at: templatePath) {
            node = Self.setting(node, at: templatePath, to: KubeRoundTrip.normalizePodTemplate(template))
            if kind == "CronJob", node.value(at: [.key("spec"), .key("jobTemplate"), .key("metadata")]) == nil {
                node = Self.setting(node, at: [.key("spec"), .key("jobTemplate"), .key("metadata")], to: .mapping([]))
            }
        }
        return Self.canonicalQuantities(node, key: nil)
    }

    /// Resource quantities in their canonical form (`2000m` → `"2"`).
    static func canonicalQuantities(_ node: YAMLNode, key: String?) -> YAMLNode {
        switch node.content {
        case .mapping(let pairs):
            return .mapping(pairs.map { pair in
                let name = pair.key.scalarText
                if name == "limits" || name == "requests" || name == "overhead", let entries = pair.value.pairs {
                    return YAMLPair(key: pair.key, value: .mapping(entries.map { entry in
                        let text = entry.value.scalarText ?? ""
                        return YAMLPair(key: entry.key, value: .string(Quantity.canonical(text) ?? text))
                    }))
                }
                if name == "divisor" || name == "sizeLimit", let text = pair.value.scalarText {
                    return YAMLPair(key: pair.key, value: .string(Quantity.canonical(text) ?? text))
                }
                return YAMLPair(key: pair.key, value: canonicalQuantities(pair.value, key: name))
            }, at: node.location)
        case .sequence(let items):
            return .sequence(items.map { canonicalQuantities($0, key: key) }, at: node.location)
        case .scalar:
            return node
        }
    }

    static func setting(_ node: YAMLNode, at path: [YAMLPathComponent], to value: YAMLNode) -> YAMLNode {
        guard case .key(let first)? = path.first else { return value }
        var copy = node
        if copy.pairs == nil { copy = .mapping([]) }
        copy[first] = setting(copy[first] ?? .mapping([]), at: Array(path.dropFirst()), to: value)
        return copy
    }

    /// `sidecar.istio.io/inject`: the label wins over the annotation; anything but "false" injects.
    static func injectionRequired(metadata: YAMLNode) -> Bool {
        var selector = metadata["annotations"]?["sidecar.istio.io/inject"]?.scalarText ?? ""
        if let label = metadata["labels"]?["sidecar.istio.io/inject"]?.scalarText { selector = label }
        return selector != "false"
    }

    /// For a bare pod: its controller's name and kind when the name was generated, else its own.
    static func deploymentMeta(ofPod metadata: YAMLNode) -> (YAMLNode, YAMLNode) {
        var name = metadata["name"]?.scalarText ?? ""
        var kind = "Pod", apiVersion = "v1"
        if let generated = metadata["generateName"]?.scalarText, !generated.isEmpty,
           let controller = metadata["ownerReferences"]?.items?.first(where: { $0["controller"]?.bool == true }) {
            apiVersion = controller["apiVersion"]?.scalarText ?? ""
            kind = controller["kind"]?.scalarText ?? ""
            name = controller["name"]?.scalarText ?? ""
            let hash = metadata["labels"]?["pod-template-hash"]?.scalarText ?? ""
            if kind == "ReplicaSet", !hash.isEmpty, name.hasSuffix(hash) {
                name = String(name.dropLast(hash.count + 1))
                kind = "Deployment"
            } else if kind == "ReplicationController", let config = metadata["labels"]?["deploymentconfig"]?.scalarText, !config.isEmpty {
                name = config
                kind = "DeploymentConfig"
                apiVersion = "apps.openshift.io/v1"
            } else if kind == "Job", let dash = name.lastIndex(of: "-") {
                let suffix = name[name.index(after: dash)...]
                if (8...10).contains(suffix.count), suffix.allSatisfy({ $0.isASCII && $0.isNumber }) {
                    name = String(name[..<dash])
                    kind = "CronJob"
                    apiVersion = "batch/v1"
                }
            }
        }
        if name.isEmpty { name = metadata["name"]?.scalarText ?? "" }
        return (.mapping([("name", .string(name)), ("namespace", metadata["namespace"] ?? .string(""))]),
                .mapping([("kind", .string(kind)), ("apiVersion", .string(apiVersion))]))
    }
}

/// An injection failure that names what is wrong and, for bad input, where.
public struct InjectionError: Error, Sendable, CustomStringConvertible {
    public var message: String
    /// Where in the file the offending field is, when known.
    public var location: SourceLocation?
    /// The offending field, e.g. `spec.template.metadata.annotations["sidecar.istio.io/interceptionMode"]`.
    public var fieldPath: String?

    public init(_ message: String, location: SourceLocation? = nil, fieldPath: String? = nil) {
        self.message = message
        self.location = location
        self.fieldPath = fieldPath
    }

    /// `line:column: field: message`, as much of it as is known.
    public var description: String {
        var text = ""
        if let location { text += "\(location.line):\(location.column): " }
        if let fieldPath { text += "\(fieldPath): " }
        return text + message
    }
}
