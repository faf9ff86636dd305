import Foundation
import KubeClient
import Manifests

/// `meshctl analyze`: finds configuration problems across resources, with Istio's message codes.
struct AnalyzeCommand: MeshCommand {
    /// Its spec completes --analyzer with every analyzer's name, which builds every kind's schema: finding
    /// another command by name (every `meshctl version`) need not.
    static var callNames: [String] { ["analyze"] }

    static var spec: CommandSpec {
        CommandSpec(
            name: "analyze",
            abstract: "Find problems across Istio configuration, reported with Istio's IST codes",
            discussion: """
            Runs Istio's analyzers over the given files: Gateways a VirtualService names must exist and
            serve its hosts, subsets it routes to must be defined, Service port names must tell the
            protocol, every Istio resource must pass schema validation, and so on. Messages carry Istio's
            codes (IST0101 ...) and levels; see https://istio.io/latest/docs/reference/config/analysis/.
            Files without a namespace are read as being in -n (default "default"). Directories are read
            recursively. Exit 79 when a message is at or above --failure-threshold, 0 otherwise.
            With --use-kube (the default) and a configured cluster, the cluster's resources are analyzed too,
            and the files' resources replace the cluster's of the same kind and name, as if they were applied;
            messages are shown for -n (default: the context's namespace) or every namespace with -A.
            """,
            examples: [
                Example("Analyze the cluster's namespace shop", "meshctl analyze -n shop"),
                Example("Check files against the cluster before applying them", "meshctl analyze -A new-rules.yaml"),
                Example("Analyze a folder of manifests and Istio configuration", "meshctl analyze --use-kube=false manifests/"),
                Example("Fail on warnings too, and hide Info messages",
                        "meshctl analyze --use-kube=false --failure-threshold Warning --output-threshold Warning rules.yaml"),
                Example("Run one analyzer and print JSON", "meshctl analyze --use-kube=false --analyzer virtualservice.GatewayAnalyzer -o json rules.yaml"),
                Example("Also report annotations of alpha-phase features (not part of a default run)",
                        "meshctl analyze --use-kube=false --analyzer annotations.AlphaAnalyzer --analyzer annotations.K8sAnalyzer deploy/"),
                Example("Hide a known message", "meshctl analyze --use-kube=false -S \"IST0118=Service legacy.shop\" manifests/"),
                Example("List the analyzers", "meshctl analyze -L"),
            ],
            flags: [
                FlagSpec("use-kube", kind: .bool, help: "Also read the cluster's resources (when a kubeconfig is configured)", default: "true"),
                FlagSpec("all-namespaces", short: "A", kind: .bool, help: "Analyze every namespace, not only -n"),
                OutputFormat.flag(Self.formats, default: .log),
                // Levels are read in any letter case (istioctl's users write ERROR), so the values are checked here, not by the parser.
                FlagSpec("failure-threshold", help: "Lowest level that makes the run fail (exit 79): Info, Warning or Error", default: "Error"),
                FlagSpec("output-threshold", help: "Lowest level that is printed: Info, Warning or Error", default: "Info"),
                FlagSpec("suppress", short: "S", kind: .repeatedValue, valueName: "CODE=Kind name.namespace",
                         help: "Hide messages of a code for matching resources; * matches any text (IST0118=Service *)"),
                FlagSpec("analyzer", kind: .repeatedValue, valueName: "NAME", help: "Run only this analyzer (repeatable; see -L)",
                         completion: .values(Analyzers.all.map(\.name))),
                FlagSpec("list-analyzers", short: "L", kind: .bool, help: "List the analyzers and exit"),
                FlagSpec("meshConfigFile", valueName: "FILE", help: "Mesh configuration to analyze with (the istio ConfigMap's mesh key)",
                         completion: .files),
                FlagSpec("ignore-unknown", kind: .bool, help: "Report files meshctl cannot read, but do not fail on them"),
                FlagSpec("color", kind: .bool, help: "Colour the levels when writing to a terminal (--color=false turns it off, as NO_COLOR does)",
                         default: "true"),
                FlagSpec("recursive", short: "R", kind: .bool, help: "Read directories recursively (always done; accepted for istioctl's command lines)"),
            ],
            arguments: [ArgumentSpec("FILE|DIR|-", help: "Files or directories to analyze", optional: true, repeating: true, completion: .files)])
    }

