import EnvoyConfig
import KubeClient
import Manifests

/// `meshctl x describe pod|service NAME`: a pod or Service and the Istio configuration that applies to it.
struct DescribeCommand: MeshCommand {
    static var spec: CommandSpec {
        CommandSpec(
            name: "describe",
            abstract: "Describe resource and related Istio configuration: a pod's or Service's ports, protocols and routes",
            discussion: """
            x describe pod POD[.NS]: the pod's sidecar revision and ports, the Services that select it (each port's
            protocol as Istio reads it), and per port the DestinationRule its proxy applies (the subsets the pod
            matches, or a warning that it matches none; TLS mode and policies) and the VirtualService routes that
            reach it (destinations, weights, match conditions, routes to subsets the pod is not in); the effective
            PeerAuthentication mode (mesh, namespace, workload, port) and what clients send (the DestinationRule's
            TLS mode, else auto mTLS); the ingress gateways whose Gateway a VirtualService binds, with the address.
            The DestinationRule and VirtualService are the ones named in the proxy's config dump, read from the cluster;
            when the proxy's admin port does not answer, the cluster's for the Service's host, with a warning.
            x describe service SVC[.NS]: the same for the Service, read through its first ready sidecar pod.
            """,
            examples: [
                Example("A pod", "meshctl x describe pod productpage-v1-6b746f74dc-9stvs -n default"),
                Example("A Service", "meshctl x describe service productpage.default"),
            ],
            aliases: ["des"],
            flags: [FlagSpec("proxy-admin-port", valueName: "int", help: "The Envoy admin port of the pod", default: "15000")],
            arguments: [ArgumentSpec("pod|service", help: "What to describe", optional: true),
                        ArgumentSpec("NAME[.NAMESPACE]", help: "Its name", optional: true)])
    }

    let kind: String?
    let name: String?
    let adminPort: Int
    let commandPath: String

    init(_ invocation: Invocation) throws {
        kind = invocation.arguments.first
        name = invocation.arguments.dropFirst().first
        adminPort = try invocation.int("proxy-admin-port") ?? 15000
        commandPath = invocation.pathText
    }

    static let podKinds: Set<String> = ["pod", "pods", "po"]
    static let serviceKinds: Set<String> = ["service", "services", "svc"]

    func validate() throws {
        guard let kind else { return }
        guard Self.podKinds.contains(kind) || Self.serviceKinds.contains(kind) else {
            throw UsageError(problem: "unknown resource type \"\(kind)\": use pod or service", commandPath: commandPath)
        }
        if name == nil { throw UsageError(problem: "expecting \(Self.podKinds.contains(kind) ? "pod" : "service") name", commandPath: commandPath) }
    }

    /// `NAME` (in the default namespace) or `NAME.NAMESPACE`; an empty part is a usage error.
    static func nameAndNamespace(_ text: String, defaultNamespace: String) throws -> (name: String, namespace: String) {
        guard let dot = text.firstIndex(of: ".") else { return (text, defaultNamespace) }
        let (name, namespace) = (String(text[..<dot]), String(text[text.index(after: dot)...]))
        guard !name.isEmpty, !namespace.isEmpty else {
            throw UsageError(problem: "\"\(text)\" is not NAME or NAME.NAMESPACE", commandPath: "meshctl x describe")
        }
        return (name, namespace)
    }

    func run(_ context: CommandContext) throws {
        guard let kind, let name else { return context.stdout.write(HelpRenderer.render(Self.spec, path: ["meshctl", "x", Self.spec.name])) }
        let client = try ClusterConnection.client(context)
        let (objectName, namespace) = try Self.nameAndNamespace(name, defaultNamespace: client.access.namespace)
        let services = try ClusterConnection.call { try client.list("/api/v1/namespaces/\(KubernetesClient.percentEncoded(namespace))/services") }
        let pods = try ClusterConnection.call { try client.list("/api/v1/namespaces/\(KubernetesClient.percentEncoded(namespace))/pods") }
        var report = DescribeReport(client: client, describeNamespace: client.access.namespace, adminPort: adminPort)
        defer {
            context.stdout.write(report.text)
            for warning in report.warnings { context.stderr.write(warning + "\n") }
        }
        if Self.podKinds.contains(kind) {
            guard let pod = pods.first(where: { $0["metadata"]?["name"]?.string == objectName }) else {
                throw CommandFailure("pods \"\(objectName)\" not found in namespace \(namespace)")
            }
            try describe(pod: pod, services: services, into: &report, istioNamespace: context.global.istioNamespace)
        } else {
            guard let service = services.first(where: { $0["metadata"]?["name"]?.string == objectName }) else {
                throw CommandFailure("services \"\(objectName)\" not found in namespace \(namespace)")
            }
            try describe(service: service, pods: pods, into: &report)
        }
    }

