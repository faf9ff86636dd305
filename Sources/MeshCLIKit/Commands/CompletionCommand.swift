/// `meshctl completion bash|zsh|fish`: prints a completion script generated from the command tree.
struct CompletionCommand: MeshCommand {
    static var spec: CommandSpec {
        CommandSpec(
            name: "completion",
            abstract: "Print a shell completion script (bash, zsh or fish)",
            discussion: """
            The script completes commands, flags and flag values. The same scripts are in the
            repository's completions/ folder.
            """,
            examples: [
                Example("Load completion into the current bash shell", "source <(meshctl completion bash)"),
                Example("Install completion for zsh", "meshctl completion zsh > \"${fpath[1]}/_meshctl\""),
                Example("Install completion for fish", "meshctl completion fish > ~/.config/fish/completions/meshctl.fish"),
            ],
            arguments: [ArgumentSpec("shell", help: "bash, zsh or fish",
                                     completion: .values(CompletionScripts.Shell.allCases.map(\.rawValue)))])
    }

    let shell: CompletionScripts.Shell

    init(_ invocation: Invocation) throws {
        // The parser has checked the value against the allowed list.
        shell = CompletionScripts.Shell(rawValue: invocation.arguments[0]) ?? .bash
    }

    func run(_ context: CommandContext) throws {
        context.stdout.write(CompletionScripts.script(for: shell, root: RootCommand.self))
    }
}
