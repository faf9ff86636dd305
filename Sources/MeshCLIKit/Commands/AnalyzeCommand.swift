import Foundation
import Manifests

/// `meshctl analyze`: finds configuration problems across resources, with Istio's message codes.
struct AnalyzeCommand: MeshCommand {
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
            Reading the cluster (--use-kube) needs meshctl's Kubernetes client, which is not built yet;
            until then the files alone are analyzed.
            """,
            examples: [
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
                FlagSpec("use-kube", kind: .bool, help: "Also read the cluster's resources (not built yet: files alone are analyzed)", default: "true"),
                FlagSpec("all-namespaces", short: "A", kind: .bool, help: "Analyze every namespace, not only -n"),
                FlagSpec("output", short: "o", help: "Output format: one of log|json|yaml", default: "log", completion: .values(["log", "json", "yaml"])),
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
    let format: String
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
        format = invocation.string("output") ?? "log"
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
        if !listAnalyzers && files.isEmpty {
            throw UsageError(problem: useKube
                ? "no files given, and reading the cluster is not built yet: pass files or directories to analyze"
                : "no files given: pass files or directories to analyze (or - for standard input)", commandPath: "meshctl analyze")
        }
    }

    func run(_ context: CommandContext) throws {
        if listAnalyzers {
            var table = TablePrinter(headers: ["NAME", "DESCRIPTION"])
            for analyzer in Analyzers.all { table.append([analyzer.name, analyzer.summary]) }
            context.stdout.write(table.render())
            return
        }
        var notes: [String] = []
        let inputs = try ManifestFiles.read(files, context, notes: &notes, manifestNamesOnly: true)
        if useKube { notes.append("reading the cluster is not built yet; analyzing the given files only") }
        let defaultNamespace = namespace ?? "default"
        var resources: [AnalyzedResource] = []
        var unreadable: [String] = []
        for input in inputs {
            do {
                for document in try YAMLParser.parse(input.text, file: input.name) where !document.root.isNull {
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
        // Files do not describe running pods, so analyzers that need them only run when asked for by name.
        let analyzers = analyzerNames.isEmpty ? Analyzers.defaults(podsAreRunning: false) : analyzerNames.compactMap(Analyzers.named)
        // An `istio` ConfigMap among the files supplies the mesh config and networks, as in a cluster.
        let istioConfigMap = resources.first { $0.kind == "ConfigMap" && $0.name == "istio" && $0.namespace == istioNamespace }
        func configMapKey(_ key: String) -> YAMLNode? {
            istioConfigMap?.node["data"]?[key]?.scalarText.flatMap { try? YAMLParser.parse($0).first?.root }
        }
        var meshConfig: YAMLNode? = configMapKey("mesh")
        if let meshConfigFile {
            let text = try FileSystem.readText(FileSystem.resolve(meshConfigFile, in: context.environment.workingDirectory), shownAs: meshConfigFile)
            meshConfig = try YAMLParser.parse(text, file: meshConfigFile).first?.root
        }
        var messages = Analyzers.run(analyzers, on: AnalysisInput(resources: resources, istioNamespace: istioNamespace, meshConfig: meshConfig,
                                                                   meshNetworks: configMapKey("meshNetworks"), podsAreRunning: false,
                                                                   credentials: TLSCredentialInspector()))
        if !allNamespaces && namespace != nil {
            messages = messages.filter { $0.resource.namespace == nil || $0.resource.namespace == namespace }
        }
        messages = messages.filter { message in !suppressions.contains { $0.hides(message) } }
        let failing = messages.contains { $0.type.level >= failureThreshold }
        let shown = messages.filter { $0.type.level >= outputThreshold }
        for note in notes { context.stderr.write("note: \(note)\n") }
        let scope = allNamespaces ? "all namespaces" : namespace.map { "namespace: \($0)" } ?? "the given files"
        switch format {
        case "json", "yaml":
            let data = YAMLNode.sequence(shown.map(Self.data))
            context.stdout.write(format == "json" ? JSONEmitter(indent: 2).emit(data) + "\n" : YAMLEmitter().emit(data))
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
        if failing {
            throw AnalyzeIssuesError(scope: scope, threshold: failureThreshold)
        }
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
