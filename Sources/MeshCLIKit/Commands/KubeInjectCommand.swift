import Manifests

/// `meshctl kube-inject`: adds the Istio sidecar to Kubernetes manifests, as Istio's injector would.
struct KubeInjectCommand: MeshCommand {
    static var spec: CommandSpec {
        CommandSpec(
            name: "kube-inject",
            abstract: "Add the Istio sidecar to Kubernetes manifests, offline",
            discussion: """
            Reads Kubernetes manifests and writes them back with the Istio sidecar added to every
            workload (Pod, Deployment, StatefulSet, DaemonSet, Job, CronJob, ReplicaSet,
            ReplicationController, DeploymentConfig, and the items of a List), exactly as Istio's own
            injector would. Other documents pass through unchanged. Workloads with host networking or
            with sidecar.istio.io/inject: "false" are left as they are, with a note on stderr.

            With no configuration flags meshctl uses its built-in defaults, those of a default Istio
            1.32 installation (docker.io/istio, 1.32.0; change them with --set). Otherwise the
            configuration comes from the files istioctl takes: --injectConfigFile (the
            istio-sidecar-injector ConfigMap's data.config, or a bare template), --valuesFile (its
            data.values), --meshConfigFile (the istio ConfigMap's data.mesh) and --operatorFileName (an
            IstioOperator, for values and mesh config). Get them from a cluster with:
              kubectl -n istio-system get configmap istio-sidecar-injector -o jsonpath='{.data.config}'
              kubectl -n istio-system get configmap istio-sidecar-injector -o jsonpath='{.data.values}'
              kubectl -n istio-system get configmap istio -o jsonpath='{.data.mesh}'
            Set ENABLE_NATIVE_SIDECARS=true to inject the proxy as a Kubernetes native sidecar.
            """,
            examples: [
                Example("Inject the sidecar with the built-in defaults and apply the result",
                        "meshctl kube-inject -f deployment.yaml | kubectl apply -f -"),
                Example("Inject with a cluster's own configuration, saved from its ConfigMaps",
                        "meshctl kube-inject -f deployment.yaml --injectConfigFile inject-config.yaml --valuesFile values.json --meshConfigFile mesh.yaml"),
                Example("Inject every manifest in a folder into a new file",
                        "meshctl kube-inject -f manifests/ -o injected.yaml --injectConfigFile inject-config.yaml --valuesFile values.json"),
                Example("Override a value, as istioctl install --set does",
                        "meshctl kube-inject -f app.yaml --injectConfigFile inject-config.yaml --valuesFile values.json --set values.global.proxy.image=proxyv2"),
            ],
            aliases: ["ki"],
            flags: [
                FlagSpec("filename", short: "f", valueName: "FILE",
                         help: "Manifest file, directory of .yaml/.yml/.json files, or - for standard input", completion: .files),
                FlagSpec("output", short: "o", valueName: "FILE", help: "Write the result to this file (atomically) instead of standard output",
                         completion: .files),
                FlagSpec("meshConfigFile", valueName: "FILE", help: "Mesh configuration file (the istio ConfigMap's data.mesh)",
                         completion: .files),
                FlagSpec("injectConfigFile", valueName: "FILE",
                         help: "Injection configuration or template file (the istio-sidecar-injector ConfigMap's data.config)",
                         completion: .files),
                FlagSpec("valuesFile", valueName: "FILE",
                         help: "Injection values file (the istio-sidecar-injector ConfigMap's data.values)", completion: .files),
                FlagSpec("operatorFileName", valueName: "FILE", help: "IstioOperator file to take values and mesh config from",
                         completion: .files),
                FlagSpec("revision", short: "r", help: "Control plane revision whose configuration to use"),
                FlagSpec("meshConfigMapName", help: "Read the mesh configuration from this ConfigMap in the cluster (istio namespace)",
                         default: "istio"),
                FlagSpec("injectConfigMapName", help: "Read the injection templates and values from this ConfigMap in the cluster (istio namespace)",
                         default: "istio-sidecar-injector"),
                FlagSpec("set", kind: .repeatedValue, valueName: "key=value",
                         help: "Override an injection value, as with istioctl install (values.global.proxy.image=...)"),
            ])
    }

