import EnvoyConfig

/// `meshctl proxy-config bootstrap`: the bootstrap a sidecar's Envoy started with.
struct ProxyConfigBootstrapCommand: MeshCommand {
    static var spec: CommandSpec {
        CommandSpec(
            name: "bootstrap",
            abstract: "The bootstrap of a sidecar (JSON by default; -o short prints the Istio and Envoy versions)",
            examples: [
                Example("The bootstrap", "meshctl proxy-config bootstrap productpage-v1-6b746f74dc-9stvs.default"),
                Example("Istio's and Envoy's versions", "meshctl proxy-config bootstrap -f config_dump.json -o short"),
            ],
            aliases: ["b"],
            flags: ProxyAdminSource.flags + [ProxyConfigOutput.flag(default: "json")],
            arguments: [proxyPodArgument])
    }

    let source: ProxyAdminSource
    let format: String

    init(_ invocation: Invocation) throws {
        source = try ProxyAdminSource(invocation)
        format = invocation.string("output") ?? "json"
    }

    func validate() throws { try source.validate() }

    func run(_ context: CommandContext) throws {
        let dump = try source.configDump("config_dump?mask=bootstrap", context)
        guard format != "short" else { return context.stdout.write(try source.data { try ProxyConfigTables().bootstrap(dump) }) }
        context.stdout.write(ProxyConfigOutput.renderSection(try source.data { try dump.bootstrapSection() }, yaml: format == "yaml"))
    }
}
