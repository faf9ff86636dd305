import EnvoyConfig

/// `meshctl proxy-config endpoint`: each cluster's upstream hosts with their health, from Envoy's `/clusters`.
struct ProxyConfigEndpointCommand: MeshCommand {
    static var spec: CommandSpec {
        CommandSpec(
            name: "endpoint",
            abstract: "The endpoints of a sidecar's clusters: address, health, outlier ejection, cluster",
            discussion: """
            Reads Envoy's /clusters?format=json. With -f, a saved answer of it (a config dump taken with
            ?include_eds is read too, as `proxy-config eds` reads it).
            """,
            examples: [
                Example("All endpoints", "meshctl proxy-config endpoint productpage-v1-6b746f74dc-9stvs.default"),
                Example("The endpoints of one cluster", "meshctl proxy-config endpoint -f clusters.json --cluster 'outbound|9080|v1|reviews.default.svc.cluster.local'"),
                Example("Unhealthy endpoints", "meshctl proxy-config endpoint -f clusters.json --status unhealthy"),
            ],
            aliases: ["endpoints", "ep"],
            flags: ProxyAdminSource.flags + EndpointFilter.flags + [ProxyConfigOutput.flag()],
            arguments: [proxyPodArgument])
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
        let (text, shownAs) = try source.read("clusters?format=json", context)
        if source.file != nil, text.contains("\"configs\"") {
            let dump = try source.data { try ConfigDump(text: text, source: shownAs) }
            return context.stdout.write(ProxyConfigEDSCommand.render(dump, filter, format: format))
        }
        let statuses = try source.data { try ClusterStatuses(text: text, source: shownAs) }
        guard format != "short" else { return context.stdout.write(ProxyConfigTables().hostEndpoints(statuses, filter)) }
        let clusters = statuses.clusters.filter { cluster in cluster.hosts.contains { filter.accepts($0, cluster: cluster.name) } }
        context.stdout.write(ProxyConfigOutput.render(.array(clusters.map(\.json)), yaml: format == "yaml"))
    }
}

extension EndpointFilter {
    static let flags: [FlagSpec] = [
        FlagSpec("address", help: "Only endpoints with this address"),
        FlagSpec("port", valueName: "int", help: "Only endpoints on this port"),
        FlagSpec("cluster", help: "Only endpoints of this cluster"),
        FlagSpec("status", help: "Only endpoints with this health status", completion: .values(["healthy", "unhealthy", "draining", "timeout", "degraded", "unknown"])),
    ]

    init(_ invocation: Invocation) throws {
        self.init(address: invocation.string("address") ?? "", port: try invocation.int("port") ?? 0,
                  cluster: invocation.string("cluster") ?? "", status: invocation.string("status") ?? "")
    }
}