    let filename: String?
    let outputFile: String?
    let meshConfigFile: String?
    let injectConfigFile: String?
    let valuesFile: String?
    let operatorFile: String?
    let revision: String
    let assignments: [String]
    /// --meshConfigMapName / --injectConfigMapName given: they name ConfigMaps in a cluster.
    let namesClusterConfigMaps: Bool

    init(_ invocation: Invocation) throws {
        filename = invocation.string("filename")
        outputFile = invocation.string("output")
        meshConfigFile = invocation.string("meshConfigFile")
        injectConfigFile = invocation.string("injectConfigFile")
        valuesFile = invocation.string("valuesFile")
        operatorFile = invocation.string("operatorFileName")
        revision = invocation.string("revision") ?? ""
        assignments = invocation.strings("set")
        namesClusterConfigMaps = invocation.isSet("meshConfigMapName") || invocation.isSet("injectConfigMapName")
        meshConfigMapName = invocation.string("meshConfigMapName") ?? "istio"
        injectConfigMapName = invocation.string("injectConfigMapName") ?? "istio-sidecar-injector"
    }

    let meshConfigMapName: String
    let injectConfigMapName: String

    /// The injector and mesh ConfigMaps of the cluster's control plane (of `--revision`, whose ConfigMaps end in -REV).
    private func clusterSettings(_ context: CommandContext) throws -> InjectionSettings {
        let client = try ClusterConnection.client(context)
        let namespace = context.global.istioNamespace
        let suffix = revision.isEmpty || revision == "default" ? "" : "-\(revision)"
        func configMap(_ name: String) throws -> JSONValue {
            let full = name + (name.hasSuffix(suffix) ? "" : suffix)
            return try ClusterConnection.call { try client.get("/api/v1/namespaces/\(namespace)/configmaps/\(full)") }
        }
        let injector = try configMap(injectConfigMapName)
        let meshMap = try configMap(meshConfigMapName)
        let source = "ConfigMap \(namespace)/\(injectConfigMapName)\(suffix)"
        let valuesText = injector["data"]?["values"]?.string ?? "{}"
        var values = try YAMLParser.parse(valuesText, file: source + " data.values").first?.root ?? .mapping([])
        for assignment in assignments { values = ValuesOverlay.applying(assignment, to: values) ?? values }
        let configText = injector["data"]?["config"]?.string ?? ""
        // The ConfigMap is read as it is: a template it lacks is an error, as in Istio.
        let config = try InjectorConfig(yaml: configText, file: source + " data.config")
        let mesh = try MeshConfiguration(yaml: meshMap["data"]?["mesh"]?.string, file: "ConfigMap \(namespace)/\(meshConfigMapName) data.mesh")
        return InjectionSettings(config: config, values: values, mesh: mesh, revision: revision,
                                 nativeSidecars: context.environment.variables["ENABLE_NATIVE_SIDECARS"] == "true",
                                 compliancePolicy: context.environment.variables["COMPLIANCE_POLICY"] ?? "")
    }

    func validate() throws {
        guard let filename, !filename.isEmpty else {
            throw UsageError(problem: "filename not specified (see --filename or -f): give a manifest file, a directory, or - for standard input",
                             commandPath: "meshctl kube-inject")
        }
        if namesClusterConfigMaps && (meshConfigFile != nil || injectConfigFile != nil || valuesFile != nil) {
            throw UsageError(problem: "take the configuration from the cluster (--meshConfigMapName/--injectConfigMapName) or from files "
                             + "(--meshConfigFile/--injectConfigFile/--valuesFile), not both", commandPath: "meshctl kube-inject")
        }
        for assignment in assignments where !Self.isAssignment(assignment) {
            throw UsageError(problem: "invalid --set \"\(assignment)\": expected key=value with a dotted key, e.g. values.global.proxy.image=proxyv2",
                             commandPath: "meshctl kube-inject")
        }
    }

    /// `key=value` with a key of dot-separated names (`values.global.proxy.image`); the value may be empty.
    static func isAssignment(_ text: String) -> Bool {
        guard let equals = text.firstIndex(of: "=") else { return false }
        let parts = text[..<equals].split(separator: ".", omittingEmptySubsequences: false)
        return !parts.isEmpty && parts.allSatisfy { part in
            !part.isEmpty && part.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" || $0 == "[" || $0 == "]" }
        }
    }