    /// The `-o` formats: istioctl's log lines, or the messages as JSON or YAML.
    static let formats: [OutputFormat] = [.log, .json, .yaml]

    /// A `--suppress` rule: a code and a `Kind name.namespace` pattern.
    struct Suppression: Equatable {
        var code: String
        var resource: String

        func hides(_ message: AnalysisMessage) -> Bool {
            guard message.type.code == code else { return false }
            let item = message.resource
            let subject = "\(item.kind) \(item.name)" + (item.namespace.map { ".\($0)" } ?? "")
            return Glob.matches(resource, subject)
        }
    }

    let files: [String]
    let listAnalyzers: Bool
    let ignoreUnknown: Bool
    let color: Bool
    let meshConfigFile: String?
    let useKube: Bool
    let allNamespaces: Bool
    let format: OutputFormat
    let failureThreshold: MessageLevel
    let outputThreshold: MessageLevel
    let suppressions: [Suppression]
    let analyzerNames: [String]
    let namespace: String?
    let istioNamespace: String

    init(_ invocation: Invocation) throws {
        let path = "meshctl analyze"
        files = invocation.arguments
        listAnalyzers = invocation.bool("list-analyzers")
        ignoreUnknown = invocation.bool("ignore-unknown")
        color = invocation.bool("color")
        meshConfigFile = invocation.string("meshConfigFile")
        useKube = invocation.bool("use-kube")
        allNamespaces = invocation.bool("all-namespaces")
        format = invocation.string("output").flatMap(OutputFormat.init(rawValue:)) ?? .log
        func level(_ flag: String, _ fallback: MessageLevel) throws -> MessageLevel {
            guard let text = invocation.string(flag) else { return fallback }
            guard let level = MessageLevel(name: text) else {
                throw UsageError.invalidValue(text, flag: "--\(flag)", allowed: MessageLevel.allCases.map(\.name), commandPath: path)
            }
            return level
        }
        failureThreshold = try level("failure-threshold", .error)
        outputThreshold = try level("output-threshold", .info)
        suppressions = try invocation.strings("suppress").map { text in
            let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, parts[0].hasPrefix("IST"), !parts[1].isEmpty else {
                throw UsageError(problem: "invalid --suppress \"\(text)\": write CODE=Kind name.namespace, e.g. \"IST0102=Namespace frod\" "
                                     + "or \"IST0107=Pod *.default\"", commandPath: path)
            }
            return Suppression(code: parts[0], resource: parts[1])
        }
        analyzerNames = invocation.strings("analyzer")
        namespace = invocation.global.namespace
        istioNamespace = invocation.global.istioNamespace
    }

    func validate() throws {
        for name in analyzerNames where Analyzers.named(name) == nil {
            throw UsageError(problem: "unknown analyzer \"\(name)\" (meshctl analyze -L lists them)",
                             suggestion: closestMatch(to: name, in: Analyzers.all.map(\.name)), commandPath: "meshctl analyze")
        }
        if !listAnalyzers && files.isEmpty && !useKube {
            throw UsageError(problem: "no files given with --use-kube=false: pass files or directories to analyze (or - for standard input)",
                             commandPath: "meshctl analyze")
        }
    }

