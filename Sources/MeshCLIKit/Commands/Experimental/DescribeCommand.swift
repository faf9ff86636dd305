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
            x describe pod POD[.NS]: the pod's sidecar revision, its ports, the Services that select it with each
            port's protocol as Istio reads it, and the VirtualService whose route the pod's proxy uses for each port.
            x describe service SVC[.NS]: the Service's ports and protocols and the pods it selects.
            Not yet: DestinationRule subsets, mTLS modes and gateways.
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
        if Self.podKinds.contains(kind) {
            guard let pod = pods.first(where: { $0["metadata"]?["name"]?.string == objectName }) else {
                throw CommandFailure("pods \"\(objectName)\" not found in namespace \(namespace)")
            }
            context.stdout.write(try describe(pod: pod, services: services, client: client))
        } else {
            guard let service = services.first(where: { $0["metadata"]?["name"]?.string == objectName }) else {
                throw CommandFailure("services \"\(objectName)\" not found in namespace \(namespace)")
            }
            var text = "Service: \(objectName)\n" + Self.ports(of: service)
            let selected = pods.filter { Self.selects(service, $0) }.compactMap { $0["metadata"]?["name"]?.string }
            text += selected.isEmpty ? "   No pods select this Service\n" : "   Pods: \(selected.joined(separator: ", "))\n"
            context.stdout.write(text)
        }
    }

    private func describe(pod: JSONValue, services: [JSONValue], client: KubernetesClient) throws -> String {
        let name = pod["metadata"]?["name"]?.string ?? "", namespace = pod["metadata"]?["namespace"]?.string ?? ""
        var text = "Pod: \(name)\n"
        let revision = WorkloadFacts.revision(annotations: pod["metadata"]?["annotations"]?.stringMap ?? [:])
        if !revision.isEmpty { text += "   Pod Revision: \(revision)\n" }
        let ports = (pod["spec"]?["containers"]?.array ?? []).flatMap { container in
            (container["ports"]?.array ?? []).compactMap { $0["containerPort"]?.int.map { "\($0) (\(container["name"]?.string ?? ""))" } }
        }
        if !ports.isEmpty { text += "   Pod Ports: \(ports.joined(separator: ", "))\n" }
        let meshed = AnalyzedResource.sidecarProxy(inPodSpec: pod["spec"]?.yamlNode) != nil
        if !meshed { text += "WARNING: \(name) is not part of mesh; no Istio sidecar\n" }
        let dump = meshed ? (try? ProxyAdminSource.adminGet(client, pod: name, namespace: namespace, port: adminPort, path: "config_dump", checked: true))
            .flatMap { try? ConfigDump(text: String(decoding: $0, as: UTF8.self), source: "pod \(name)") } : nil
        for service in services where Self.selects(service, pod) {
            let serviceName = service["metadata"]?["name"]?.string ?? ""
            text += "--------------------\nService: \(serviceName)\n" + Self.ports(of: service)
            for port in service["spec"]?["ports"]?.array ?? [] {
                guard let number = port["port"]?.int, let path = dump?.virtualServicePath(service: serviceName, namespace: namespace, port: number),
                      !path.isEmpty else { continue }
                text += "   VirtualService for port \(number): \(path.split(separator: "/").last.map(String.init) ?? path)\n"
            }
        }
        return text
    }

    /// `   Port: http 9080/HTTP targets pod port 9080` per port.
    static func ports(of service: JSONValue) -> String {
        (service["spec"]?["ports"]?.array ?? []).map { port in
            let number = port["port"]?.int ?? 0
            let target = port["targetPort"]?.int.map(String.init) ?? port["targetPort"]?.string ?? String(number)
            return "   Port: \(port["name"]?.string ?? "") \(number)/\(WorkloadFacts.protocolName(port)) targets pod port \(target)\n"
        }.joined()
    }

    /// Whether the Service's selector selects the pod.
    static func selects(_ service: JSONValue, _ pod: JSONValue) -> Bool {
        let selector = service["spec"]?["selector"]?.stringMap ?? [:]
        let labels = pod.labelMap
        return !selector.isEmpty && selector.allSatisfy { labels[$0.key] == $0.value }
    }
}
