import Manifests

/// `meshctl proxy-config ecds`: the extension configurations (Wasm, telemetry filters) a sidecar received.
struct ProxyConfigECDSCommand: MeshCommand {
    static var spec: CommandSpec {
        CommandSpec(
            name: "ecds",
            abstract: "The extension configurations (ECDS) of a sidecar: name and type",
            examples: [Example("The extension configurations", "meshctl proxy-config ecds -f config_dump.json")],
            aliases: ["ec"],
            flags: ProxyAdminSource.flags + [ProxyConfigOutput.flag()],
            arguments: [proxyPodArgument])
    }

    let source: ProxyAdminSource
    let format: String

    init(_ invocation: Invocation) throws {
        source = try ProxyAdminSource(invocation)
        format = proxyOutputFormat(invocation)
    }

    func validate() throws { try source.validate() }

    func run(_ context: CommandContext) throws {
        let dump = try source.configDump("config_dump?include_eds=true", context)
        guard format != "short" else { return context.stdout.write(try source.data { try ProxyConfigTables().extensionConfigs(dump) }) }
        context.stdout.write(ProxyConfigOutput.renderSection(try source.data { try dump.extensionConfigSection() }, yaml: format == "yaml", jsonpb: false))
    }
}
