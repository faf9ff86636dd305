import EnvoyConfig
import Foundation
import KubeClient
import Manifests

/// `meshctl x capture`: one folder with everything about a pod's proxy that a diagnosis reads.
struct CaptureCommand: MeshCommand {
    static var spec: CommandSpec {
        CommandSpec(
            name: "capture",
            abstract: "Save a pod's proxy state and the objects that concern it into one folder, for diagnosis",
            discussion: """
            Writes config_dump.json, clusters.json, clusters.txt, stats.txt, listeners.json and server_info.json
            (from the sidecar's Envoy admin port, through the API server), access.log (the access-log lines of the
            istio-proxy container's log) and istio.yaml: the objects that concern the pod (the mesh config, its
            Namespace, the pod, the Services that select it and their Endpoints, the DestinationRules and
            VirtualServices of those Services' hosts and the Gateways they bind, and the PeerAuthentications,
            AuthorizationPolicies, Sidecars and ServiceEntries that apply to it, namespace-wide, mesh-wide or by
            selector). Each file is written whole or not at all; Secrets are never saved.
            """,
            examples: [
                Example("Capture a pod", "meshctl x capture productpage-v1-6b746f74dc-9stvs -n default -d capture/"),
            ],
            flags: [
                FlagSpec("dir", short: "d", valueName: "DIR", help: "The folder to write (created when missing)", completion: .directories),
                FlagSpec("proxy-admin-port", valueName: "int", help: "The Envoy admin port of the pod", default: "15000"),
            ],
            arguments: [ArgumentSpec("POD[.NAMESPACE]", help: "The pod whose proxy to capture")])
    }

    /// The admin answers saved, file name → admin path.
    static let adminFiles: [(file: String, path: String)] = [
        ("config_dump.json", "config_dump"), ("clusters.json", "clusters?format=json"), ("clusters.txt", "clusters"),
        ("stats.txt", "stats"), ("listeners.json", "listeners?format=json"), ("server_info.json", "server_info"),
    ]

    /// The Istio kinds saved in istio.yaml, as API paths.
    static let istioCollections: [(path: String, kind: String)] = [
        ("/apis/networking.istio.io/v1/destinationrules", "DestinationRule"), ("/apis/networking.istio.io/v1/virtualservices", "VirtualService"),
        // After VirtualService: the Gateways saved are the ones those VirtualServices bind.
        ("/apis/networking.istio.io/v1/gateways", "Gateway"), ("/apis/networking.istio.io/v1/serviceentries", "ServiceEntry"),
        ("/apis/networking.istio.io/v1/sidecars", "Sidecar"), ("/apis/security.istio.io/v1/peerauthentications", "PeerAuthentication"),
        ("/apis/security.istio.io/v1/authorizationpolicies", "AuthorizationPolicy"),
    ]

    let source: ProxyAdminSource
    let directory: String?

    init(_ invocation: Invocation) throws {
        source = ProxyAdminSource(file: nil, pod: invocation.arguments.first, adminPort: try invocation.int("proxy-admin-port") ?? 15000,
                                  commandPath: invocation.pathText)
        directory = invocation.string("dir")
    }

    func validate() throws {
        try source.validate()
        guard directory != nil else { throw UsageError(problem: "-d DIR is required: the folder to write the capture to", commandPath: source.commandPath) }
    }

    func run(_ context: CommandContext) throws {
        let client = try ClusterConnection.client(context)
        let (pod, namespace) = source.podAndNamespace(client)
        try ProxyAdminSource.checkSidecar(client, pod: pod, namespace: namespace)
        var files: [(name: String, text: String)] = []
        for item in Self.adminFiles {
            let body = try ProxyAdminSource.adminGet(client, pod: pod, namespace: namespace, port: source.adminPort, path: item.path, checked: true)
            // Key material a proxy did not redact itself never reaches the capture.
            if item.file.hasPrefix("config_dump"), let dump = try? JSONValue.parse(body), PrivateKeyRedaction.redacted(dump) != dump {
                files.append((item.file, PrivateKeyRedaction.redacted(dump).serialized))
            } else {
                files.append((item.file, String(decoding: body, as: UTF8.self)))
            }
        }
        let log = try accessLog(client, pod: pod, namespace: namespace)
        if let missing = log.missing { context.stderr.write("note: access.log is empty: the istio-proxy container has no log (\(missing))\n") }
        files.append(("access.log", log.lines))
        files.append(("istio.yaml", try objects(client, pod: pod, namespace: namespace, istioNamespace: context.global.istioNamespace)))

        let folder = FileSystem.resolve(directory!, in: context.environment.workingDirectory)
        do {
            // The capture holds a proxy's configuration and the pod's objects: readable by the user only.
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw CommandFailure("cannot create \(directory!): \(FileSystem.describe(error))")
        }
        for file in files { try FileSystem.writeAtomically(file.text, to: folder + "/" + file.name, mode: 0o600) }
        context.stdout.write("captured pod \(pod).\(namespace) into \(directory!): \(files.map(\.name).joined(separator: ", "))\n")
    }

