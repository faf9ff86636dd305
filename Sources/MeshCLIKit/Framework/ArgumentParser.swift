/// A parsed command line: which command, its flag values and its arguments.
public struct Invocation {
    /// Names from the root down, e.g. `["meshctl", "kube-inject"]`.
    public var commandPath: [String]
    public var spec: CommandSpec
    public var arguments: [String]
    public var global: GlobalOptions
    public var helpRequested: Bool
    private var values: [String: [String]]

    init(commandPath: [String], spec: CommandSpec, values: [String: [String]], arguments: [String],
         global: GlobalOptions, helpRequested: Bool) {
        self.commandPath = commandPath
        self.spec = spec
        self.values = values
        self.arguments = arguments
        self.global = global
        self.helpRequested = helpRequested
    }

    /// `meshctl kube-inject`: how help and errors name the command.
    public var pathText: String { commandPath.joined(separator: " ") }

    private func flagSpec(_ name: String) -> FlagSpec? {
        (spec.flags + GlobalFlags.all).first { $0.name == name }
    }

    /// Whether the flag was given on the command line.
    public func isSet(_ name: String) -> Bool { values[name] != nil }

    /// The flag's value (the last one given), else its default.
    public func string(_ name: String) -> String? {
        values[name]?.last ?? flagSpec(name)?.defaultValue
    }

    /// Every value of a repeatable flag, in order; values may also be comma-separated.
    public func strings(_ name: String) -> [String] {
        values[name] ?? []
    }

    public func bool(_ name: String) -> Bool {
        guard let text = values[name]?.last else { return flagSpec(name)?.defaultValue == "true" }
        return ArgumentParser.parseBool(text) ?? false
    }

    /// An integer flag, or a usage error naming the flag when the value is not a number.
    public func int(_ name: String) throws -> Int? {
        guard let text = string(name) else { return nil }
        guard let value = Int(text) else {
            throw UsageError(problem: "invalid value \"\(text)\" for --\(name): not an integer", commandPath: pathText)
        }
        return value
    }
}

