import EnvoyConfig

/// `meshctl proxy-config cluster`: the clusters (upstream services) a sidecar knows.
struct ProxyConfigClusterCommand: MeshCommand {
    static var spec: CommandSpec {
        CommandSpec(
            name: "cluster",
            abstract: "The clusters of a sidecar: service FQDN, port, subset, direction, type, DestinationRule",
            examples: [
                Example("All clusters", "meshctl proxy-config cluster productpage-v1-6b746f74dc-9stvs.default"),
                Example("The clusters of one service and port", "meshctl proxy-config cluster -f config_dump.json --fqdn reviews.default.svc.cluster.local --port 9080"),
                Example("As JSON", "meshctl proxy-config cluster -f config_dump.json --subset v1 -o json"),
            ],
            aliases: ["clusters", "c"],
            flags: ProxyAdminSource.flags + [
                FlagSpec("fqdn", help: "Only clusters whose name contains this service FQDN"),
                FlagSpec("port", valueName: "int", help: "Only clusters of this port"),
                FlagSpec("subset", help: "Only clusters whose name contains this subset"),
                FlagSpec("direction", help: "Only clusters of this direction", completion: .values(["inbound", "outbound"])),
                ProxyConfigOutput.flag(),
            ],
            arguments: [proxyPodArgument])
    }

    let source: ProxyAdminSource
    let filter: ClusterFilter
    let format: String

    init(_ invocation: Invocation) throws {
        source = try ProxyAdminSource(invocation)
        filter = ClusterFilter(fqdn: invocation.string("fqdn") ?? "", port: try invocation.int("port") ?? 0,
                               subset: invocation.string("subset") ?? "", direction: invocation.string("direction") ?? "")
        format = proxyOutputFormat(invocation)
    }

    func validate() throws { try source.validate() }

    func run(_ context: CommandContext) throws {
        let dump = try source.configDump("config_dump?mask=dynamic_active_clusters,dynamic_warming_clusters,static_clusters", context)
        guard format != "short" else { return context.stdout.write(try source.data { try ProxyConfigTables().clusters(dump, filter) }) }
        let clusters = try source.data { try ProxyConfigTables.sortedClusters(dump) }.filter(filter.accepts)
        context.stdout.write(ProxyConfigOutput.render(.array(clusters.map(\.json)), yaml: format == "yaml"))
    }
}
