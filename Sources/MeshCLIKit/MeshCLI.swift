/// Runs meshctl: parses the command line, builds the command, validates and runs it, and turns any
/// error into a message and an exit code.
public enum MeshCLI {
    /// - Parameters:
    ///   - arguments: the command line without the program name.
    ///   - environment: streams, variables and working directory.
    /// - Returns: the exit code.
    public static func run(_ arguments: [String], environment: CommandEnvironment) -> ExitCode {
        let errStyle = TerminalStyle(stream: environment.stderr, variables: environment.variables)
        do {
            let (command, invocation) = try ArgumentParser.parse(arguments, root: RootCommand.self)
            if invocation.helpRequested {
                environment.stdout.write(HelpRenderer.render(invocation.spec, path: invocation.commandPath))
                return .success
            }
            let instance = try command.init(invocation)
            try instance.validate()
            try instance.run(CommandContext(environment: environment, global: invocation.global))
            return .success
        } catch {
            return ErrorReporter.report(error, to: environment.stderr, style: errStyle)
        }
    }
}
