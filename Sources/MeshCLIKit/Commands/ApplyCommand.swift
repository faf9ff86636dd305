import KubeClient
import Manifests

/// One object of the files given to `apply` or `delete`, where it came from and where it goes.
struct ManifestObject {
    var object: YAMLNode
    var file: String
    var location: SourceLocation
    var apiVersion: String { object["apiVersion"]?.scalarText ?? "" }
    var kind: String { object["kind"]?.scalarText ?? "" }
    var name: String { object["metadata"]?["name"]?.scalarText ?? "" }

    /// Where the object lives in the cluster: its kind's location, its namespace (the context's when it names
    /// none) and its own path.
    func target(_ client: KubernetesClient) throws -> (location: ResourceLocation, namespace: String?, path: String) {
        guard let location = try client.locate(apiVersion: apiVersion, kind: kind) else {
            throw CommandFailure("\(file):\(self.location.line): the cluster does not serve \(kind) in \(apiVersion) (is its CRD installed?)")
        }
        let namespace = location.namespaced ? (object["metadata"]?["namespace"]?.scalarText ?? client.access.namespace) : nil
        return (location, namespace, location.collection(namespace: namespace) + "/" + name)
    }

    /// Namespaces and CRDs first, so what follows can be created in or of them.
    var order: Int { ["Namespace", "CustomResourceDefinition"].contains(kind) ? 0 : 1 }

    /// Reads and checks every document; any problem fails the whole set before anything is sent (exit 65).
    static func load(_ files: [String], _ context: CommandContext, commandPath: String) throws -> [ManifestObject] {
        var notes: [String] = []
        let inputs = try ManifestFiles.read(files, context, notes: &notes)
        for note in notes { context.stderr.write("note: \(note)\n") }
        var objects: [ManifestObject] = []
        var problems: [String] = []
        for input in inputs {
            do {
                for document in try YAMLParser.parse(input.text, file: input.name) where !document.root.isNull {
                    for item in KubernetesList.objects(in: document.root) {
                        let at = item.location
                        guard item["kind"]?.scalarText != nil, item["apiVersion"]?.scalarText != nil, item["metadata"]?["name"]?.scalarText != nil else {
                            problems.append("\(input.name):\(at.line):\(at.column): error: a Kubernetes object needs apiVersion, kind and metadata.name")
                            continue
                        }
                        if case .checked(let resource, let found) = ResourceValidator.validate(item) {
                            for problem in found where problem.severity == .error {
                                problems.append("\(input.name):\(problem.location.line):\(problem.location.column): error: \(resource): "
                                                + "\(problem.path.fieldPath.isEmpty ? "" : problem.path.fieldPath + ": ")\(problem.message)")
                            }
                        }
                        objects.append(ManifestObject(object: item, file: input.name, location: at))
                    }
                }
            } catch {
                problems.append(ErrorReporter.text(for: error, style: context.errStyle).trimmed)
            }
        }
        guard problems.isEmpty else {
            throw InputDataError(problems.joined(separator: "\n") + "\nnothing was sent to the cluster: fix the above (meshctl validate checks files alone)",
                                 carriesItsOwnLabel: true)
        }
        if objects.isEmpty { throw ManifestFiles.noObjects(in: inputs.map(\.name), given: files) }
        return objects
    }
}

/// `meshctl apply -f`: validate everything first, then server-side apply in dependency order.
struct ApplyCommand: MeshCommand {
    static var spec: CommandSpec {
        CommandSpec(
            name: "apply",
            abstract: "Validate manifests, then apply them to the cluster (server-side apply)",
            discussion: """
            Every document is parsed and validated first (Istio resources with meshctl validate's checks); if any
            is invalid nothing is sent, and the errors name file:line:column. Then Namespaces and CRDs are applied
            first and everything else in file order, with server-side apply (field manager "meshctl"), and each
            object is reported as created, configured or unchanged.
            """,
            examples: [
                Example("Apply a folder", "meshctl apply -f istio-config/"),
                Example("Ask the server to check without storing", "meshctl apply -f rules.yaml --dry-run=server"),
                Example("Take over fields another manager owns", "meshctl apply -f rules.yaml --force-conflicts"),
            ],
            flags: [
                FlagSpec("filename", short: "f", kind: .repeatedValue, valueName: "FILE|DIR|-", help: "Files or directories to apply", completion: .files),
                FlagSpec("dry-run", help: "client: validate only; server: the server checks without storing", completion: .values(["none", "client", "server"])),
                FlagSpec("force-conflicts", kind: .bool, help: "Take ownership of fields other field managers set"),
            ])
    }

    let files: [String]
    let dryRun: String
    let force: Bool

