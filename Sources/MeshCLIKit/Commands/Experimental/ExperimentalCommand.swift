/// `meshctl x`: commands whose output may still change.
struct ExperimentalCommand: MeshCommand {
    static var spec: CommandSpec {
        CommandSpec(
            name: "x",
            abstract: "Experimental commands: a sidecar's Envoy statistics, a capture of a pod's proxy, the diagnosis of failing requests",
            examples: [
                Example("A sidecar's server statistics", "meshctl x envoy-stats productpage-v1-6b746f74dc-9stvs.default"),
                Example("Everything about a pod's proxy in one folder", "meshctl x capture productpage-v1-6b746f74dc-9stvs -n default -d capture/"),
            ],
            aliases: ["experimental", "exp"],
            subcommands: [AuthzCommand.self, CaptureCommand.self, DescribeCommand.self, DiagnoseCommand.self, EchoCommand.self, EnvoyStatsCommand.self, SidecarCommand.self])
    }

    init(_ invocation: Invocation) throws {}

    func run(_ context: CommandContext) throws {
        context.stdout.write(HelpRenderer.render(Self.spec, path: ["meshctl", Self.spec.name]))
    }
}
