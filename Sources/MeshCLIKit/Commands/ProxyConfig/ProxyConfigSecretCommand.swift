import EnvoyConfig

/// `meshctl proxy-config secret`: the certificates a sidecar holds (SDS), with their validity.
struct ProxyConfigSecretCommand: MeshCommand {
    static var spec: CommandSpec {
        CommandSpec(
            name: "secret",
            abstract: "The secrets of a sidecar: certificate chain and root CA, status, validity, serial number, dates",
            discussion: "Private keys are never printed: Envoy itself shows them as \"[redacted]\".",
            examples: [
                Example("The workload certificate and root CA", "meshctl proxy-config secret productpage-v1-6b746f74dc-9stvs.default"),
                Example("As JSON", "meshctl proxy-config secret -f config_dump.json -o json"),
            ],
            aliases: ["secrets", "s"],
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
        let dump = try source.configDump("config_dump?mask=dynamic_active_secrets,dynamic_warming_secrets", context)
        guard format != "short" else { return context.stdout.write(try source.data { try ProxyConfigTables().secrets(dump) }) }
        context.stdout.write(ProxyConfigOutput.renderSection(try source.data { try dump.secretsSection() }, yaml: format == "yaml"))
    }
}