/// Reads a command line against the command tree: subcommands, `--name value`, `--name=value`,
/// `-n value`, `-nvalue`, `-v=9`, booleans `--flag` and `--flag=false`, repeated flags, and `--`.
public enum ArgumentParser {
    public static func parse(_ arguments: [String], root: any MeshCommand.Type) throws -> (any MeshCommand.Type, Invocation) {
        var command: any MeshCommand.Type = root
        var spec = root.spec
        var path = [spec.name]
        var values: [String: [String]] = [:]
        var positionals: [String] = []
        var helpRequested = false
        var index = 0
        var flagsEnded = false

        while index < arguments.count {
            let token = arguments[index]
            index += 1
            if flagsEnded || token == "-" || !token.hasPrefix("-") {
                if !flagsEnded && positionals.isEmpty && !spec.subcommands.isEmpty {
                    if let next = spec.subcommand(named: token) {
                        command = next
                        spec = next.spec
                        path.append(spec.name)
                        continue
                    }
                    if spec.arguments.isEmpty {
                        let names = spec.visibleSubcommandNames
                        throw UsageError.unknownCommand(token, candidates: names, commandPath: path.joined(separator: " "))
                    }
                }
                if flagsEnded && positionals.isEmpty && spec.arguments.isEmpty && spec.subcommand(named: token) != nil {
                    let pathText = path.joined(separator: " ")
                    throw UsageError(problem: "\"\(token)\" comes after --, which ends the flags and takes no command: "
                                     + "write `\(pathText) \(token) ...`", commandPath: pathText)
                }
                positionals.append(token)
                continue
            }
            if token == "--" {
                flagsEnded = true
                continue
            }

            // Split the token into the flag and an attached value.
            let flags = spec.flags + GlobalFlags.alongside(spec.flags)
            let pathText = path.joined(separator: " ")
            var flag: FlagSpec?
            var attached: String?
            let shown: String
            if token.hasPrefix("--") {
                let body = token.dropFirst(2)
                let name: Substring
                if let equals = body.firstIndex(of: "=") {
                    name = body[..<equals]
                    attached = String(body[body.index(after: equals)...])
                } else {
                    name = body
                }
                shown = "--\(name)"
                flag = flags.first { $0.name == name }
            } else {
                let letter = token.dropFirst().first!
                shown = "-\(letter)"
                flag = flags.first { $0.short == letter }
                let rest = token.dropFirst(2)
                if !rest.isEmpty { attached = String(rest.hasPrefix("=") ? rest.dropFirst() : rest) }
            }
            guard let flag else {
                let candidates = flags.filter { !$0.hidden }.map { "--\($0.name)" }
                throw UsageError.unknownFlag(shown, candidates: candidates, commandPath: pathText)
            }

            let value: String
            if flag.kind == .bool {
                if let attached {
                    guard parseBool(attached) != nil else {
                        throw UsageError.invalidValue(attached, flag: shown, allowed: ["true", "false"], commandPath: pathText)
                    }
                    value = attached
                } else {
                    value = "true"
                }
            } else if let attached {
                value = attached
            } else {
                guard index < arguments.count else { throw UsageError.missingValue(shown, commandPath: pathText) }
                value = arguments[index]
                index += 1
            }
            if let allowed = flag.allowedValues, !allowed.contains(value) {
                throw UsageError.invalidValue(value, flag: shown, allowed: allowed, commandPath: pathText)
            }
            if flag.name == "help" {
                helpRequested = parseBool(value) ?? false
                continue
            }
            if flag.kind == .repeatedValue {
                values[flag.name, default: []].append(value)
            } else {
                values[flag.name] = [value]
            }
        }

        let pathText = path.joined(separator: " ")
        let verbosityText = values["verbosity"]?.last ?? "0"
        guard let verbosity = Int(verbosityText), verbosity >= 0 else {
            throw UsageError(problem: "invalid value \"\(verbosityText)\" for --verbosity: expected a number from 0 to 10",
                             commandPath: pathText)
        }
        let timeoutText = values["request-timeout"]?.last ?? "0"
        guard let timeout = Self.seconds(timeoutText) else {
            throw UsageError(problem: "invalid value \"\(timeoutText)\" for --request-timeout: expected a duration such as 30s, 1m or 0 (no limit)",
                             commandPath: pathText)
        }
        var global = GlobalOptions(kubeconfig: values["kubeconfig"]?.last, context: values["context"]?.last,
                                   namespace: values["namespace"]?.last,
                                   istioNamespace: values["istioNamespace"]?.last ?? "istio-system",
                                   verbosity: verbosity)
        global.requestTimeoutSeconds = timeout
        let invocation = Invocation(commandPath: path, spec: spec, values: values, arguments: positionals,
                                    global: global, helpRequested: helpRequested)
        if !helpRequested { try checkArguments(positionals, spec: spec, pathText: pathText) }
        return (command, invocation)
    }

    /// kubectl's durations: `30s`, `1m`, `2h`, `1m30s`, or a bare number of seconds; nil when malformed.
    static func seconds(_ text: String) -> Int? {
        if let plain = Int(text), plain >= 0 { return plain }
        var total = 0, number = ""
        for character in text {
            if character.isNumber { number.append(character); continue }
            guard let value = Int(number) else { return nil }
            switch character {
            case "s": total += value
            case "m": total += value * 60
            case "h": total += value * 3600
            default: return nil
            }
            number = ""
        }
        return number.isEmpty && total >= 0 ? total : nil
    }

    private static func checkArguments(_ positionals: [String], spec: CommandSpec, pathText: String) throws {
        let required = spec.arguments.filter { !$0.optional }.count
        let repeating = spec.arguments.contains { $0.repeating }
        if positionals.count < required {
            let missing = spec.arguments[positionals.count]
            throw UsageError(problem: "missing argument \(missing.name.uppercased()): \(missing.help)", commandPath: pathText)
        }
        if !repeating && positionals.count > spec.arguments.count {
            let extra = positionals[spec.arguments.count]
            if spec.arguments.isEmpty && !spec.subcommands.isEmpty {
                throw UsageError.unknownCommand(extra, candidates: spec.visibleSubcommandNames, commandPath: pathText)
            }
            throw UsageError(problem: "unexpected argument \"\(extra)\"", commandPath: pathText)
        }
        for (argument, value) in zip(spec.arguments, positionals) {
            if case .values(let allowed) = argument.completion, !allowed.contains(value) {
                throw UsageError.invalidValue(value, flag: argument.name.uppercased(), allowed: allowed, commandPath: pathText)
            }
        }
    }

    /// Go's strconv.ParseBool, which kubectl's flags use.
    public static func parseBool(_ text: String) -> Bool? {
        switch text {
        case "1", "t", "T", "true", "TRUE", "True": return true
        case "0", "f", "F", "false", "FALSE", "False": return false
        default: return nil
        }
    }
}
