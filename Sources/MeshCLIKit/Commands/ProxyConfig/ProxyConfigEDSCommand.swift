import EnvoyConfig
import Manifests

/// `meshctl proxy-config eds` (hidden, as in istioctl): the load assignments of a config dump taken with `?include_eds`.
struct ProxyConfigEDSCommand: MeshCommand {
    static var spec: CommandSpec {
        CommandSpec(
            name: "eds",
            abstract: "The endpoints of a sidecar's load assignments (config_dump?include_eds)",
            examples: [Example("Endpoints on port 8080", "meshctl proxy-config eds -f config_dump.json --port 8080")],
            flags: ProxyAdminSource.flags + EndpointFilter.flags + [ProxyConfigOutput.flag()],
            arguments: [proxyPodArgument],
            hidden: true)
    }

    let source: ProxyAdminSource
    let filter: EndpointFilter
    let format: String

    init(_ invocation: Invocation) throws {
        source = try ProxyAdminSource(invocation)
        filter = try EndpointFilter(invocation)
        format = proxyOutputFormat(invocation)
    }

    func validate() throws { try source.validate() }

    func run(_ context: CommandContext) throws {
        context.stdout.write(Self.render(try source.configDump("config_dump?include_eds=true", context), filter, format: format))
    }

    static func render(_ dump: ConfigDump, _ filter: EndpointFilter, format: String) -> String {
        guard format != "short" else { return ProxyConfigTables().loadAssignmentEndpoints(dump, filter) }
        return ProxyConfigOutput.render(.array(ProxyConfigTables.loadAssignments(dump, filter).map(\.json)), yaml: format == "yaml")
    }
}