    func run(_ context: CommandContext) throws {
        if listAnalyzers { return printAnalyzers(context) }
        var notes: [String] = []
        let inputs = try ManifestFiles.read(files, context, notes: &notes, manifestNamesOnly: true)
        let cluster = try clusterInputs(context, notes: &notes)
        let (fromFiles, documents) = try fileResources(inputs, defaultNamespace: cluster.namespace ?? "default", context)
        if !files.isEmpty && documents == 0 && !ignoreUnknown && !(inputs.isEmpty && !notes.isEmpty) {
            // Nothing to analyze in the files (those skipped by name are only noted, as istioctl does): without a
            // cluster that fails the run, with one the cluster is still analyzed.
            let problem = ManifestFiles.noObjects(in: inputs.map(\.name), given: files)
            guard !cluster.resources.isEmpty else { throw problem }
            notes.append(problem.message)
        }
        let resources = fromFiles.merged(over: cluster.resources)
        let messages = try analyze(resources, cluster: cluster, notes: &notes, context)
        let shown = inScope(messages, cluster: cluster).filter { message in !suppressions.contains { $0.hides(message) } }
        for note in notes { context.stderr.write("note: \(note)\n") }
        try report(shown, scope: scopeDescription(cluster), context)
    }

    /// `-L`: the analyzers and what each checks.
    private func printAnalyzers(_ context: CommandContext) {
        var table = TablePrinter(headers: ["NAME", "DESCRIPTION"])
        for analyzer in Analyzers.all { table.append([analyzer.name, analyzer.summary]) }
        context.stdout.write(table.render())
    }

    /// What the cluster adds to a run: its resources, and the namespace messages are shown for.
    struct ClusterInputs {
        var resources: [AnalyzedResource] = []
        /// -n, else the context's namespace when a cluster is read; nil with -A or for files alone.
        var namespace: String?
    }

    /// The configured cluster's resources (and its remote clusters' Services) with --use-kube; none without a cluster.
    private func clusterInputs(_ context: CommandContext, notes: inout [String]) throws -> ClusterInputs {
        var cluster = ClusterInputs(namespace: namespace)
        guard useKube else { return cluster }
        guard let access = try ClusterConnection.accessIfConfigured(context) else {
            guard !files.isEmpty else {
                throw CommandFailure("no cluster is configured (no kubeconfig) and no files were given: pass files, or set KUBECONFIG, "
                                     + "or start one with meshctl local up")
            }
            notes.append("no cluster is configured (no kubeconfig); analyzing the given files only")
            return cluster
        }
        let client = try ClusterConnection.client(context)
        cluster.resources = try ClusterConnection.call { try Self.clusterResources(client) }
        let remote = Self.remoteClusterServices(client, istioNamespace: istioNamespace, variables: context.environment.variables, notes: &notes)
        if !remote.isEmpty {
            // With other clusters in the analysis, this one's Services say which cluster they are from too.
            for index in cluster.resources.indices where cluster.resources[index].kind == "Service" {
                cluster.resources[index].cluster = access.contextName
            }
            cluster.resources += remote
        }
        if cluster.namespace == nil && !allNamespaces { cluster.namespace = access.namespace }
        return cluster
    }

    /// The objects of the given files; documents that are not Kubernetes objects fail the run, or with
    /// --ignore-unknown are reported and skipped.
    /// Also returns how many documents were read (an empty List is one, and holds no resources).
    private func fileResources(_ inputs: [(name: String, text: String)], defaultNamespace: String,
                               _ context: CommandContext) throws -> (resources: [AnalyzedResource], documents: Int) {
        var resources: [AnalyzedResource] = []
        var documents = 0
        var unreadable: [String] = []
        for input in inputs {
            do {
                for document in try YAMLParser.parse(input.text, file: input.name) where !document.root.isNull {
                    documents += 1
                    if let found = AnalyzedResource.all(in: document.root, file: input.name, defaultNamespace: defaultNamespace) {
                        resources += found
                    } else {
                        let at = document.root.location
                        unreadable.append("\(input.name):\(at.line):\(at.column): document \(document.index + 1) is not a Kubernetes object "
                                          + "(a mapping with apiVersion, kind and metadata)")
                    }
                }
            } catch {
                unreadable.append(ErrorReporter.message(for: error))
            }
        }
        if !unreadable.isEmpty {
            let report = "cannot read \(unreadable.count == 1 ? "a file" : "\(unreadable.count) files"):\n" + unreadable.joined(separator: "\n")
            guard ignoreUnknown else { throw InputDataError(report + "\n(--ignore-unknown analyzes the rest)") }
            context.stderr.write("note: " + report + "\n")
        }
        return (resources, documents)
    }