    /// The istio-proxy container's log lines in Istio's access-log format (`[2026-...] "GET / HTTP/1.1" 200 ...`).
    /// `missing` says why there are none when the container has no log yet (it has not started: a 400 from the API).
    private func accessLog(_ client: KubernetesClient, pod: String, namespace: String) throws -> (lines: String, missing: String?) {
        let path = "/api/v1/namespaces/\(KubernetesClient.percentEncoded(namespace))/pods/\(KubernetesClient.percentEncoded(pod))/log?container=istio-proxy"
        var missing: String?
        let body = try ClusterConnection.call { () throws -> [UInt8] in
            do {
                return try client.raw("GET", path)
            } catch let error as APIStatusError where error.code == 400 && error.message.contains("waiting to start") {
                missing = error.message
                return []
            }
        }
        let lines = String(decoding: body, as: UTF8.self).split(separator: "\n").filter(Self.isAccessLogLine)
        return (lines.map { $0 + "\n" }.joined(), missing)
    }

    /// `[<RFC 3339 time>] "` starts every line of Istio's default access-log format.
    static func isAccessLogLine(_ line: Substring) -> Bool {
        guard line.hasPrefix("["), let close = line.firstIndex(of: "]") else { return false }
        let time = line[line.index(after: line.startIndex)..<close]
        return time.count >= 20 && time.dropFirst(4).first == "-" && time.contains("T") && line[close...].hasPrefix("] \"")
    }

    /// The objects that concern the pod, as YAML documents: the mesh config, the pod's Namespace, the pod, the
    /// Services that select it and their Endpoints, the Istio objects that apply to it or to its Services' hosts
    /// (`PodConcerns`), and the Gateways those VirtualServices bind. Never Secrets.
    private func objects(_ client: KubernetesClient, pod: String, namespace: String, istioNamespace: String) throws -> String {
        var objects: [JSONValue] = []
        let inNamespace = "/api/v1/namespaces/\(KubernetesClient.percentEncoded(namespace))"
        try ClusterConnection.call {
            if let mesh = try ClusterConnection.notFoundAsNil({ try client.get("/api/v1/namespaces/\(istioNamespace)/configmaps/istio") }) { objects.append(mesh) }
            if let home = try ClusterConnection.notFoundAsNil({ try client.get(inNamespace) }) { objects.append(home) }
            let podObject = try client.get("\(inNamespace)/pods/\(KubernetesClient.percentEncoded(pod))")
            objects.append(Self.typed(podObject, "v1", "Pod"))
            let mesh = try DescribeReport.meshConfig(client, istioNamespace: istioNamespace)
            let concerns = PodConcerns(pod: podObject, rootNamespace: mesh["rootNamespace"]?.string ?? istioNamespace)
            let services = concerns.services(try client.list("\(inNamespace)/services"))
            objects += services.map { Self.typed($0, "v1", "Service") }
            objects += concerns.endpoints(try client.list("\(inNamespace)/endpoints"), of: services).map { Self.typed($0, "v1", "Endpoints") }
            let hosts = Set(services.compactMap { $0["metadata"]?["name"]?.string.map { "\($0).\(namespace).svc.cluster.local" } })
            var gatewayNames: Set<String> = []
            for collection in Self.istioCollections {
                // A cluster without Istio's CRDs has none of these.
                let apiVersion = collection.path.split(separator: "/").dropFirst().prefix(2).joined(separator: "/")
                let all = (try? client.list(collection.path)) ?? []
                let applying = collection.kind == "Gateway"
                    ? all.filter { gatewayNames.contains("\($0["metadata"]?["namespace"]?.string ?? "")/\($0["metadata"]?["name"]?.string ?? "")") }
                    : concerns.istioObjects(all, kind: collection.kind, serviceHosts: hosts)
                if collection.kind == "VirtualService" {
                    for service in applying {
                        let home = service["metadata"]?["namespace"]?.string ?? ""
                        for gateway in service["spec"]?["gateways"]?.array?.compactMap(\.string) ?? [] where gateway != "mesh" {
                            gatewayNames.insert(gateway.contains("/") ? gateway : "\(home)/\(gateway)")
                        }
                    }
                }
                objects += applying.map { Self.typed($0, apiVersion, collection.kind) }
            }
        }
        let header = "# Kubernetes and Istio objects that concern pod \(pod) (namespace \(namespace)), captured by meshctl x capture.\n"
        return header + objects.map { "---\n" + YAMLEmitter().emit(Self.cleaned($0).yamlNode) }.joined()
    }

    /// A list item with the apiVersion and kind lists leave out.
    static func typed(_ item: JSONValue, _ apiVersion: String, _ kind: String) -> JSONValue {
        var pairs = (item.object ?? []).filter { $0.key != "apiVersion" && $0.key != "kind" }
        pairs.insert(contentsOf: [("apiVersion", .string(apiVersion)), ("kind", .string(kind))], at: 0)
        return .object(pairs)
    }

    /// The object without server bookkeeping (managedFields, the last-applied annotation).
    static func cleaned(_ object: JSONValue) -> JSONValue {
        var object = object
        object["metadata"]?["managedFields"] = nil
        object["metadata"]?["annotations"]?["kubectl.kubernetes.io/last-applied-configuration"] = nil
        if object["metadata"]?["annotations"]?.object?.isEmpty == true { object["metadata"]?["annotations"] = nil }
        return object
    }
}
