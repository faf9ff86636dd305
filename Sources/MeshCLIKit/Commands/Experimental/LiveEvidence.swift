import EnvoyConfig
import Foundation
import KubeClient
import Manifests
import MeshDoctor

/// The evidence of a running pod, gathered through the API server: the same admin answers and access log that
/// `x capture` saves, and the objects a diagnosis weighs (with the pods and their Deployments, whose ports and
/// sidecars decide between causes).
enum LiveEvidence {
    /// Kinds read besides the ones `x capture` saves: workloads and the EnvoyFilters that add rate limits.
    static let extraCollections: [(path: String, apiVersion: String, kind: String)] = [
        ("/api/v1/namespaces", "v1", "Namespace"), ("/api/v1/pods", "v1", "Pod"), ("/apis/apps/v1/deployments", "apps/v1", "Deployment"),
        ("/apis/networking.istio.io/v1alpha3/envoyfilters", "networking.istio.io/v1alpha3", "EnvoyFilter"),
    ]

    static func gather(_ context: CommandContext, source: String, adminPort: Int) throws -> Evidence {
        let client = try ClusterConnection.client(context)
        let (pod, namespace) = try resolve(source, client: client, context: context)
        try ProxyAdminSource.checkSidecar(client, pod: pod, namespace: namespace)
        var files: [String: String] = [:]
        for item in CaptureCommand.adminFiles where CaptureFolder.fileNames.contains(item.file) {
            let body = try ProxyAdminSource.adminGet(client, pod: pod, namespace: namespace, port: adminPort, path: item.path, checked: true)
            files[item.file] = String(decoding: body, as: UTF8.self)
        }
        let logPath = "/api/v1/namespaces/\(KubernetesClient.percentEncoded(namespace))/pods/\(KubernetesClient.percentEncoded(pod))/log?container=istio-proxy"
        // A container that has not started has no log yet (400): the diagnosis then says it saw no request.
        let log = (try? ClusterConnection.call { try client.raw("GET", logPath) }) ?? []
        files["access.log"] = String(decoding: log, as: UTF8.self).split(separator: "\n").filter(CaptureCommand.isAccessLogLine).map { $0 + "\n" }.joined()
        var objects: [JSONValue] = []
        try ClusterConnection.call {
            if let mesh = try ClusterConnection.notFoundAsNil({ try client.get("/api/v1/namespaces/\(context.global.istioNamespace)/configmaps/istio") }) {
                objects.append(CaptureCommand.typed(mesh, "v1", "ConfigMap"))
            }
            objects += try client.list("/api/v1/services").map { CaptureCommand.typed($0, "v1", "Service") }
            let collections = CaptureCommand.istioCollections.map { ($0.path, $0.path.split(separator: "/").dropFirst().prefix(2).joined(separator: "/"), $0.kind) }
                + extraCollections
            for (path, apiVersion, kind) in collections {
                // A cluster without Istio's CRDs (or an API it does not serve) has none of these.
                objects += ((try? client.list(path)) ?? []).map { CaptureCommand.typed($0, apiVersion, kind) }
            }
        }
        files["istio.yaml"] = objects.map { "---\n" + YAMLEmitter().emit(CaptureCommand.cleaned($0).yamlNode) }.joined()
        var evidence: Evidence
        do {
            evidence = try CaptureFolder.evidence(files: files, folder: "pod \(pod).\(namespace)")
        } catch let error as CaptureFolder.MalformedFile {
            throw CommandFailure("pod \(pod).\(namespace) answered with data meshctl cannot read: \(error.description)")
        }
        for peer in destinationPods(of: evidence, pods: objects.filter { $0["kind"]?.string == "Pod" }, source: (pod, namespace)) {
            let path = "/api/v1/namespaces/\(KubernetesClient.percentEncoded(peer.namespace))/pods/\(KubernetesClient.percentEncoded(peer.name))/log?container=istio-proxy"
            guard let log = try? ClusterConnection.call({ try client.raw("GET", path) }) else {
                evidence.gaps.append("pod \(peer.name).\(peer.namespace): its istio-proxy log could not be read, so what its sidecar answered was not checked")
                continue
            }
            let lines = String(decoding: log, as: UTF8.self).split(separator: "\n").filter(CaptureCommand.isAccessLogLine).map { $0 + "\n" }.joined()
            evidence.addDestinationLog(lines, source: "pod \(peer.name).\(peer.namespace) istio-proxy log")
        }
        return evidence
    }

    /// The most destination pods whose sidecar logs are read.
    static let destinationLogLimit = 8

    /// The pods with a sidecar that answered this proxy's failing requests (4xx/5xx passed on from upstream): their
    /// own access logs say whether their sidecar, not the app, made the answer.
    static func destinationPods(of evidence: Evidence, pods: [JSONValue], source: (pod: String, namespace: String)) -> [(name: String, namespace: String)] {
        let addresses = evidence.accessLog.map(\.entry).filter { $0.responseCode >= 400 && $0.responseCodeDetails == "via_upstream" && $0.upstreamCluster.hasPrefix("outbound|") }
            .compactMap { $0.upstreamHost.split(separator: ":").first.map(String.init) }
        var found: [(name: String, namespace: String)] = []
        for address in addresses where found.count < destinationLogLimit {
            let matching = pods.filter { pod in
                pod["status"]?["podIP"]?.string == address
                    && ((pod["spec"]?["containers"]?.array ?? []) + (pod["spec"]?["initContainers"]?.array ?? [])).contains { $0["name"]?.string == "istio-proxy" }
            }
            for pod in matching {
                guard let name = pod["metadata"]?["name"]?.string, let ns = pod["metadata"]?["namespace"]?.string,
                      !(name == source.pod && ns == source.namespace), !found.contains(where: { $0.name == name && $0.namespace == ns }) else { continue }
                found.append((name, ns))
            }
        }
        return found
    }

    /// `POD`, `POD.NS`, `pod/POD` or `deploy/NAME` (a running pod of the Deployment) → pod and namespace.
    static func resolve(_ source: String, client: KubernetesClient, context: CommandContext) throws -> (pod: String, namespace: String) {
        var text = source
        var kind = "pod"
        if let slash = text.firstIndex(of: "/") {
            kind = text[..<slash].lowercased()
            text = String(text[text.index(after: slash)...])
        }
        var namespace = context.global.namespace ?? client.access.namespace
        if let dot = text.firstIndex(of: ".") {
            namespace = String(text[text.index(after: dot)...])
            text = String(text[..<dot])
        }
        switch kind {
        case "pod", "pods", "po":
            return (text, namespace)
        case "deploy", "deployment", "deployments":
            let deployment = try ClusterConnection.call {
                try client.get("/apis/apps/v1/namespaces/\(KubernetesClient.percentEncoded(namespace))/deployments/\(KubernetesClient.percentEncoded(text))")
            }
            let labels = deployment["spec"]?["selector"]?["matchLabels"]?.stringMap ?? [:]
            let selector = labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
            let pods = try ClusterConnection.call {
                try client.list("/api/v1/namespaces/\(KubernetesClient.percentEncoded(namespace))/pods?labelSelector=\(KubernetesClient.percentEncoded(selector))")
            }
            guard let pod = (pods.first { $0["status"]?["phase"]?.string == "Running" } ?? pods.first)?["metadata"]?["name"]?.string else {
                throw CommandFailure("deployment \(text) in namespace \(namespace) has no pod (selector \(selector)): nothing to diagnose")
            }
            return (pod, namespace)
        default:
            throw UsageError(problem: "\"\(source)\" is neither a pod nor deploy/NAME", commandPath: "meshctl x diagnose")
        }
    }
}
