import Manifests

/// `meshctl validate`: checks Istio configuration before it reaches a cluster.
struct ValidateCommand: MeshCommand {
    static var spec: CommandSpec {
        CommandSpec(
            name: "validate",
            abstract: "Check Istio configuration files before they reach a cluster",
            discussion: """
            Checks every document: Istio resources against their schema (types, enums, required and
            unknown fields) and Istio's rules, plain Kubernetes objects as istioctl does (Service port
            names must tell the protocol). Each problem names file:line:column, the resource and the
            field. Directories are walked for .yaml, .yml and .json files. Exit 0 when everything is
            valid (warnings are printed), 65 when anything is invalid.
            """,
            examples: [
                Example("Validate a file", "meshctl validate -f virtual-service.yaml"),
                Example("Validate a folder and a file, and what they refer to", "meshctl validate -x -f manifests/ -f gateway.yaml"),
                Example("Validate standard input and get the results as JSON", "kubectl get vs -A -o yaml | meshctl validate -f - -o json"),
            ],
            aliases: ["v"],
            flags: [
                FlagSpec("filename", short: "f", kind: .repeatedValue, valueName: "FILE",
                         help: "File, directory, or - for standard input", completion: .files),
                FlagSpec("referential", short: "x", kind: .bool,
                         help: "Also check what resources refer to (gateways, subsets) against the files given"),
                FlagSpec("output", short: "o", help: "Output format: one of text|json|yaml", default: "text",
                         completion: .values(["text", "json", "yaml"])),
            ])
    }

    let files: [String]
    let referential: Bool
    let format: String
    let extraArguments: [String]

    init(_ invocation: Invocation) throws {
        files = invocation.strings("filename")
        referential = invocation.bool("referential")
        format = invocation.string("output") ?? "text"
        extraArguments = invocation.arguments
    }

    func validate() throws {
        if let extra = extraArguments.first {
            throw UsageError(problem: "unexpected argument \"\(extra)\": give files with -f", commandPath: "meshctl validate")
        }
        if files.isEmpty {
            throw UsageError(problem: "no files given: pass -f FILE, -f DIR or -f - (see --filename or -f)", commandPath: "meshctl validate")
        }
    }

    /// One document's result.
    struct Result {
        var file: String
        var resource: String
        var problems: [ValidationProblem]
        var skipped: String?
    }

    func run(_ context: CommandContext) throws {
        var results: [Result] = []
        var notes: [String] = []
        var items: [ReferenceChecks.Item] = []
        var resultIndexOfItem: [Int] = []
        let inputs = try ManifestFiles.read(files, context, notes: &notes)
        var empty: [String] = [], emptyLists: [String] = []
        for (name, text) in inputs {
            let documents: [YAMLDocument]
            do {
                documents = try YAMLParser.parse(text, file: name)
            } catch {
                results.append(Result(file: name, resource: "file", problems: [ValidationProblem(.error, path: [], location: error.location,
                    message: ErrorReporter.message(for: error).components(afterPrefix: "\(name):\(error.location.line):\(error.location.column): "))]))
                continue
            }
            let objects = documents.filter { !$0.root.isNull }.flatMap { KubernetesList.objects(in: $0.root) }
            if objects.isEmpty {
                // An empty List (`kubectl get vs -A -o yaml` where there are none) was read: nothing in it is wrong.
                if documents.contains(where: { KubernetesList.isList($0.root) }) { emptyLists.append(name) } else { empty.append(name) }
            }
            for object in objects {
                let duplicates = DuplicateKeys.find(object)
                switch ResourceValidator.validate(object) {
                case .skipped(let resource, let reason):
                    results.append(Result(file: name, resource: resource, problems: duplicates, skipped: reason))
                case .checked(let resource, let problems):
                    results.append(Result(file: name, resource: resource, problems: duplicates + problems + KubernetesChecks.notes(object)))
                }
                items.append(ReferenceChecks.Item(file: name, node: object))
                resultIndexOfItem.append(results.count - 1)
            }
        }
        if results.isEmpty && emptyLists.isEmpty {
            for note in notes { context.stderr.write("note: \(note)\n") }
            throw ManifestFiles.noObjects(in: inputs.map(\.name), given: files)
        }
        notes += empty.map { "\($0) holds no Kubernetes objects" } + emptyLists.map { "\($0) holds an empty List: nothing to validate" }
        if referential {
            for (index, problems) in ReferenceChecks.warnings(items) { results[resultIndexOfItem[index]].problems += problems }
        }
        write(results, notes: notes, context)
        if results.contains(where: { $0.problems.contains { $0.severity == .error } }) {
            let count = results.filter { $0.problems.contains { $0.severity == .error } }.count
            throw InputDataError("\(count) resource\(count == 1 ? " is" : "s are") invalid")
        }
    }

    private func write(_ results: [Result], notes: [String], _ context: CommandContext) {
        switch format {
        case "json", "yaml":
            let data = YAMLNode.sequence(results.map { result in
                var fields: [(String, YAMLNode)] = [("file", .string(result.file)), ("resource", .string(result.resource)),
                                                    ("valid", .bool(!result.problems.contains { $0.severity == .error }))]
                if let skipped = result.skipped { fields.append(("skipped", .string(skipped))) }
                fields.append(("problems", .sequence(result.problems.map { problem in
                    .mapping([("severity", .string(problem.severity.rawValue)), ("line", .int(problem.location.line)),
                              ("column", .int(problem.location.column)), ("field", .string(problem.path.fieldPath)),
                              ("message", .string(problem.message))])
                })))
                return .mapping(fields)
            })
            context.stdout.write(format == "json" ? JSONEmitter(indent: 2).emit(data) + "\n" : YAMLEmitter().emit(data))
        default:
            let style = context.errStyle
            for note in notes { context.stderr.write("note: \(note)\n") }
            var fileHasErrors: [String: Bool] = [:]
            var order: [String] = []
            for result in results {
                if fileHasErrors[result.file] == nil { order.append(result.file) }
                let hasErrors = result.problems.contains { $0.severity == .error }
                fileHasErrors[result.file] = (fileHasErrors[result.file] ?? false) || hasErrors
                if let skipped = result.skipped { context.stderr.write("note: \(result.file): skipping \(result.resource): \(skipped)\n") }
                for problem in result.problems {
                    let label = problem.severity == .error ? style.error("error:") : style.warning("warning:")
                    let field = problem.path.isEmpty ? "" : "\(problem.path.fieldPath): "
                    context.stderr.write("\(result.file):\(problem.location.line):\(problem.location.column): \(label) \(result.resource): \(field)\(problem.message)\n")
                }
            }
            for file in order where fileHasErrors[file] == false {
                context.stdout.write("\"\(file)\" is valid\n")
            }
        }
    }
}

extension String {
    /// The text without a leading prefix, when it has it.
    fileprivate func components(afterPrefix prefix: String) -> String {
        hasPrefix(prefix) ? String(dropFirst(prefix.count)) : self
    }
}
