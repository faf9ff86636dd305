import EnvoyConfig

/// `meshctl proxy-config route`: the route configurations of a sidecar, a row per route.
struct ProxyConfigRouteCommand: MeshCommand {
    static var spec: CommandSpec {
        CommandSpec(
            name: "route",
            abstract: "The routes of a sidecar: route configuration, virtual host, domains, match, VirtualService",
            examples: [
                Example("All routes", "meshctl proxy-config route productpage-v1-6b746f74dc-9stvs.default"),
                Example("The routes of port 9080", "meshctl proxy-config route -f config_dump.json --name 9080"),
                Example("As YAML", "meshctl proxy-config route -f config_dump.json --name 9080 -o yaml"),
            ],
            aliases: ["routes", "r"],
            flags: ProxyAdminSource.flags + [
                FlagSpec("name", help: "Only the route configuration of this name"),
                FlagSpec("verbose", kind: .bool, help: "A row per route (--verbose=false: a row per route configuration)", default: "true"),
                ProxyConfigOutput.flag(),
            ],
            arguments: [proxyPodArgument])
    }

    let source: ProxyAdminSource
    let filter: RouteFilter
    let format: String

    init(_ invocation: Invocation) throws {
        source = try ProxyAdminSource(invocation)
        filter = RouteFilter(name: invocation.string("name") ?? "", verbose: invocation.bool("verbose"))
        format = proxyOutputFormat(invocation)
    }

    func validate() throws { try source.validate() }

    func run(_ context: CommandContext) throws {
        let dump = try source.configDump("config_dump?mask=dynamic_route_configs,static_route_configs", context)
        guard format != "short" else { return context.stdout.write(try source.data { try ProxyConfigTables().routes(dump, filter) }) }
        let routes = try source.data { try ProxyConfigTables.sortedRoutes(dump) }.filter(filter.accepts)
        context.stdout.write(ProxyConfigOutput.render(.array(routes.map(\.json)), yaml: format == "yaml"))
    }
}
