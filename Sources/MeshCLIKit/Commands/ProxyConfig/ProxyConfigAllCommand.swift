import EnvoyConfig
import Manifests

/// `meshctl proxy-config all`: every table of a sidecar at once.
struct ProxyConfigAllCommand: MeshCommand {
    static var spec: CommandSpec {
        CommandSpec(
            name: "all",
            abstract: "Everything of a sidecar: versions, clusters, listeners, routes, secrets and endpoints",
            examples: [
                Example("Every table", "meshctl proxy-config all productpage-v1-6b746f74dc-9stvs.default"),
                Example("With a title per table", "meshctl proxy-config all -f config_dump.json --with-headers"),
                Example("The whole config dump as JSON", "meshctl proxy-config all -f config_dump.json -o json"),
            ],
            aliases: ["a"],
            flags: ProxyAdminSource.flags + [
                FlagSpec("with-headers", kind: .bool, help: "A title line before each table"),
                FlagSpec("fqdn", help: "Only clusters whose name contains this service FQDN"),
                FlagSpec("direction", help: "Only clusters of this direction", completion: .values(["inbound", "outbound"])),
                FlagSpec("subset", help: "Only clusters whose name contains this subset"),
                FlagSpec("port", valueName: "int", help: "Only clusters, listeners and endpoints of this port"),
                FlagSpec("address", help: "Only listeners and endpoints on this address"),
                FlagSpec("type", help: "Only listeners of this protocol", completion: .values(["HTTP", "TCP", "HTTP+TCP"])),
                FlagSpec("name", help: "Only the route configuration of this name"),
                FlagSpec("verbose", kind: .bool, help: "A row per filter chain and per route", default: "true"),
                ProxyConfigOutput.flag(),
            ],
            arguments: [proxyPodArgument])
    }

    let source: ProxyAdminSource
    let headers: Bool
    let clusters: ClusterFilter
    let listeners: ListenerFilter
    let routes: RouteFilter
    let endpoints: EndpointFilter
    let format: String

    init(_ invocation: Invocation) throws {
        source = try ProxyAdminSource(invocation)
        headers = invocation.bool("with-headers")
        let port = try invocation.int("port") ?? 0
        let address = invocation.string("address") ?? ""
        let verbose = invocation.bool("verbose")
        clusters = ClusterFilter(fqdn: invocation.string("fqdn") ?? "", port: port, subset: invocation.string("subset") ?? "",
                                 direction: invocation.string("direction") ?? "")
        listeners = ListenerFilter(address: address, port: port, type: invocation.string("type") ?? "", verbose: verbose)
        routes = RouteFilter(name: invocation.string("name") ?? "", verbose: verbose)
        endpoints = EndpointFilter(address: address, port: port)
        format = proxyOutputFormat(invocation)
    }

    func validate() throws { try source.validate() }

    func run(_ context: CommandContext) throws {
        let (text, shownAs) = try source.read("config_dump?include_eds=true", context)
        let dump = try source.data { try ConfigDump(text: text, source: shownAs) }
        guard format != "short" else {
            return context.stdout.write(try source.data {
                try ProxyConfigTables(kinds: true).all(dump, clusters: clusters, listeners: listeners, routes: routes, endpoints: endpoints, headers: headers)
            })
        }
        // The whole dump, as Envoy wrote it.
        context.stdout.write(ProxyConfigOutput.render(.object([("configs", .array(dump.configs))]), yaml: format == "yaml"))
    }
}
