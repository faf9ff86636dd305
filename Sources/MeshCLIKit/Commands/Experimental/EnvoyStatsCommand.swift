import EnvoyConfig
import Manifests

/// `meshctl x envoy-stats`: a sidecar's statistics, as Envoy's admin port gives them.
struct EnvoyStatsCommand: MeshCommand {
    static var spec: CommandSpec {
        CommandSpec(
            name: "envoy-stats",
            abstract: "The statistics of a pod's sidecar: server counters and gauges, or per-cluster host statistics",
            discussion: """
            --type server (the default) reads Envoy's /stats (-o prom: /stats/prometheus, -o json: /stats?format=json);
            --type clusters reads /clusters (-o json: /clusters?format=json). -o raw prints Envoy's text as it is.
            """,
            examples: [
                Example("Server statistics", "meshctl x envoy-stats productpage-v1-6b746f74dc-9stvs.default"),
                Example("In Prometheus' format", "meshctl x envoy-stats productpage-v1-6b746f74dc-9stvs.default -o prom"),
                Example("Each cluster's hosts as JSON", "meshctl x envoy-stats productpage-v1-6b746f74dc-9stvs.default --type clusters -o json"),
            ],
            aliases: ["es"],
            flags: [
                FlagSpec("type", short: "t", help: "Where to read the statistics: server or clusters", default: "server",
                         completion: .values(["server", "clusters"])),
                FlagSpec("output", short: "o", help: "Output format: one of raw|json|yaml|prom", default: "raw",
                         completion: .values(["raw", "short", "json", "yaml", "prom"])),
                FlagSpec("proxy-admin-port", valueName: "int", help: "The Envoy admin port of the pod", default: "15000"),
            ],
            arguments: [ArgumentSpec("POD[.NAMESPACE]", help: "The pod whose sidecar to read")])
    }

    let source: ProxyAdminSource
    let type: String
    let format: String

    init(_ invocation: Invocation) throws {
        source = ProxyAdminSource(file: nil, pod: invocation.arguments.first, adminPort: try invocation.int("proxy-admin-port") ?? 15000,
                                  commandPath: invocation.pathText)
        type = invocation.string("type") ?? "server"
        format = invocation.string("output") ?? "raw"
    }

    func validate() throws {
        try source.validate()
        if type == "clusters" && format == "prom" {
            throw UsageError(problem: "-o prom is for --type server: Envoy's /clusters has no Prometheus form", commandPath: source.commandPath)
        }
    }

    /// The admin path for the type and format.
    var path: String {
        switch (type, format) {
        case ("clusters", "json"), ("clusters", "yaml"): return "clusters?format=json"
        case ("clusters", _): return "clusters"
        case (_, "json"), (_, "yaml"): return "stats?format=json"
        case (_, "prom"): return "stats/prometheus"
        default: return "stats"
        }
    }

    func run(_ context: CommandContext) throws {
        let (text, shownAs) = try source.read(path, context)
        guard format == "json" || format == "yaml" else { return context.stdout.write(text) }
        let value: JSONValue
        do {
            value = try JSONValue.parse(text)
        } catch {
            throw CommandFailure("\(shownAs) answered \(path) with something that is not JSON (\(error.description))")
        }
        if format == "yaml" { return context.stdout.write(YAMLEmitter(keyOrder: .sorted).emit(value.yamlNode)) }
        context.stdout.write(JSONEmitter(indent: 4).emit(value.yamlNode) + "\n")
    }
}