    init(_ invocation: Invocation) throws {
        files = invocation.strings("filename")
        dryRun = invocation.string("dry-run") ?? "none"
        force = invocation.bool("force-conflicts")
    }

    func validate() throws {
        if files.isEmpty { throw UsageError(problem: "give the manifests with -f FILE|DIR|-", commandPath: "meshctl apply") }
        if !["none", "client", "server"].contains(dryRun) {
            throw UsageError(problem: "--dry-run must be none, client or server, not \"\(dryRun)\"", commandPath: "meshctl apply")
        }
    }

    /// Whether applying changed the object: its content apart from what the server sets on every write (a dry run
    /// on kube-apiserver keeps the old resourceVersion, so versions alone cannot tell).
    static func changed(_ before: JSONValue, _ after: JSONValue) -> Bool {
        func content(_ object: JSONValue) -> JSONValue {
            var object = object
            for key in ["resourceVersion", "managedFields", "generation"] { object["metadata"]?[key] = nil }
            return object
        }
        return content(before) != content(after)
    }

    func run(_ context: CommandContext) throws {
        let objects = try ManifestObject.load(files, context, commandPath: "meshctl apply").enumerated()
            .sorted { ($0.element.order, $0.offset) < ($1.element.order, $1.offset) }.map(\.element)
        let suffix = dryRun == "none" ? "" : " (\(dryRun) dry run)"
        if dryRun == "client" {
            for item in objects { context.stdout.write("\(item.kind.lowercased())/\(item.name) valid\(suffix)\n") }
            return
        }
        let client = try ClusterConnection.client(context)
        var failed = 0
        for item in objects {
            do {
                try ClusterConnection.call {
                    let (location, namespace, path) = try item.target(client)
                    var object = JSONValue(yaml: item.object)
                    if let namespace { object["metadata"]?["namespace"] = .string(namespace) }
                    let before = try ClusterConnection.notFoundAsNil { try client.get(path) }
                    // Strict: a field the server does not know (a typo) is an error, as with kubectl apply.
                    var query = "?fieldManager=meshctl&fieldValidation=Strict&force=\(force)"
                    if dryRun == "server" { query += "&dryRun=All" }
                    let after = try client.send("PATCH", path + query, body: object, contentType: "application/apply-patch+yaml")
                    let outcome = before.map { Self.changed($0, after) ? "configured" : "unchanged" } ?? "created"
                    context.stdout.write("\(location.displayKind)/\(item.name) \(outcome)\(suffix)\n")
                }
            } catch let error as CommandFailure {
                failed += 1
                context.stderr.write(ErrorReporter.text(for: error, style: context.errStyle))
            }
        }
        if failed > 0 { throw CommandFailure("\(failed) of \(objects.count) objects were not applied") }
    }
}

/// `meshctl delete -f`: delete what the manifests describe, dependents before their namespaces.
struct DeleteCommand: MeshCommand {
    static var spec: CommandSpec {
        CommandSpec(
            name: "delete",
            abstract: "Delete the objects manifests describe",
            examples: [Example("Delete what a folder created", "meshctl delete -f istio-config/")],
            flags: [
                FlagSpec("filename", short: "f", kind: .repeatedValue, valueName: "FILE|DIR|-", help: "Files or directories", completion: .files),
                FlagSpec("ignore-not-found", kind: .bool, help: "Objects already gone are not an error"),
            ])
    }

    let files: [String]
    let ignoreNotFound: Bool

    init(_ invocation: Invocation) throws {
        files = invocation.strings("filename")
        ignoreNotFound = invocation.bool("ignore-not-found")
    }

    func validate() throws {
        if files.isEmpty { throw UsageError(problem: "give the manifests with -f FILE|DIR|-", commandPath: "meshctl delete") }
    }

    func run(_ context: CommandContext) throws {
        let objects = try ManifestObject.load(files, context, commandPath: "meshctl delete").enumerated()
            .sorted { (-$0.element.order, $0.offset) < (-$1.element.order, $1.offset) }.map(\.element)
        let client = try ClusterConnection.client(context)
        var failed = 0
        for item in objects {
            do {
                try ClusterConnection.call {
                    let (location, _, path) = try item.target(client)
                    do {
                        try client.send("DELETE", path)
                        context.stdout.write("\(location.displayKind) \"\(item.name)\" deleted\n")
                    } catch let error as APIStatusError where error.code == 404 && ignoreNotFound {
                        _ = error
                    }
                }
            } catch let error as CommandFailure {
                failed += 1
                context.stderr.write(ErrorReporter.text(for: error, style: context.errStyle))
            }
        }
        if failed > 0 { throw CommandFailure("\(failed) of \(objects.count) objects were not deleted") }
    }
}
