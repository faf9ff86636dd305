import KubeClient
import Manifests

/// `meshctl check-inject`: which namespaces and workloads get the Istio sidecar, and why.
struct CheckInjectCommand: MeshCommand {
    static var spec: CommandSpec {
        CommandSpec(
            name: "check-inject",
            abstract: "Explain which namespaces and workloads get the Istio sidecar, and why",
            discussion: """
            Without an argument: one row per namespace (only the one -n names, when given) with its
            istio-injection and istio.io/rev labels, what they mean for new pods, and how many running pods have
            no sidecar. `kubectl get namespace -L istio-injection`, explained.

            With a pod, or KIND/NAME of a workload (deployment, statefulset, daemonset, replicaset, job), or
            -l for the first pod a selector finds: for each Istio injector webhook configuration (one per
            revision), whether its namespace and object selectors would inject the pod, and the labels that
            decide it.
            """,
            examples: [
                Example("Injection per namespace", "meshctl check-inject"),
                Example("Injection of one namespace", "meshctl check-inject -n shop"),
                Example("Why does this deployment get (or not get) the sidecar?", "meshctl check-inject -n shop deployment/cart-v1"),
                Example("The same for a pod found by label", "meshctl check-inject -n shop -l app=cart"),
                Example("As JSON", "meshctl check-inject -n shop deploy/cart-v1 -o json"),
            ],
            flags: [
                FlagSpec("selector", short: "l", valueName: "key=value", help: "Check the first pod this label selector finds"),
                OutputFormat.flag([.table, .wide, .json, .yaml], default: .table),
            ],
            arguments: [ArgumentSpec("POD|KIND/NAME", help: "A pod, or a workload as kind/name", optional: true)])
    }

    let target: String?
    let selector: String?
    let format: OutputFormat

    init(_ invocation: Invocation) throws {
        target = invocation.arguments.first
        selector = invocation.string("selector")
        format = invocation.string("output").flatMap(OutputFormat.init(rawValue:)) ?? .table
    }

    func validate() throws {
        if target != nil && selector != nil {
            throw UsageError(problem: "give a pod or workload, or -l, not both", commandPath: "meshctl check-inject")
        }
        if format == .name { throw UsageError(problem: "--output name is not available here: use table, wide, json or yaml", commandPath: "meshctl check-inject") }
    }

    static let workloadPaths: [String: (path: String, kind: String)] = [
        "deployment": ("/apis/apps/v1", "deployments"), "deployments": ("/apis/apps/v1", "deployments"), "deploy": ("/apis/apps/v1", "deployments"),
        "statefulset": ("/apis/apps/v1", "statefulsets"), "statefulsets": ("/apis/apps/v1", "statefulsets"), "sts": ("/apis/apps/v1", "statefulsets"),
        "daemonset": ("/apis/apps/v1", "daemonsets"), "daemonsets": ("/apis/apps/v1", "daemonsets"), "ds": ("/apis/apps/v1", "daemonsets"),
        "replicaset": ("/apis/apps/v1", "replicasets"), "replicasets": ("/apis/apps/v1", "replicasets"), "rs": ("/apis/apps/v1", "replicasets"),
        "job": ("/apis/batch/v1", "jobs"), "jobs": ("/apis/batch/v1", "jobs"),
        "pod": ("/api/v1", "pods"), "pods": ("/api/v1", "pods"), "po": ("/api/v1", "pods"),
    ]

    func run(_ context: CommandContext) throws {
        let client = try ClusterConnection.client(context)
        if target == nil && selector == nil {
            try namespaces(client, context, only: context.global.namespace)
        } else {
            try workload(client, context)
        }
    }

    // MARK: Namespaces

    /// All namespaces, or only `only` (which must exist: a name that is not there is an error, not an empty table).
    private func namespaces(_ client: KubernetesClient, _ context: CommandContext, only: String?) throws {
        let (namespaces, pods) = try ClusterConnection.call {
            guard let only else { return (try client.list("/api/v1/namespaces"), try client.list("/api/v1/pods")) }
            return ([try client.get("/api/v1/namespaces/\(KubernetesClient.percentEncoded(only))")],
                    try client.list("/api/v1/namespaces/\(KubernetesClient.percentEncoded(only))/pods"))
        }
        var withoutSidecar: [String: Int] = [:]
        for pod in pods where pod["status"]?["phase"]?.string == "Running" && !Self.hasSidecar(pod) {
            withoutSidecar[pod["metadata"]?["namespace"]?.string ?? "", default: 0] += 1
        }
        var rows: [(name: String, label: String, revision: String, injection: String, missing: Int)] = []
        for namespace in namespaces {
            let name = namespace["metadata"]?["name"]?.string ?? ""
            let labels = namespace.labelMap
            rows.append((name, labels["istio-injection"] ?? "", labels["istio.io/rev"] ?? "", Self.meaning(labels), withoutSidecar[name] ?? 0))
        }
        switch format {
        case .json, .yaml:
            let document: YAMLNode = .sequence(rows.map { row in
                .mapping([("namespace", .string(row.name)), ("istioInjection", .string(row.label)), ("revision", .string(row.revision)),
                          ("injection", .string(row.injection)), ("podsWithoutSidecar", .int(row.missing))])
            })
            context.stdout.write(format == .json ? JSONEmitter(indent: 2).emit(document) + "\n" : YAMLEmitter().emit(document))
        default:
            var table = TablePrinter(headers: ["NAME", "ISTIO-INJECTION", "REVISION", "INJECTION", "PODS WITHOUT SIDECAR"])
            for row in rows { table.append([row.name, row.label, row.revision, row.injection, String(row.missing)]) }
            context.stdout.write(table.render())
        }
    }