    /// The selected analyzers' messages over the resources, with the mesh configuration from an `istio` ConfigMap
    /// among them or --meshConfigFile.
    private func analyze(_ resources: [AnalyzedResource], cluster: ClusterInputs, notes: inout [String],
                         _ context: CommandContext) throws -> [AnalysisMessage] {
        // Files do not describe running pods, so analyzers that need them only run when asked for by name, or on a
        // cluster. A cluster that runs no pods at all (meshctl's local mode, which stores workloads without starting
        // them yet) would have every subset and selector reported as selecting nothing: those analyzers are left out.
        let podsAreRunning = !cluster.resources.isEmpty
        var analyzers = analyzerNames.isEmpty ? Analyzers.defaults(podsAreRunning: podsAreRunning) : analyzerNames.compactMap(Analyzers.named)
        if podsAreRunning && analyzerNames.isEmpty && !cluster.resources.contains(where: Self.isRunningPod) {
            analyzers = Analyzers.defaultsForClusterWithoutPods()
            notes.append("the cluster runs no pods, so analyzers of what selectors select were skipped ("
                         + Analyzers.all.filter { $0.runsByDefault && $0.reportsSelectorsWithoutPods }.map(\.name).joined(separator: ", ")
                         + "); name one with --analyzer to run it")
        }
        let istioConfigMap = resources.first { $0.kind == "ConfigMap" && $0.name == "istio" && $0.namespace == istioNamespace }
        func configMapKey(_ key: String) -> YAMLNode? {
            istioConfigMap?.node["data"]?[key]?.scalarText.flatMap { try? YAMLParser.parse($0).first?.root }
        }
        var meshConfig: YAMLNode? = configMapKey("mesh")
        if let meshConfigFile {
            let text = try FileSystem.readText(FileSystem.resolve(meshConfigFile, in: context.environment.workingDirectory), shownAs: meshConfigFile)
            meshConfig = try YAMLParser.parse(text, file: meshConfigFile).first?.root
            // Istio refuses a mesh config that breaks its rules before it analyzes anything.
            let errors = meshConfig.map(ResourceValidator.validateMeshConfig)?.filter { $0.severity == .error } ?? []
            if !errors.isEmpty {
                throw InputDataError(errors.map { "\(meshConfigFile):\($0.location.line):\($0.location.column): \($0.path.fieldPath): \($0.message)" }
                    .joined(separator: "\n") + "\nfix the mesh config (Istio refuses it too)")
            }
        }
        return Analyzers.run(analyzers, on: AnalysisInput(resources: resources, istioNamespace: istioNamespace, meshConfig: meshConfig,
                                                          meshNetworks: configMapKey("meshNetworks"), podsAreRunning: podsAreRunning,
                                                          credentials: TLSCredentialInspector()))
    }

    private static func isRunningPod(_ resource: AnalyzedResource) -> Bool {
        resource.kind == "Pod" && resource.node["status"]?["phase"]?.scalarText == "Running"
    }

    /// The messages about the namespace in scope (with -n, or a cluster's namespace); every message with -A or for files alone.
    private func inScope(_ messages: [AnalysisMessage], cluster: ClusterInputs) -> [AnalysisMessage] {
        guard !allNamespaces, let scope = cluster.namespace, namespace != nil || !cluster.resources.isEmpty else { return messages }
        // A Namespace's messages belong to the namespace it is; other cluster-wide objects' to every scope.
        return messages.filter { message in
            let resource = message.resource
            if resource.kind == "Namespace" { return resource.name == scope }
            return resource.namespace == nil || resource.namespace == scope
        }
    }

