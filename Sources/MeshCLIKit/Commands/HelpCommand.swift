/// `meshctl help [command...]`: the same text as `--help`.
struct HelpCommand: MeshCommand {
    static var spec: CommandSpec {
        CommandSpec(
            name: "help",
            abstract: "Help about any command",
            examples: [Example("Show help for kube-inject", "meshctl help kube-inject")],
            arguments: [ArgumentSpec("command", help: "The command to explain", optional: true, repeating: true)])
    }

    let words: [String]

    init(_ invocation: Invocation) throws { words = invocation.arguments }

    func run(_ context: CommandContext) throws {
        var spec = RootCommand.spec
        var path = [spec.name]
        for word in words {
            guard let next = spec.subcommand(named: word) else {
                throw UsageError.unknownCommand(word, candidates: spec.visibleSubcommandNames,
                                                commandPath: path.joined(separator: " "))
            }
            spec = next.spec
            path.append(spec.name)
        }
        context.stdout.write(HelpRenderer.render(spec, path: path))
    }
}