    /// The Service's ready sidecar pods, then what the first one's proxy applies to the Service and the ingress
    /// gateways exposing it.
    private func describe(service: JSONValue, pods: [JSONValue], into report: inout DescribeReport) throws {
        let selected = pods.filter { Self.selects(service, $0) }
        var ready: [JSONValue] = []
        for pod in selected {
            let phase = pod["status"]?["phase"]?.string ?? ""
            guard phase == "Running" else {
                report.write(3, "Pod \(report.kname(pod)) is not Running (\(phase))")
                continue
            }
            guard let status = Self.proxyStatus(pod) else {
                report.write(0, "Pod \(report.kname(pod)): no istio-proxy container status (is the sidecar injected?)")
                continue
            }
            guard status["ready"]?.bool == true else {
                report.write(0, "WARNING: Pod \(report.kname(pod)) Container istio-proxy NOT READY")
                continue
            }
            ready.append(pod)
        }
        guard let first = ready.first else {
            if selected.isEmpty { return report.write(0, "Service \"\(report.kname(service))\" has no pods.") }
            report.write(0, "Service \"\(report.kname(service))\" has no Istio pods.  (\(selected.count) pods in service).")
            return report.write(0, "Use `meshctl kube-inject` or redeploy with Istio automatic sidecar injection.")
        }
        let podsLabels = ready.map(\.labelMap)
        try report.describeServices([service], pod: first, podsLabels: podsLabels)
        try report.describeIngress([service], podsLabels: podsLabels)
    }

    /// The istio-proxy container's status (also as an init container, a native sidecar).
    static func proxyStatus(_ pod: JSONValue) -> JSONValue? {
        ((pod["status"]?["containerStatuses"]?.array ?? []) + (pod["status"]?["initContainerStatuses"]?.array ?? []))
            .first { $0["name"]?.string == "istio-proxy" }
    }

    /// The pod, the Services selecting it and what its proxy applies to them, its mTLS, and the ingress gateways.
    private func describe(pod: JSONValue, services: [JSONValue], into report: inout DescribeReport, istioNamespace: String) throws {
        let name = pod["metadata"]?["name"]?.string ?? "", namespace = pod["metadata"]?["namespace"]?.string ?? ""
        report.write(0, "Pod: \(report.kname(pod))")
        report.write(3, "Pod Revision: \(WorkloadFacts.revision(annotations: pod["metadata"]?["annotations"]?.stringMap ?? [:]))")
        let ports = (pod["spec"]?["containers"]?.array ?? []).flatMap { container in
            (container["ports"]?.array ?? []).compactMap { port -> String? in
                guard let number = port["containerPort"]?.int else { return nil }
                let proto = port["protocol"]?.string ?? "TCP"
                return "\(number)\(proto == "TCP" ? "" : "/" + proto) (\(container["name"]?.string ?? ""))"
            }
        }
        report.write(3, ports.isEmpty ? "Pod does not expose ports" : "Pod Ports: \(ports.joined(separator: ", "))")
        let phase = pod["status"]?["phase"]?.string ?? ""
        guard phase == "Running" else {
            report.write(3, "Pod is not Running (\(phase))")
            throw CommandFailure("pod \(name).\(namespace) is not running (\(phase)), so its proxy cannot be read: kubectl describe pod \(name) -n \(namespace) says why")
        }
        for (list, what) in [("containerStatuses", "Container"), ("initContainerStatuses", "Init Container")] {
            for status in pod["status"]?[list]?.array ?? [] where status["ready"]?.bool != true {
                report.write(0, "WARNING: Pod \(report.kname(pod)) \(what) \(status["name"]?.string ?? "") NOT READY")
            }
        }
        guard AnalyzedResource.sidecarProxy(inPodSpec: pod["spec"]?.yamlNode) != nil else {
            report.write(0, "WARNING: \(report.kname(pod)) is not part of mesh; no Istio sidecar")
            throw CommandFailure("pod \(name).\(namespace) has no istio-proxy container, so there is no Envoy to describe: "
                                 + "inject the sidecar (meshctl check-inject pod/\(name) -n \(namespace) says why it is missing)")
        }
        let labels = pod.labelMap
        if !["service.istio.io/canonical-name", "app.kubernetes.io/name", "app"].contains(where: { labels[$0] != nil }) {
            report.write(0, "Suggestion: add an app label (or app.kubernetes.io/name): Istio's telemetry names the service by it.")
        }
        if !["service.istio.io/canonical-revision", "app.kubernetes.io/version", "version"].contains(where: { labels[$0] != nil }) {
            report.write(0, "Suggestion: add a version label (or app.kubernetes.io/version): Istio's telemetry names the revision by it.")
        }
        let matching = services.filter { Self.selects($0, pod) }
        if matching.isEmpty { report.write(0, "Warning: No Kubernetes Services select pod \(report.kname(pod)); Istio routes to pods through Services") }
        report.write(0, "--------------------")
        try report.describeServices(matching, pod: pod, podsLabels: [labels])
        report.write(0, "--------------------")
        try report.describeMutualTLS(pod: pod, services: matching, istioNamespace: istioNamespace)
        try report.describeIngress(matching, podsLabels: [labels])
    }

    /// Whether the Service's selector selects the pod.
    static func selects(_ service: JSONValue, _ pod: JSONValue) -> Bool {
        let selector = service["spec"]?["selector"]?.stringMap ?? [:]
        let labels = pod.labelMap
        return !selector.isEmpty && selector.allSatisfy { labels[$0.key] == $0.value }
    }
}
