import Foundation
import EnvoyConfig
import KubeClient
import Manifests

/// Where Envoy's admin data comes from: a saved file (`-f`), or a pod's admin port read through the API server's
/// pod proxy (`GET /api/v1/namespaces/NS/pods/POD:15000/proxy/config_dump`).
struct ProxyAdminSource {
    /// `-f`: a saved admin answer; `-` is standard input.
    var file: String?
    /// `POD` or `POD.NAMESPACE`.
    var pod: String?
    var adminPort = 15000
    /// How errors name the command (`meshctl proxy-config cluster`).
    var commandPath: String

    /// The flags every proxy-config command takes.
    static let flags: [FlagSpec] = [
        FlagSpec("file", short: "f", valueName: "FILE", help: "Read a saved admin answer (/config_dump) instead of a pod's; - reads standard input",
                 completion: .files),
        FlagSpec("proxy-admin-port", valueName: "int", help: "The Envoy admin port of the pod", default: "15000"),
    ]

    init(file: String?, pod: String?, adminPort: Int, commandPath: String) {
        self.file = file
        self.pod = pod
        self.adminPort = adminPort
        self.commandPath = commandPath
    }

    init(_ invocation: Invocation) throws {
        file = invocation.string("file")
        pod = invocation.arguments.first
        adminPort = try invocation.int("proxy-admin-port") ?? 15000
        commandPath = invocation.pathText
    }

    /// A usage error when neither or both of a pod and -f are given, or the pod is not a pod's name.
    func validate() throws {
        if pod == nil && file == nil {
            throw UsageError(problem: "give a pod (POD or POD.NAMESPACE) or -f with a saved admin answer", commandPath: commandPath)
        }
        if pod != nil && file != nil { throw UsageError(problem: "give a pod or -f, not both", commandPath: commandPath) }
        if let pod, let slash = pod.firstIndex(of: "/") {
            let kind = pod[..<slash].lowercased()
            if !["pod", "pods", "po"].contains(kind) {
                throw UsageError(problem: "\"\(Self.withoutNamespace(pod))\" does not refer to a pod: give POD or POD.NAMESPACE", commandPath: commandPath)
            }
        }
        if !(1...65535).contains(adminPort) { throw UsageError(problem: "--proxy-admin-port must be a port (1-65535)", commandPath: commandPath) }
    }

    /// `deployment/x.ns` → `deployment/x` (istioctl names the object without its namespace).
    static func withoutNamespace(_ text: String) -> String {
        guard let dot = text.lastIndex(of: "."), text[..<dot].contains("/") else { return text }
        return String(text[..<dot])
    }

    /// The pod's name and namespace: `POD.NS`, else the context's namespace (or -n).
    func podAndNamespace(_ client: KubernetesClient) -> (name: String, namespace: String) {
        var text = pod ?? ""
        if let slash = text.firstIndex(of: "/") { text = String(text[text.index(after: slash)...]) }
        if let dot = text.firstIndex(of: ".") {
            return (String(text[..<dot]), String(text[text.index(after: dot)...]))
        }
        return (text, client.access.namespace)
    }

    /// The text of the file, or of the pod's admin answer at `path` (`config_dump?include_eds`); `shownAs` is how
    /// errors name it.
    func read(_ path: String, _ context: CommandContext) throws -> (text: String, shownAs: String) {
        if let file {
            if file == "-" { return (String(decoding: context.environment.readStandardInput(), as: UTF8.self), "standard input") }
            return (try FileSystem.readText(FileSystem.resolve(file, in: context.environment.workingDirectory), shownAs: file), file)
        }
        let client = try ClusterConnection.client(context)
        let (name, namespace) = podAndNamespace(client)
        return (String(decoding: try Self.adminGet(client, pod: name, namespace: namespace, port: adminPort, path: path), as: UTF8.self),
                "pod \(name).\(namespace)")
    }

    /// The body of a GET on the pod's admin port, after checking the pod exists and runs Istio's proxy; every
    /// refusal is one line naming the pod and what to do.
    static func adminGet(_ client: KubernetesClient, pod: String, namespace: String, port: Int, path: String,
                         method: String = "GET", checked: Bool = false) throws -> [UInt8] {
        if !checked { try checkSidecar(client, pod: pod, namespace: namespace) }
        do {
            return try client.proxyGet(pod: KubernetesClient.percentEncoded(pod), namespace: KubernetesClient.percentEncoded(namespace), port: port,
                                       path: path, method: method)
        } catch let error as APIStatusError {
            // When the port does not answer, the pod's state says whether its proxy has started yet.
            let state = [502, 503].contains(error.code) ? proxyState(client, pod: pod, namespace: namespace) : nil
            throw adminFailure(error, pod: pod, namespace: namespace, port: port, proxyState: state)
        } catch let error as TransportError {
            throw CommandFailure(error.description)
        }
    }

    /// The pod must exist and have an `istio-proxy` container (or native sidecar).
    static func checkSidecar(_ client: KubernetesClient, pod: String, namespace: String) throws {
        let object: JSONValue
        do {
            object = try client.get("/api/v1/namespaces/\(KubernetesClient.percentEncoded(namespace))/pods/\(KubernetesClient.percentEncoded(pod))")
        } catch let error as APIStatusError where error.code == 404 {
            throw CommandFailure("unable to retrieve Pod: pods \"\(pod)\" not found in namespace \(namespace): check the name, or give POD.NAMESPACE")
        } catch let error as APIStatusError {
            throw CommandFailure.fromServer(error.description)
        } catch let error as TransportError {
            throw CommandFailure(error.description)
        }
        guard AnalyzedResource.sidecarProxy(inPodSpec: object["spec"]?.yamlNode) != nil else {
            throw CommandFailure("pod \(pod).\(namespace) has no istio-proxy container, so there is no Envoy to ask: "
                                 + "inject the sidecar (meshctl check-inject pod/\(pod) -n \(namespace) says why it is missing)")
        }
    }

