/// Writes a command's help in the layout kubectl and istioctl users know.
public enum HelpRenderer {
    public static func render(_ spec: CommandSpec, path: [String]) -> String {
        let pathText = path.joined(separator: " ")
        var sections: [String] = []
        sections.append(spec.discussion.isEmpty ? spec.abstract : spec.abstract + "\n\n" + spec.discussion)

        var usage = "Usage:\n"
        if let custom = spec.usage {
            usage += "  \(pathText) \(custom)\n"
        } else {
            let runnable = !spec.arguments.isEmpty || spec.subcommands.isEmpty
            if runnable {
                let arguments = spec.arguments.map { argument -> String in
                    var name = argument.name.uppercased()
                    if argument.repeating { name += "..." }
                    return argument.optional ? "[\(name)]" : name
                }
                usage += "  " + ([pathText] + arguments + ["[flags]"]).joined(separator: " ") + "\n"
            }
            if !spec.subcommands.isEmpty { usage += "  \(pathText) [command]\n" }
        }
        sections.append(String(usage.dropLast()))

        if !spec.aliases.isEmpty {
            sections.append("Aliases:\n  " + ([spec.name] + spec.aliases).joined(separator: ", "))
        }
        if !spec.examples.isEmpty {
            let lines = spec.examples.map { "  # \($0.comment)\n  \($0.command)" }
            sections.append("Examples:\n" + lines.joined(separator: "\n\n"))
        }
        let visible = spec.subcommandSpecs.filter { !$0.hidden }
        if !visible.isEmpty {
            let width = visible.map(\.name.count).max() ?? 0
            let lines = visible.map { "  " + $0.name.padding(width) + "   " + $0.abstract }
            sections.append("Available Commands:\n" + lines.joined(separator: "\n"))
        }
        if !spec.arguments.isEmpty {
            let width = spec.arguments.map(\.name.count).max() ?? 0
            let lines = spec.arguments.map { "  " + $0.name.uppercased().padding(width) + "   " + $0.help }
            sections.append("Arguments:\n" + lines.joined(separator: "\n"))
        }
        let ownFlags = spec.flags.filter { !$0.hidden }
        let globalFlags = GlobalFlags.alongside(spec.flags)
        let width = (ownFlags + globalFlags).map { flagColumn($0).count }.max() ?? 0
        if !ownFlags.isEmpty {
            sections.append("Flags:\n" + ownFlags.map { flagLine($0, width: width) }.joined(separator: "\n"))
        }
        sections.append("Global Flags:\n" + globalFlags.map { flagLine($0, width: width) }.joined(separator: "\n"))
        if !visible.isEmpty {
            sections.append("Use \"\(pathText) [command] --help\" for more information about a command.")
        }
        return sections.joined(separator: "\n\n") + "\n"
    }

    private static func flagColumn(_ flag: FlagSpec) -> String {
        var column = flag.short.map { "-\($0), " } ?? "    "
        column += "--\(flag.name)"
        switch flag.kind {
        case .bool: break
        case .value: column += " \(flag.valueName)"
        case .repeatedValue: column += " \(flag.valueName)"
        }
        return column
    }

    private static func flagLine(_ flag: FlagSpec, width: Int) -> String {
        var line = "  " + flagColumn(flag).padding(width) + "   " + flag.help
        if flag.kind == .repeatedValue { line += " (repeatable)" }
        if let defaultValue = flag.defaultValue, flag.kind == .value, defaultValue != "0" {
            line += " (default \"\(defaultValue)\")"
        }
        return line
    }
}

extension String {
    /// The string padded with spaces to a width (never cut).
    func padding(_ width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}
