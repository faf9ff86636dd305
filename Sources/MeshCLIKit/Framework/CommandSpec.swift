/// How a flag's or argument's values are completed by the shell.
public enum ValueCompletion: Equatable, Sendable {
    case none
    /// One of a fixed list.
    case values([String])
    case files
    case directories
    /// Asked of meshctl itself when completing (`meshctl __complete namespaces`): the cluster's namespaces,
    /// the kubeconfig's contexts.
    case dynamic(DynamicValues)
}

/// Values only a running meshctl knows.
public enum DynamicValues: String, CaseIterable, Sendable {
    case namespaces, contexts
}

/// A flag as a command declares it: `--name value`, `-n value`, or a boolean `--name`.
public struct FlagSpec: Sendable {
    public enum Kind: Sendable, Equatable {
        case bool
        case value
        /// May be given more than once; every value is kept (`-f a -f b`).
        case repeatedValue
    }

    public var name: String
    public var short: Character?
    public var kind: Kind
    /// The word shown after the flag in help (`string`, `FILE`).
    public var valueName: String
    public var help: String
    public var defaultValue: String?
    public var completion: ValueCompletion
    public var hidden: Bool

    public init(_ name: String, short: Character? = nil, kind: Kind = .value, valueName: String = "string",
                help: String, default defaultValue: String? = nil, completion: ValueCompletion = .none,
                hidden: Bool = false) {
        self.name = name
        self.short = short
        self.kind = kind
        self.valueName = valueName
        self.help = help
        self.defaultValue = defaultValue
        self.completion = completion
        self.hidden = hidden
    }

    public var takesValue: Bool { kind != .bool }

    /// Allowed values when the completion is a fixed list; the parser rejects anything else.
    public var allowedValues: [String]? {
        if case .values(let values) = completion { return values }
        return nil
    }
}

/// A positional argument.
public struct ArgumentSpec: Sendable {
    public var name: String
    public var help: String
    public var optional: Bool
    public var repeating: Bool
    public var completion: ValueCompletion

    public init(_ name: String, help: String, optional: Bool = false, repeating: Bool = false,
                completion: ValueCompletion = .none) {
        self.name = name
        self.help = help
        self.optional = optional
        self.repeating = repeating
        self.completion = completion
    }
}

/// One example in help: a `# what it does` line and the command.
public struct Example: Sendable {
    public var comment: String
    public var command: String

    public init(_ comment: String, _ command: String) {
        self.comment = comment
        self.command = command
    }
}

/// A runnable command: built from the parsed invocation (complete), checked (validate), then run.
public protocol MeshCommand {
    /// Name, help, flags, arguments and subcommands.
    static var spec: CommandSpec { get }
    /// The name and aliases the command is called by: what finding a subcommand compares, without building every
    /// sibling's whole spec. Defaults to the spec's; a command whose spec is costly to build states them itself.
    static var callNames: [String] { get }
    /// Resolves the parsed flags and arguments into the command's own values.
    init(_ invocation: Invocation) throws
    /// Checks values only; touches no file, network or output.
    func validate() throws
    /// Does the work, writing only to the context's streams.
    func run(_ context: CommandContext) throws
}

extension MeshCommand {
    public func validate() throws {}

    public static var callNames: [String] {
        let spec = spec
        return [spec.name] + spec.aliases
    }
}

/// The static description of a command: what help, completion and the parser read.
public struct CommandSpec {
    public var name: String
    public var abstract: String
    public var discussion: String
    public var usage: String?
    public var examples: [Example]
    public var aliases: [String]
    public var flags: [FlagSpec]
    public var arguments: [ArgumentSpec]
    public var subcommands: [any MeshCommand.Type]
    public var hidden: Bool

    public init(name: String, abstract: String, discussion: String = "", usage: String? = nil,
                examples: [Example] = [], aliases: [String] = [], flags: [FlagSpec] = [],
                arguments: [ArgumentSpec] = [], subcommands: [any MeshCommand.Type] = [], hidden: Bool = false) {
        self.name = name
        self.abstract = abstract
        self.discussion = discussion
        self.usage = usage
        self.examples = examples
        self.aliases = aliases
        self.flags = flags
        self.arguments = arguments
        self.subcommands = subcommands
        self.hidden = hidden
    }

    /// The subcommands' descriptions, in declaration order.
    public var subcommandSpecs: [CommandSpec] {
        subcommands.map { type in type.spec }
    }

    /// Names of the subcommands shown in help and completion.
    public var visibleSubcommandNames: [String] {
        subcommandSpecs.filter { !$0.hidden }.map { $0.name }
    }

    /// The subcommand called by this name or one of its aliases.
    public func subcommand(named name: String) -> (any MeshCommand.Type)? {
        subcommands.first { $0.callNames.contains(name) }
    }
}

/// Flags every command takes, kubectl's and istioctl's names.
public enum GlobalFlags {
    public static let kubeconfig = FlagSpec("kubeconfig", valueName: "FILE",
                                            help: "Kubernetes configuration file (default: $KUBECONFIG or ~/.kube/config)",
                                            completion: .files)
    public static let context = FlagSpec("context", help: "Name of the kubeconfig context to use", completion: .dynamic(.contexts))
    public static let namespace = FlagSpec("namespace", short: "n", help: "Kubernetes namespace (default: the context's namespace)",
                                           completion: .dynamic(.namespaces))
    public static let istioNamespace = FlagSpec("istioNamespace", short: "i", help: "Istio system namespace",
                                                default: "istio-system")
    public static let verbosity = FlagSpec("verbosity", short: "v", valueName: "int",
                                           help: "Log level: 6 logs requests, 8 adds headers and bodies (secrets always masked)",
                                           default: "0")
    public static let requestTimeout = FlagSpec("request-timeout", valueName: "duration",
                                                help: "How long a request to the cluster may take (30s, 1m; 0 for the default)", default: "0")
    public static let help = FlagSpec("help", short: "h", kind: .bool, help: "Help for this command")

    public static let all: [FlagSpec] = [kubeconfig, context, namespace, istioNamespace, verbosity, requestTimeout, help]

    /// The global flags as a command with `own` flags takes them: a short letter the command uses for its own flag
    /// (`local curl -v`) reaches the command's flag, so the global one keeps only its long name.
    public static func alongside(_ own: [FlagSpec]) -> [FlagSpec] {
        let taken = Set(own.compactMap(\.short))
        return all.map { flag in
            var flag = flag
            if let short = flag.short, taken.contains(short) { flag.short = nil }
            return flag
        }
    }
}

/// Output formats, one list for help, validation and completion.
public enum OutputFormat: String, CaseIterable, Sendable {
    case table, wide, yaml, json, name
    /// istioctl analyze's message lines.
    case log

    /// The `-o` flag for a command that prints in the given formats.
    public static func flag(_ formats: [OutputFormat], default defaultFormat: OutputFormat? = nil) -> FlagSpec {
        FlagSpec("output", short: "o", help: "Output format: one of \(formats.map(\.rawValue).joined(separator: "|"))",
                 default: defaultFormat?.rawValue, completion: .values(formats.map(\.rawValue)))
    }
}