    /// "the pod is Pending" or "its istio-proxy container is not ready" when the pod says so; nil when it looks ready.
    static func proxyState(_ client: KubernetesClient, pod: String, namespace: String) -> String? {
        guard let object = try? client.get("/api/v1/namespaces/\(KubernetesClient.percentEncoded(namespace))/pods/\(KubernetesClient.percentEncoded(pod))")
        else { return nil }
        let phase = object["status"]?["phase"]?.string ?? "Unknown"
        if phase != "Running" { return "the pod is \(phase)" }
        let statuses = (object["status"]?["containerStatuses"]?.array ?? []) + (object["status"]?["initContainerStatuses"]?.array ?? [])
        if let proxy = statuses.first(where: { $0["name"]?.string == "istio-proxy" }), proxy["ready"]?.bool != true {
            return "its istio-proxy container is not ready"
        }
        return nil
    }

    static func adminFailure(_ error: APIStatusError, pod: String, namespace: String, port: Int, proxyState: String? = nil) -> CommandFailure {
        switch error.code {
        case 403:
            return CommandFailure("not allowed to read pod \(pod).\(namespace)'s proxy admin port (RBAC refuses the pods/proxy subresource: "
                                  + "\(error.message)); ask for get on pods/proxy in namespace \(namespace)")
        case 502, 503:
            if let proxyState {
                return CommandFailure("the proxy of pod \(pod).\(namespace) is not ready (\(proxyState)), so its admin port \(port) does not answer "
                                      + "(\(error.message)): wait until it runs (kubectl get pod \(pod) -n \(namespace) -w)")
            }
            return CommandFailure("pod \(pod).\(namespace) does not answer on its admin port \(port) (\(error.message)): "
                                  + "is the proxy running and ready? (kubectl get pod \(pod) -n \(namespace))")
        default:
            return CommandFailure("pod \(pod).\(namespace)'s admin port \(port) answered \(error.code) \(error.reason): \(error.message)")
        }
    }

    /// The config dump at `path` of the file or pod.
    func configDump(_ path: String, _ context: CommandContext) throws -> ConfigDump {
        let (text, shownAs) = try read(path, context)
        return try data { try ConfigDump(text: text, source: shownAs) }
    }

    /// Runs a read of Envoy data: its error is bad input (exit 65) in a file, a failure (exit 1) from a pod.
    func data<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as EnvoyDataError {
            if file != nil { throw InputDataError(error.description) }
            throw CommandFailure("pod \(pod ?? ""): \(error.description)")
        }
    }
}

/// `-o json` and `-o yaml` of proxy-config: istioctl prints protobuf's JSON (lowerCamelCase field names), a list
/// indented by 4 spaces; YAML with sorted keys.
enum ProxyConfigOutput {
    static let formats = ["short", "json", "yaml"]

    static func flag(default defaultFormat: String = "short") -> FlagSpec {
        FlagSpec("output", short: "o", help: "Output format: one of short|json|yaml", default: defaultFormat, completion: .values(formats))
    }

    /// One section of a config dump (BootstrapConfigDump, SecretsConfigDump...) as the message itself, without its
    /// `@type`. istioctl prints the bootstrap and secret sections with jsonpb (`jsonpb: true`), whose layout
    /// `ProtoJSONWriter` follows, and the ECDS section with protojson, indented like any JSON.
    static func renderSection(_ section: JSONValue, yaml: Bool, jsonpb: Bool = true) -> String {
        var section = section
        section["@type"] = nil
        if yaml || !jsonpb { return render(section, yaml: yaml) }
        return ProtoJSONWriter().write(EnvoyFieldName.protoJSON(PrivateKeyRedaction.redacted(section))) + "\n"
    }

    /// A list of configuration items is printed as the messages themselves, without each one's `@type`.
    static func render(_ value: JSONValue, yaml: Bool) -> String {
        var value = value
        if let items = value.array {
            value = .array(items.map { item in
                var item = item
                item["@type"] = nil
                return item
            })
        }
        let converted = EnvoyFieldName.protoJSON(PrivateKeyRedaction.redacted(value))
        if yaml { return YAMLEmitter().emit(goYAML(converted)) + "\n" }
        return JSONEmitter(indent: 4, escapeHTML: true).emit(converted.yamlNode) + "\n"
    }

    /// The YAML Go's JSON-to-YAML conversion writes: keys sorted, and strings that YAML 1.1 would read as a
    /// timestamp quoted.
    static func goYAML(_ value: JSONValue) -> YAMLNode {
        switch value {
        case .string(let text):
            return YAMLNode(.scalar(YAMLScalar(text: text, kind: .string, style: looksLikeTimestamp(text) ? .doubleQuoted : .plain)))
        case .array(let items):
            return .sequence(items.map(goYAML))
        case .object(let pairs):
            return .mapping(pairs.sorted { $0.key < $1.key }.map { YAMLPair(key: .string($0.key), value: goYAML($0.value)) })
        default:
            return value.yamlNode
        }
    }

    /// `2022-12-08`, `2022-12-08T11:03:53.361Z` and the like: YAML 1.1's timestamp forms.
    static func looksLikeTimestamp(_ text: String) -> Bool {
        text.range(of: #"^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(([Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}(\.[0-9]*)?([ \t]*(Z|[-+][0-9]{1,2}(:[0-9]{2})?))?)?$"#,
                   options: .regularExpression) != nil
    }
}