    /// What a namespace's labels mean for pods created in it.
    static func meaning(_ labels: [String: String]) -> String {
        switch (labels["istio-injection"], labels["istio.io/rev"]) {
        case ("enabled", _): return "enabled"
        case ("disabled", _): return "disabled"
        case (.some(let other), _): return "istio-injection=\(other) is not a value Istio knows: no sidecar"
        case (nil, .some(let revision)): return "revision \(revision)"
        case (nil, nil): return "not labelled: new pods get no sidecar"
        }
    }

    /// Whether a pod runs Istio's proxy (as a container, or a native sidecar init container).
    static func hasSidecar(_ pod: JSONValue) -> Bool {
        AnalyzedResource.sidecarProxy(inPodSpec: pod["spec"]?.yamlNode) != nil
    }

    // MARK: One workload

    private func workload(_ client: KubernetesClient, _ context: CommandContext) throws {
        let namespace = client.access.namespace
        let (podName, podLabels) = try ClusterConnection.call { () throws -> (String, [String: String]) in
            if let selector {
                let pods = try client.list("/api/v1/namespaces/\(namespace)/pods?labelSelector=\(KubernetesClient.percentEncoded(selector))")
                guard let pod = pods.first else { throw CommandFailure("no pod in namespace \(namespace) matches -l \(selector)") }
                return ("pod/" + (pod["metadata"]?["name"]?.string ?? ""), pod.labelMap)
            }
            let parts = target!.split(separator: "/", maxSplits: 1).map(String.init)
            let (kind, name) = parts.count == 2 ? (parts[0].lowercased(), parts[1]) : ("pod", parts[0])
            guard let location = Self.workloadPaths[kind] else {
                throw UsageError(problem: "unknown kind \"\(kind)\": use pod, deployment, statefulset, daemonset, replicaset or job",
                                 commandPath: "meshctl check-inject")
            }
            let object = try client.get("\(location.path)/namespaces/\(namespace)/\(location.kind)/\(name)")
            let labels = location.kind == "pods" ? object.labelMap : (object["spec"]?["template"]?.labelMap ?? [:])
            return ("\(location.kind.dropLast())/\(name)", labels)
        }
        let (namespaceObject, configurations) = try ClusterConnection.call {
            (try client.get("/api/v1/namespaces/\(namespace)"),
             try client.list("/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations"))
        }
        let injectors = configurations.map(\.yamlNode).filter(InjectionWebhookCheck.isIstioInjector)
        guard !injectors.isEmpty else {
            throw CommandFailure("no Istio injector webhook in this cluster (no MutatingWebhookConfiguration calls *.sidecar-injector.istio.io): "
                                 + "Istio is not installed, or not with automatic injection")
        }
        let verdicts = InjectionWebhookCheck.check(configurations: injectors, podLabels: podLabels, namespaceLabels: namespaceObject.labelMap)
        switch format {
        case .json, .yaml:
            let document: YAMLNode = .mapping([
                ("workload", .string(podName)), ("namespace", .string(namespace)),
                ("injectedBy", .sequence(verdicts.filter { $0.injects }.map { YAMLNode.string($0.configuration) })),
                ("webhooks", .sequence(verdicts.map { verdict -> YAMLNode in
                    .mapping([("name", .string(verdict.configuration)), ("revision", .string(verdict.revision)), ("injected", .bool(verdict.injects)),
                              ("reason", .string(verdict.reason))])
                })),
            ])
            context.stdout.write(format == .json ? JSONEmitter(indent: 2).emit(document) + "\n" : YAMLEmitter().emit(document))
        default:
            var table = TablePrinter(headers: ["WEBHOOK", "REVISION", "INJECTED", "REASON"])
            for verdict in verdicts { table.append([verdict.configuration, verdict.revision, verdict.injects ? "✔" : "✘", verdict.reason]) }
            context.stdout.write(table.render())
            let injected = verdicts.filter(\.injects)
            let summary = injected.isEmpty ? "no webhook injects it: new pods of \(podName) start without the Istio sidecar"
                : injected.count == 1 ? "new pods of \(podName) get the sidecar from \(injected[0].configuration) (revision \(injected[0].revision))"
                : "more than one webhook injects it (\(injected.map(\.configuration).joined(separator: ", "))): pods get conflicting sidecars; label the namespace for one revision only"
            context.stdout.write("\n\(summary)\n")
        }
    }
}
