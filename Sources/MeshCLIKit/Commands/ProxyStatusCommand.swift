import EnvoyConfig
import KubeClient
import Manifests

/// `meshctl proxy-status`: each proxy connected to istiod, and whether it holds the configuration istiod sent.
struct ProxyStatusCommand: MeshCommand {
    static var spec: CommandSpec {
        CommandSpec(
            name: "proxy-status",
            abstract: "The proxies connected to istiod and whether each has acknowledged the configuration it was sent",
            discussion: """
            Asks every running istiod pod (label app=istiod in the Istio namespace; --revision for one revision) for
            its /debug/syncz on port 15014, through the API server's pod proxy. SUBSCRIBED TYPES counts the xDS types a
            proxy asked for; --verbosity 1 shows each type as SYNCED (acknowledged), STALE (sent, not yet
            acknowledged), NOT SENT or ERROR.
            """,
            examples: [
                Example("Every proxy", "meshctl proxy-status"),
                Example("Each xDS type of each proxy", "meshctl proxy-status --verbosity 1"),
                Example("The proxies of one revision's istiod", "meshctl proxy-status --revision canary"),
            ],
            aliases: ["ps"],
            flags: [
                FlagSpec("revision", short: "r", help: "Only the istiod pods of this revision (label istio.io/rev)"),
                FlagSpec("output", short: "o", help: "Output format: one of table|json|yaml", default: "table", completion: .values(["table", "json", "yaml"])),
            ],
            arguments: [ArgumentSpec("POD[.NAMESPACE]", help: "Only this proxy", optional: true)])
    }

    let pod: String?
    let revision: String?
    let format: String
    let commandPath: String

    init(_ invocation: Invocation) throws {
        pod = invocation.arguments.first
        revision = invocation.string("revision")
        format = invocation.string("output") ?? "table"
        commandPath = invocation.pathText
    }

    func validate() throws {
        if pod != nil { try ProxyAdminSource(file: nil, pod: pod, adminPort: 15000, commandPath: commandPath).validate() }
    }

    func run(_ context: CommandContext) throws {
        let client = try ClusterConnection.client(context)
        let istioNamespace = context.global.istioNamespace
        var only: String?
        if let pod {
            let (name, namespace) = ProxyAdminSource(file: nil, pod: pod, adminPort: 15000, commandPath: commandPath).podAndNamespace(client)
            try ProxyAdminSource.checkSidecar(client, pod: name, namespace: namespace)
            only = "\(name).\(namespace)"
        }
        var selector = "app=istiod"
        if let revision { selector += ",istio.io/rev=\(revision)" }
        let istiods = try ClusterConnection.call {
            try client.list("/api/v1/namespaces/\(KubernetesClient.percentEncoded(istioNamespace))/pods?labelSelector=\(KubernetesClient.percentEncoded(selector))")
        }.filter { $0["status"]?["phase"]?.string == "Running" }.compactMap { $0["metadata"]?["name"]?.string }
        guard !istiods.isEmpty else {
            throw CommandFailure("no running Istio pods in \"\(istioNamespace)\"\(revision.map { " of revision \($0)" } ?? ""): is istiod installed "
                                 + "there? (-i names another Istio namespace)")
        }
        var proxies: [ProxySyncStatus] = []
        for istiod in istiods.sorted() {
            let body = try ProxyAdminSource.adminGet(client, pod: istiod, namespace: istioNamespace, port: 15014, path: "debug/syncz", checked: true)
            do {
                proxies += try ProxySyncStatus.read(String(decoding: body, as: UTF8.self), istiod: istiod)
            } catch {
                throw CommandFailure(error.description)
            }
        }
        if let only { proxies = proxies.filter { $0.proxyID.split(separator: "~").dropFirst(2).first.map(String.init) == only || $0.proxyID == only } }
        switch format {
        case "json", "yaml":
            let rows: JSONValue = .array(proxies.sorted { $0.proxyID < $1.proxyID }.map { proxy in
                .object([("proxy", .string(proxy.proxyID)), ("cluster", .string(proxy.clusterID)), ("istiod", .string(proxy.istiod)),
                         ("version", .string(proxy.istioVersion)),
                         ("status", .object(ProxySyncStatus.types.compactMap { type in proxy.statuses[type.name].map { (type.name, .string($0)) } }))])
            })
            context.stdout.write(format == "json" ? JSONEmitter(indent: 2).emit(rows.yamlNode) + "\n" : YAMLEmitter().emit(rows.yamlNode))
        default:
            context.stdout.write(ProxyStatusTable.render(proxies, verbose: context.global.verbosity >= 1))
        }
    }
}