    /// "all namespaces", "namespace: shop" or "the given files", for the closing lines.
    private func scopeDescription(_ cluster: ClusterInputs) -> String {
        if allNamespaces { return "all namespaces" }
        let shown = namespace ?? (cluster.resources.isEmpty ? nil : cluster.namespace)
        return shown.map { "namespace: \($0)" } ?? "the given files"
    }

    /// Prints the messages at or above --output-threshold in the -o format; fails (exit 79) when one is at or
    /// above --failure-threshold.
    private func report(_ messages: [AnalysisMessage], scope: String, _ context: CommandContext) throws {
        let shown = messages.filter { $0.type.level >= outputThreshold }
        switch format {
        case .json:
            context.stdout.write(JSONEmitter(indent: 2).emit(.sequence(shown.map(Self.data))) + "\n")
        case .yaml:
            context.stdout.write(YAMLEmitter().emit(.sequence(shown.map(Self.data))))
        default:
            var style = context.outStyle
            if !color { style.enabled = false }
            for message in shown {
                let level = message.type.level
                let painted = level == .error ? style.error(level.name) : level == .warning ? style.warning(level.name) : level.name
                context.stdout.write(painted + message.logLine.dropFirst(level.name.count) + "\n")
            }
            if shown.isEmpty {
                context.stdout.write(style.success("✔") + " No validation issues found when analyzing \(scope).\n")
            }
        }
        if messages.contains(where: { $0.type.level >= failureThreshold }) {
            throw AnalyzeIssuesError(scope: scope, threshold: failureThreshold)
        }
    }

    /// The kinds the analyzers read, where the cluster serves them.
    static let clusterKinds: [(apiVersion: String, kind: String)] = [
        ("v1", "Namespace"), ("v1", "Pod"), ("v1", "Service"), ("v1", "ConfigMap"), ("v1", "Secret"), ("v1", "Endpoints"),
        ("apps/v1", "Deployment"), ("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration"),
        ("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration"), ("apiextensions.k8s.io/v1", "CustomResourceDefinition"),
        ("networking.istio.io/v1", "VirtualService"), ("networking.istio.io/v1", "DestinationRule"), ("networking.istio.io/v1", "Gateway"),
        ("networking.istio.io/v1", "ServiceEntry"), ("networking.istio.io/v1", "Sidecar"), ("networking.istio.io/v1", "WorkloadEntry"),
        ("networking.istio.io/v1", "WorkloadGroup"), ("networking.istio.io/v1alpha3", "EnvoyFilter"),
        ("security.istio.io/v1", "AuthorizationPolicy"), ("security.istio.io/v1", "PeerAuthentication"),
        ("security.istio.io/v1", "RequestAuthentication"), ("telemetry.istio.io/v1", "Telemetry"), ("extensions.istio.io/v1alpha1", "WasmPlugin"),
        ("gateway.networking.k8s.io/v1", "Gateway"), ("gateway.networking.k8s.io/v1", "HTTPRoute"), ("gateway.networking.k8s.io/v1", "GRPCRoute"),
    ]

    static func clusterResources(_ client: KubernetesClient) throws -> [AnalyzedResource] {
        var resources: [AnalyzedResource] = []
        for (apiVersion, kind) in clusterKinds {
            guard let location = try client.locate(apiVersion: apiVersion, kind: kind) else { continue }
            resources += try listed(client, location.prefix + "/" + location.plural, apiVersion: apiVersion, kind: kind)
        }
        return resources
    }

