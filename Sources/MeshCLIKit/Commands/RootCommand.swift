/// `meshctl`: the root of the command tree.
public struct RootCommand: MeshCommand {
    public static var spec: CommandSpec {
        CommandSpec(
            name: "meshctl",
            abstract: "meshctl operates Istio service meshes: injection, traffic rules, connectivity, local mode",
            discussion: """
            meshctl explains which workloads get the Istio sidecar and why, injects it into manifests
            offline, validates and analyzes Istio configuration, and diagnoses connectivity problems.
            It reads the same kubeconfig as kubectl (--kubeconfig, KUBECONFIG, --context).
            """,
            examples: [
                Example("Add the sidecar to a manifest", "meshctl kube-inject -f deployment.yaml"),
                Example("Check Istio configuration before applying it", "meshctl validate -f istio-config/"),
                Example("Find problems across resources, with Istio's IST codes", "meshctl analyze --use-kube=false istio-config/"),
                Example("Print the version", "meshctl version"),
            ],
            subcommands: [
                AnalyzeCommand.self,
                ApplyCommand.self,
                CheckInjectCommand.self,
                CompleteCommand.self,
                CompletionCommand.self,
                DeleteCommand.self,
                HelpCommand.self,
                InjectCommand.self,
                KubeInjectCommand.self,
                LocalCommand.self,
                ProxyConfigCommand.self,
                ProxyStatusCommand.self,
                RemoteClustersCommand.self,
                ValidateCommand.self,
                VersionCommand.self,
                ExperimentalCommand.self,
            ])
    }

    public init(_ invocation: Invocation) throws {}

    public func run(_ context: CommandContext) throws {
        context.stdout.write(HelpRenderer.render(Self.spec, path: [Self.spec.name]))
    }
}
