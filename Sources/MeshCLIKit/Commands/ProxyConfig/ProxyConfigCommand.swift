/// `meshctl proxy-config`: what a sidecar's Envoy holds, read from its admin port or a saved config dump.
struct ProxyConfigCommand: MeshCommand {
    static var spec: CommandSpec {
        CommandSpec(
            name: "proxy-config",
            abstract: "Show the Envoy configuration of a pod's sidecar: clusters, listeners, routes, endpoints, secrets",
            discussion: """
            A group of commands used to retrieve information about the Envoy configuration of a pod's istio-proxy,
            in istioctl's columns. Each reads the pod's Envoy admin port (15000) through the Kubernetes API
            server's pod proxy, or with -f a saved answer (curl localhost:15000/config_dump > dump.json).
            """,
            examples: [
                Example("The clusters of a pod's sidecar", "meshctl proxy-config cluster productpage-v1-6b746f74dc-9stvs.default"),
                Example("The routes of a saved config dump", "meshctl proxy-config route -f config_dump.json"),
                Example("Everything, with a title per table", "meshctl proxy-config all -f config_dump.json --with-headers"),
            ],
            aliases: ["pc"],
            subcommands: [
                ProxyConfigAllCommand.self,
                ProxyConfigBootstrapCommand.self,
                ProxyConfigClusterCommand.self,
                ProxyConfigECDSCommand.self,
                ProxyConfigEDSCommand.self,
                ProxyConfigEndpointCommand.self,
                ProxyConfigListenerCommand.self,
                ProxyConfigLogCommand.self,
                ProxyConfigRootCACompareCommand.self,
                ProxyConfigRouteCommand.self,
                ProxyConfigSecretCommand.self,
            ])
    }

    init(_ invocation: Invocation) throws {}

    func run(_ context: CommandContext) throws {
        context.stdout.write(HelpRenderer.render(Self.spec, path: ["meshctl", Self.spec.name]))
    }
}

/// The `POD[.NAMESPACE]` argument of the proxy-config commands.
let proxyPodArgument = ArgumentSpec("POD[.NAMESPACE]", help: "The pod whose sidecar to read (not with -f)", optional: true)

/// Parses `-o` for proxy-config: short, json or yaml.
func proxyOutputFormat(_ invocation: Invocation) -> String { invocation.string("output") ?? "short" }