    func run(_ context: CommandContext) throws {
        let directory = context.environment.workingDirectory
        let inputs = try readInputs(directory: directory, context: context)
        let injector = SidecarInjector(settings: namesClusterConfigMaps ? try clusterSettings(context) : try loadSettings(context))
        var output = ""
        for (name, text) in inputs {
            do {
                let result = try injector.inject(text, file: name)
                output += result.output
                for warning in result.warnings { context.stderr.write(warning.hasSuffix("\n") ? warning : warning + "\n") }
            } catch let error as InjectionError {
                throw InputDataError(error.location == nil ? "\(name): \(error)" : "\(name):\(error)")
            } catch let error as TemplateError {
                throw InputDataError("\(name): injection template \(error)")
            }
        }
        if let outputFile {
            try FileSystem.writeAtomically(output, to: FileSystem.resolve(outputFile, in: directory))
        } else {
            context.stdout.write(output)
        }
    }

    /// The manifests to inject: one file, every .yaml/.yml/.json file of a folder, or standard input.
    private func readInputs(directory: String, context: CommandContext) throws -> [(String, String)] {
        guard let filename else { return [] }
        if filename == "-" {
            return [("<stdin>", String(decoding: context.environment.readStandardInput(), as: UTF8.self))]
        }
        let path = FileSystem.resolve(filename, in: directory)
        if FileSystem.isDirectory(path) {
            let names = try FileSystem.list(path).filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") || $0.hasSuffix(".json") }
            return try names.map { name in
                let shown = filename.hasSuffix("/") ? filename + name : filename + "/" + name
                return (shown, try FileSystem.readText(path + "/" + name, shownAs: shown))
            }
        }
        return [(filename, try FileSystem.readText(path, shownAs: filename))]
    }

    /// Values, mesh config and templates from the files given.
    private func loadSettings(_ context: CommandContext) throws -> InjectionSettings {
        let directory = context.environment.workingDirectory
        func read(_ path: String) throws -> String { try FileSystem.readText(FileSystem.resolve(path, in: directory), shownAs: path) }

        // Without an injector configuration, meshctl's own defaults (those of a default Istio install).
        let builtin = injectConfigFile == nil
        if builtin {
            context.stderr.write("meshctl: no --injectConfigFile given; using built-in Istio defaults "
                                 + "(\(InjectionSettings.builtinHub)/proxyv2:\(InjectionSettings.builtinTag)); --set values.global.hub=... and values.global.tag=... change them\n")
        }
        var values = builtin ? InjectionSettings.builtinValues : YAMLNode.mapping([])
        if builtin && !revision.isEmpty { values = ValuesOverlay.setting(values, ["revision"], .string(revision)) }
        if let valuesFile {
            let given = try YAMLParser.parse(read(valuesFile), file: valuesFile).first?.root ?? .mapping([])
            values = builtin ? ValuesOverlay.merge(values, given) : given
        }
        var meshText: String?
        if let operatorFile {
            let operatorConfig = try YAMLParser.parse(read(operatorFile), file: operatorFile).first?.root ?? .mapping([])
            if let overlay = operatorConfig["spec"]?["values"] { values = ValuesOverlay.merge(values, overlay) }
            if let mesh = operatorConfig["spec"]?["meshConfig"], meshConfigFile == nil { meshText = YAMLEmitter().emit(mesh) }
            if let hub = operatorConfig["spec"]?["hub"] { values = ValuesOverlay.setting(values, ["global", "hub"], hub) }
            if let tag = operatorConfig["spec"]?["tag"] { values = ValuesOverlay.setting(values, ["global", "tag"], tag) }
        }
        for assignment in assignments {
            values = ValuesOverlay.applying(assignment, to: values) ?? values
        }
        if let meshConfigFile { meshText = try read(meshConfigFile) }
        let mesh = try MeshConfiguration(yaml: meshText, file: meshConfigFile ?? operatorFile)
        let config = try injectConfigFile.map { try InjectorConfig(fileText: read($0), file: $0) } ?? .builtin
        let native = context.environment.variables["ENABLE_NATIVE_SIDECARS"] == "true"
        return InjectionSettings(config: config, values: values, mesh: mesh, revision: revision, nativeSidecars: native,
                                 compliancePolicy: context.environment.variables["COMPLIANCE_POLICY"] ?? "")
    }
}
