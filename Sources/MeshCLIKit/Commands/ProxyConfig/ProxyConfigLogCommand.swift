import EnvoyConfig
import KubeClient

/// `meshctl proxy-config log`: a sidecar's Envoy logger levels, and changing them.
struct ProxyConfigLogCommand: MeshCommand {
    static var spec: CommandSpec {
        CommandSpec(
            name: "log",
            abstract: "Show or change the logging levels of a sidecar's Envoy",
            discussion: """
            Without --level: the level of every logger. --level LEVEL sets all loggers; --level http:debug,rbac:trace
            sets the named ones; --reset sets all back to warning. Levels: trace, debug, info, warning, error,
            critical, off. Envoy changes levels on POST /logging, which this sends through the API server.
            """,
            examples: [
                Example("The levels of every logger", "meshctl proxy-config log productpage-v1-6b746f74dc-9stvs.default"),
                Example("Debug the HTTP and RBAC loggers", "meshctl proxy-config log productpage-v1-6b746f74dc-9stvs.default --level http:debug,rbac:debug"),
                Example("Back to warning", "meshctl proxy-config log productpage-v1-6b746f74dc-9stvs.default --reset"),
                Example("The first pod of a selector", "meshctl proxy-config log -l app=productpage --level info"),
            ],
            aliases: ["o"],
            flags: [
                FlagSpec("level", help: "A level for all loggers, or logger:level pairs separated by commas"),
                FlagSpec("reset", short: "r", kind: .bool, help: "Reset every logger to warning"),
                FlagSpec("selector", short: "l", valueName: "key=value", help: "The pods this label selector finds, instead of a pod name"),
                FlagSpec("proxy-admin-port", valueName: "int", help: "The Envoy admin port of the pod", default: "15000"),
            ],
            arguments: [ArgumentSpec("POD[.NAMESPACE]", help: "The pod whose sidecar to ask", optional: true)])
    }

    /// The logger name that means "every logger" in Envoy's `/logging?level=...`.
    static let allLoggers = "level"
    static let levels = ["trace", "debug", "info", "warning", "warn", "error", "critical", "off"]

    let pod: String?
    let selector: String?
    let level: String?
    let reset: Bool
    let adminPort: Int
    let commandPath: String

    init(_ invocation: Invocation) throws {
        pod = invocation.arguments.first
        selector = invocation.string("selector")
        level = invocation.string("level")
        reset = invocation.bool("reset")
        adminPort = try invocation.int("proxy-admin-port") ?? 15000
        commandPath = invocation.pathText
    }

    func validate() throws {
        if pod == nil && selector == nil { throw UsageError(problem: "log requires pod name or --selector", commandPath: commandPath) }
        if reset && level != nil { throw UsageError(problem: "--level cannot be combined with --reset", commandPath: commandPath) }
        if let level {
            for item in level.split(separator: ",") where !item.contains(":") && !item.contains("=") && !Self.levels.contains(String(item)) {
                throw UsageError(problem: "unrecognized logging level: \(item) (use one of trace, debug, info, warning, error, critical, off)",
                                 commandPath: commandPath)
            }
        }
    }

    func run(_ context: CommandContext) throws {
        let client = try ClusterConnection.client(context)
        var pods: [(name: String, namespace: String)] = []
        if let selector {
            let namespace = client.access.namespace
            let found = try ClusterConnection.call {
                try client.list("/api/v1/namespaces/\(KubernetesClient.percentEncoded(namespace))/pods?labelSelector=\(KubernetesClient.percentEncoded(selector))")
            }
            guard !found.isEmpty else { throw CommandFailure("no pod in namespace \(namespace) matches -l \(selector)") }
            pods = found.map { ($0["metadata"]?["name"]?.string ?? "", namespace) }
        } else {
            let source = ProxyAdminSource(file: nil, pod: pod, adminPort: adminPort, commandPath: commandPath)
            try source.validate()
            pods = [source.podAndNamespace(client)]
        }
        for target in pods {
            let current = try post("logging", to: target, client)
            let changes = try requestedLevels(known: LoggerLevels(text: current))
            var answer = current
            for (logger, value) in changes { answer = try post("logging?\(logger)=\(value)", to: target, client) }
            context.stdout.write("\(target.name).\(target.namespace):\n\(answer)")
        }
    }

    private func post(_ path: String, to pod: (name: String, namespace: String), _ client: KubernetesClient) throws -> String {
        String(decoding: try ProxyAdminSource.adminGet(client, pod: pod.name, namespace: pod.namespace, port: adminPort, path: path, method: "POST"),
               as: UTF8.self)
    }

    /// The `logger=level` changes --level or --reset ask for, "every logger" first; names are checked against the
    /// loggers the proxy has.
    func requestedLevels(known: LoggerLevels) throws -> [(String, String)] {
        if reset { return [(Self.allLoggers, "warning")] }
        guard let level else { return [] }
        var all: String?
        var named: [(String, String)] = []
        for item in level.split(separator: ",").map(String.init) {
            guard item.contains(":") || item.contains("=") else {
                all = Self.normalized(item)
                continue
            }
            let pair = item.split(separator: "::").last.map(String.init) ?? item
            guard let separator = pair.firstIndex(where: { $0 == ":" || $0 == "=" }) else {
                throw UsageError(problem: "invalid --level item \"\(item)\": use LOGGER:LEVEL or LEVEL", commandPath: "meshctl proxy-config log")
            }
            let logger = String(pair[..<separator]), value = String(pair[pair.index(after: separator)...])
            guard logger == Self.allLoggers || known.levels.contains(where: { $0.logger == logger }) else {
                throw CommandFailure("unrecognized logger name: \(logger) (the proxy's loggers: meshctl proxy-config log POD)")
            }
            guard Self.levels.contains(value) else {
                throw UsageError(problem: "unrecognized logging level: \(value) (use one of trace, debug, info, warning, error, critical, off)",
                                 commandPath: commandPath)
            }
            if logger == Self.allLoggers { all = Self.normalized(value) } else { named.append((logger, Self.normalized(value))) }
        }
        return (all.map { [(Self.allLoggers, $0)] } ?? []) + named
    }

    static func normalized(_ level: String) -> String { level == "warn" ? "warning" : level }
}
