import EnvoyConfig

/// `meshctl proxy-config listener`: the listeners of a sidecar and where each filter chain sends traffic.
struct ProxyConfigListenerCommand: MeshCommand {
    static var spec: CommandSpec {
        CommandSpec(
            name: "listener",
            abstract: "The listeners of a sidecar: address, port, each filter chain's match and destination",
            examples: [
                Example("All listeners", "meshctl proxy-config listener productpage-v1-6b746f74dc-9stvs.default"),
                Example("The listeners on port 9080", "meshctl proxy-config listener -f config_dump.json --port 9080"),
                Example("HTTP listeners, one row each", "meshctl proxy-config listener -f config_dump.json --type HTTP --verbose=false"),
                Example("A waypoint's listeners and matcher paths", "meshctl proxy-config listener waypoint-7d9c6b8f4-x2x5m.default --waypoint"),
            ],
            aliases: ["listeners", "l"],
            flags: ProxyAdminSource.flags + [
                FlagSpec("address", help: "Only listeners on this address"),
                FlagSpec("port", valueName: "int", help: "Only listeners on this port"),
                FlagSpec("type", help: "Only listeners of this protocol", completion: .values(["HTTP", "TCP", "HTTP+TCP"])),
                FlagSpec("verbose", kind: .bool, help: "A row per filter chain with its match and destination (--verbose=false: a row per listener)",
                         default: "true"),
                FlagSpec("waypoint", kind: .bool, help: "A waypoint's listeners: a row per filter chain and each filter chain matcher path to it"),
                ProxyConfigOutput.flag(),
            ],
            arguments: [proxyPodArgument])
    }

    let source: ProxyAdminSource
    let filter: ListenerFilter
    let format: String
    let waypoint: Bool

    init(_ invocation: Invocation) throws {
        source = try ProxyAdminSource(invocation)
        filter = ListenerFilter(address: invocation.string("address") ?? "", port: try invocation.int("port") ?? 0,
                                type: invocation.string("type") ?? "", verbose: invocation.bool("verbose"))
        format = proxyOutputFormat(invocation)
        waypoint = invocation.bool("waypoint")
    }

    func validate() throws { try source.validate() }

    func run(_ context: CommandContext) throws {
        let dump = try source.configDump("config_dump?mask=dynamic_listeners,static_listeners", context)
        if waypoint { return context.stdout.write(WaypointListeners.render(try source.data { try ProxyConfigTables.sortedListeners(dump) })) }
        guard format != "short" else { return context.stdout.write(try source.data { try ProxyConfigTables().listeners(dump, filter) }) }
        let listeners = try source.data { try ProxyConfigTables.sortedListeners(dump) }.filter(filter.accepts)
        context.stdout.write(ProxyConfigOutput.render(.array(listeners.map(\.json)), yaml: format == "yaml"))
    }
}