    /// A list's items as resources to analyze (list items often leave out apiVersion and kind).
    static func listed(_ client: KubernetesClient, _ path: String, apiVersion: String, kind: String, cluster: String? = nil) throws -> [AnalyzedResource] {
        try client.list(path).compactMap { item in
            var object = item
            if object["apiVersion"] == nil { object["apiVersion"] = .string(apiVersion) }
            if object["kind"] == nil { object["kind"] = .string(kind) }
            var resource = AnalyzedResource(object.yamlNode)
            resource?.cluster = cluster
            return resource
        }
    }

    /// The Services of the mesh's other clusters, found as istioctl finds them: remote secrets (label
    /// istio/multiCluster=true) in the istio namespace, one kubeconfig per key, the key naming the cluster.
    static func remoteClusterServices(_ client: KubernetesClient, istioNamespace: String, variables: [String: String],
                                      notes: inout [String]) -> [AnalyzedResource] {
        let secrets: [JSONValue]
        do {
            secrets = try client.list("/api/v1/namespaces/\(istioNamespace)/secrets?labelSelector=istio%2FmultiCluster%3Dtrue")
        } catch {
            // Without the remote secrets this cluster is analyzed alone; say why, rather than imply there are none.
            notes.append("cannot list the remote cluster secrets in \(istioNamespace) (\(error)); the mesh's other clusters are not analyzed")
            return []
        }
        var remote: [AnalyzedResource] = []
        for secret in secrets {
            for (cluster, encoded) in secret["data"]?.object ?? [] {
                guard let bytes = encoded.string.flatMap(Base64.decode) else { continue }
                let text = String(decoding: bytes, as: UTF8.self)
                do {
                    let access = try Kubeconfig.resolve(Kubeconfig.Options(kubeconfig: "remote-secret:\(cluster)", variables: variables,
                                                                           readFile: { $0 == "remote-secret:\(cluster)" ? text : nil }))
                    remote += try listed(try KubernetesClient(access: access), "/api/v1/services", apiVersion: "v1", kind: "Service", cluster: cluster)
                } catch {
                    notes.append("cannot read remote cluster \(cluster) (secret \(istioNamespace)/\(secret["metadata"]?["name"]?.string ?? "")): \(error)")
                }
            }
        }
        return remote
    }

    static func data(_ message: AnalysisMessage) -> YAMLNode {
        let resource = message.resource
        var fields: [(String, YAMLNode)] = [
            ("code", .string(message.type.code)), ("level", .string(message.type.level.name)), ("name", .string(message.type.name)),
            ("message", .string(message.text)), ("origin", .string(resource.origin)),
            ("kind", .string(resource.kind)), ("namespace", resource.namespace.map { YAMLNode.string($0) } ?? .null), ("resourceName", .string(resource.name)),
        ]
        if let file = resource.file { fields += [("file", .string(file)), ("line", .int(message.location.line))] }
        fields.append(("documentationUrl", .string(message.type.documentationURL)))
        return .mapping(fields)
    }
}

extension Array where Element == AnalyzedResource {
    /// These resources, then those of `others` that none of these replaces (same kind, namespace and name).
    func merged(over others: [AnalyzedResource]) -> [AnalyzedResource] {
        let replaced = Set(map { "\($0.kind)/\($0.namespaceOrEmpty)/\($0.name)" })
        return self + others.filter { !replaced.contains("\($0.kind)/\($0.namespaceOrEmpty)/\($0.name)") }
    }
}

/// `*` matching any run of characters, the rest literally.
enum Glob {
    static func matches(_ pattern: String, _ text: String) -> Bool {
        let pieces = pattern.split(separator: "*", omittingEmptySubsequences: false).map(String.init)
        guard pieces.count > 1 else { return pattern == text }
        guard text.hasPrefix(pieces[0]) else { return false }
        var rest = Substring(text.dropFirst(pieces[0].count))
        for piece in pieces.dropFirst().dropLast() where !piece.isEmpty {
            guard let range = rest.range(of: piece) else { return false }
            rest = rest[range.upperBound...]
        }
        return rest.hasSuffix(pieces.last!) && rest.count >= pieces.last!.count
    }
}
