import KubeClient

/// `meshctl __complete KIND`: values the completion scripts cannot know by themselves, one per line. It never
/// fails loudly: an unreachable cluster completes nothing, within a short timeout.
struct CompleteCommand: MeshCommand {
    static var spec: CommandSpec {
        CommandSpec(name: "__complete", abstract: "Print completion values (used by the shell completion scripts)",
                    arguments: [ArgumentSpec("KIND", help: DynamicValues.allCases.map(\.rawValue).joined(separator: "|"))], hidden: true)
    }

    let kind: String

    init(_ invocation: Invocation) throws {
        kind = invocation.arguments.first ?? ""
    }

    func run(_ context: CommandContext) throws {
        let options = Kubeconfig.Options(kubeconfig: context.global.kubeconfig, context: context.global.context, variables: context.environment.variables)
        switch DynamicValues(rawValue: kind) {
        case .contexts:
            for name in Kubeconfig.contextNames(options) { context.stdout.write(name + "\n") }
        case .namespaces:
            guard let access = try? Kubeconfig.resolve(options), let client = try? KubernetesClient(access: access, requestTimeoutSeconds: 3),
                  let namespaces = try? client.list("/api/v1/namespaces") else { return }
            for namespace in namespaces { context.stdout.write((namespace["metadata"]?["name"]?.string ?? "") + "\n") }
        case nil:
            throw UsageError(problem: "unknown completion kind \"\(kind)\": one of \(DynamicValues.allCases.map(\.rawValue).joined(separator: ", "))",
                             commandPath: "meshctl __complete")
        }
    }
}
