import KubeClient
import Manifests

/// `meshctl inject enable|disable NS...`: label namespaces for sidecar injection the way Istio recommends.
struct InjectCommand: MeshCommand {
    static var spec: CommandSpec {
        CommandSpec(
            name: "inject",
            abstract: "Turn sidecar injection on or off for namespaces",
            discussion: """
            Sets the namespace labels Istio's injector reads, removing the one that would conflict: enable sets
            istio-injection=enabled (or, with --revision, istio.io/rev=REV and no istio-injection label),
            disable sets istio-injection=disabled. Pods that already run keep what they have until they are
            recreated, so the workloads that need a restart are listed.
            """,
            examples: [
                Example("Inject into new pods of two namespaces", "meshctl inject enable shop payments"),
                Example("Move a namespace to a canary control plane", "meshctl inject enable shop --revision canary"),
                Example("See what would change", "meshctl inject disable shop --dry-run"),
            ],
            subcommands: [InjectEnableCommand.self, InjectDisableCommand.self])
    }

    init(_ invocation: Invocation) throws {}

    func run(_ context: CommandContext) throws {
        context.stdout.write(HelpRenderer.render(Self.spec, path: ["meshctl", "inject"]))
    }

    /// Labels the namespaces and lists what to restart.
    static func label(_ namespaces: [String], set: (key: String, value: String), remove: String, dryRun: Bool, wantSidecar: Bool,
                      context: CommandContext) throws {
        let client = try ClusterConnection.client(context)
        for namespace in namespaces {
            try ClusterConnection.call {
                let current = try client.get("/api/v1/namespaces/\(namespace)").labelMap
                let patch: JSONValue = .object([("metadata", .object([("labels", .object([(set.key, .string(set.value)), (remove, .null)]))]))])
                let unchanged = current[set.key] == set.value && current[remove] == nil
                if !unchanged {
                    try client.send("PATCH", "/api/v1/namespaces/\(namespace)" + (dryRun ? "?dryRun=All" : ""), body: patch,
                                    contentType: "application/merge-patch+json")
                }
                let removed = current[remove].map { " (removed \(remove)=\($0))" } ?? ""
                let verb = unchanged ? "already labelled" : dryRun ? "would be labelled" : "labelled"
                context.stdout.write("namespace/\(namespace) \(verb) \(set.key)=\(set.value)\(removed)\n")
                // Running pods keep their sidecar, or its absence, until they are recreated.
                let pods = try client.list("/api/v1/namespaces/\(namespace)/pods")
                var owners: [String] = []
                for pod in pods where pod["status"]?["phase"]?.string == "Running" && CheckInjectCommand.hasSidecar(pod) != wantSidecar {
                    let owner = Self.owner(pod)
                    if !owners.contains(owner) { owners.append(owner) }
                }
                if owners.isEmpty {
                    context.stdout.write("  no running pod needs a restart\n")
                } else {
                    context.stdout.write("  restart to apply it to running pods:\n")
                    for owner in owners { context.stdout.write("    kubectl rollout restart \(owner) -n \(namespace)\n") }
                }
            }
        }
    }

    /// The workload a pod belongs to: a Deployment through its ReplicaSet's name, else its direct owner, else the pod.
    static func owner(_ pod: JSONValue) -> String {
        guard let reference = pod["metadata"]?["ownerReferences"]?.array?.first, let kind = reference["kind"]?.string,
              let name = reference["name"]?.string else {
            return "pod/" + (pod["metadata"]?["name"]?.string ?? "")
        }
        if kind == "ReplicaSet", let hash = pod["metadata"]?["labels"]?["pod-template-hash"]?.string, name.hasSuffix("-" + hash) {
            return "deployment/" + name.dropLast(hash.count + 1)
        }
        return "\(kind.lowercased())/\(name)"
    }
}

struct InjectEnableCommand: MeshCommand {
    static var spec: CommandSpec {
        CommandSpec(name: "enable", abstract: "Label namespaces so new pods get the sidecar",
                    examples: [Example("Enable injection", "meshctl inject enable shop"),
                               Example("Enable a revision's injection", "meshctl inject enable shop --revision canary")],
                    flags: [FlagSpec("revision", short: "r", help: "Use this control plane revision (istio.io/rev=REV)"),
                            FlagSpec("dry-run", kind: .bool, help: "Check and show the change without making it (server-side dry run)")],
                    arguments: [ArgumentSpec("NAMESPACE", help: "Namespaces to label", repeating: true, completion: .dynamic(.namespaces))])
    }

    let namespaces: [String]
    let revision: String?
    let dryRun: Bool

    init(_ invocation: Invocation) throws {
        namespaces = invocation.arguments
        revision = invocation.string("revision")
        dryRun = invocation.bool("dry-run")
    }

    func validate() throws {
        if namespaces.isEmpty { throw UsageError(problem: "name at least one namespace", commandPath: "meshctl inject enable") }
    }

    func run(_ context: CommandContext) throws {
        if let revision, revision != "default" {
            try InjectCommand.label(namespaces, set: ("istio.io/rev", revision), remove: "istio-injection", dryRun: dryRun, wantSidecar: true, context: context)
        } else {
            try InjectCommand.label(namespaces, set: ("istio-injection", "enabled"), remove: "istio.io/rev", dryRun: dryRun, wantSidecar: true, context: context)
        }
    }
}

struct InjectDisableCommand: MeshCommand {
    static var spec: CommandSpec {
        CommandSpec(name: "disable", abstract: "Label namespaces so new pods get no sidecar",
                    examples: [Example("Disable injection", "meshctl inject disable shop")],
                    flags: [FlagSpec("dry-run", kind: .bool, help: "Check and show the change without making it (server-side dry run)")],
                    arguments: [ArgumentSpec("NAMESPACE", help: "Namespaces to label", repeating: true, completion: .dynamic(.namespaces))])
    }

    let namespaces: [String]
    let dryRun: Bool

    init(_ invocation: Invocation) throws {
        namespaces = invocation.arguments
        dryRun = invocation.bool("dry-run")
    }

    func validate() throws {
        if namespaces.isEmpty { throw UsageError(problem: "name at least one namespace", commandPath: "meshctl inject disable") }
    }

    func run(_ context: CommandContext) throws {
        try InjectCommand.label(namespaces, set: ("istio-injection", "disabled"), remove: "istio.io/rev", dryRun: dryRun, wantSidecar: false, context: context)
    }
}
