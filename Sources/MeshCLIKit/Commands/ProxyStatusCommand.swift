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
            acknowledged), NOT SENT or ERROR. -n shows only the proxies of that namespace. -o json|yaml prints each
            istiod's answer as a CSDS DiscoveryResponse (one ClientConfig per proxy), as istioctl does.
            With a POD: the difference between what istiod sent that proxy (istiod's /debug/config_dump?proxyID=POD.NS)
            and what the proxy holds (its own /config_dump, or --file), for dynamic clusters, listeners and routes:
            "Clusters Match", or "Clusters Don't Match" and a unified diff, and the same for listeners and routes.
            """,
            examples: [
                Example("Every proxy", "meshctl proxy-status"),
                Example("Each xDS type of each proxy", "meshctl proxy-status --verbosity 1"),
                Example("The proxies of one revision's istiod", "meshctl proxy-status --revision canary"),
                Example("Whether one proxy holds what istiod sent it", "meshctl proxy-status productpage-v1-6b746f74dc-9stvs.default"),
            ],
            aliases: ["ps"],
            flags: [
                FlagSpec("revision", short: "r", help: "Only the istiod pods of this revision (label istio.io/rev)"),
                FlagSpec("output", short: "o", help: "Output format: one of table|json|yaml", default: "table", completion: .values(formats)),
                FlagSpec("file", valueName: "FILE", help: "With a POD: compare with this saved /config_dump instead of the pod's", completion: .files),
                FlagSpec("proxy-admin-port", valueName: "int", help: "The Envoy admin port of the pod", default: "15000"),
            ],
            arguments: [ArgumentSpec("POD[.NAMESPACE]", help: "Only this proxy: compare what istiod sent it with what it holds", optional: true)])
    }

    static let formats = ["table", "json", "yaml"]

    let pod: String?
    let revision: String?
    let format: String
    let file: String?
    let adminPort: Int
    let commandPath: String

    init(_ invocation: Invocation) throws {
        pod = invocation.arguments.first
        revision = invocation.string("revision")
        format = invocation.string("output") ?? "table"
        file = invocation.string("file")
        adminPort = try invocation.int("proxy-admin-port") ?? 15000
        commandPath = invocation.pathText
    }

    var podSource: ProxyAdminSource { ProxyAdminSource(file: nil, pod: pod, adminPort: adminPort, commandPath: commandPath) }

    func validate() throws {
        guard Self.formats.contains(format) else {
            throw UsageError(problem: "output format \"\(format)\" not supported: use table, json or yaml", commandPath: commandPath)
        }
        if pod != nil { try podSource.validate() }
        if file != nil && pod == nil { throw UsageError(problem: "--file needs a POD to compare with istiod", commandPath: commandPath) }
    }

    func run(_ context: CommandContext) throws {
        let client = try ClusterConnection.client(context)
        let istioNamespace = context.global.istioNamespace
        let istiods = try Self.runningIstiods(client, istioNamespace: istioNamespace, revision: revision).map(\.name)
        if pod != nil { return context.stdout.write(try comparison(client, istiods: istiods, istioNamespace: istioNamespace, context)) }
        var answers: [(istiod: String, text: String)] = []
        for istiod in istiods.sorted() {
            let body = try ProxyAdminSource.adminGet(client, pod: istiod, namespace: istioNamespace, port: 15014, path: "debug/syncz", checked: true)
            answers.append((istiod, String(decoding: body, as: UTF8.self)))
        }
        let namespace = context.global.namespace
        do {
            switch format {
            case "json", "yaml":
                for (istiod, text) in answers {
                    var response = try CSDSResponse.response(fromAnswer: text, istiod: istiod)
                    if let namespace { response = CSDSResponse.filtered(response, namespace: namespace) }
                    context.stdout.write(ProxyStatusOutput.render(response, yaml: format == "yaml"))
                }
            default:
                var proxies = try answers.flatMap { try ProxySyncStatus.read($0.text, istiod: $0.istiod) }
                if let namespace { proxies = proxies.filter { $0.namespace == namespace } }
                context.stdout.write(ProxyStatusTable.render(proxies, verbose: context.global.verbosity >= 1))
            }
        } catch let error as EnvoyDataError {
            throw CommandFailure(error.description)
        }
    }

    /// The running istiod pods of the Istio namespace (and revision), with their istio.io/rev label; none is an
    /// error saying where it looked.
    static func runningIstiods(_ client: KubernetesClient, istioNamespace: String, revision: String?) throws -> [(name: String, revision: String?)] {
        var selector = "app=istiod"
        if let revision { selector += ",istio.io/rev=\(revision)" }
        let istiods = try ClusterConnection.call {
            try client.list("/api/v1/namespaces/\(KubernetesClient.percentEncoded(istioNamespace))/pods?labelSelector=\(KubernetesClient.percentEncoded(selector))")
        }.filter { $0["status"]?["phase"]?.string == "Running" }.compactMap { pod in
            pod["metadata"]?["name"]?.string.map { (name: $0, revision: pod.labelMap["istio.io/rev"]) }
        }
        guard !istiods.isEmpty else {
            throw CommandFailure("no running Istio pods in \"\(istioNamespace)\"\(revision.map { " of revision \($0)" } ?? ""): is istiod installed "
                                 + "there? (-i names another Istio namespace)")
        }
        return istiods
    }

    /// What istiod sent the pod against what its proxy holds.
    func comparison(_ client: KubernetesClient, istiods: [String], istioNamespace: String, _ context: CommandContext) throws -> String {
        let (name, namespace) = podSource.podAndNamespace(client)
        try ProxyAdminSource.checkSidecar(client, pod: name, namespace: namespace)
        let envoyText: String, envoySource: String
        if let file {
            envoyText = try FileSystem.readText(FileSystem.resolve(file, in: context.environment.workingDirectory), shownAs: file)
            envoySource = file
        } else {
            envoyText = String(decoding: try ProxyAdminSource.adminGet(client, pod: name, namespace: namespace, port: adminPort, path: "config_dump",
                                                                       checked: true), as: UTF8.self)
            envoySource = "pod \(name).\(namespace)"
        }
        let envoy: ConfigDump
        do { envoy = try ConfigDump(text: envoyText, source: envoySource) } catch {
            if file != nil { throw InputDataError(error.description) }
            throw CommandFailure(error.description)
        }
        // The proxy is connected to one istiod; the others have no config dump for it.
        var refusals: [String] = []
        for istiod in istiods.sorted() {
            let path = "debug/config_dump?proxyID=\(KubernetesClient.percentEncoded("\(name).\(namespace)"))"
            do {
                let body = try ProxyAdminSource.adminGet(client, pod: istiod, namespace: istioNamespace, port: 15014, path: path, checked: true)
                let dump = try ConfigDump(text: String(decoding: body, as: UTF8.self), source: "istiod \(istiod)")
                if !dump.configs.isEmpty { return ConfigComparison(istiod: dump, envoy: envoy).report() }
                refusals.append("\(istiod): no configuration")
            } catch let error as CommandFailure {
                refusals.append(error.message)
            } catch let error as EnvoyDataError {
                refusals.append(error.description)
            }
        }
        throw CommandFailure("no istiod in \"\(istioNamespace)\" has a config dump for proxy \(name).\(namespace) (\(refusals.joined(separator: "; "))): "
                             + "is the proxy connected? (meshctl proxy-status lists the connected proxies)")
    }
}
