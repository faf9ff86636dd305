import Manifests

/// meshctl's exit codes.
public enum ExitCode: Int32, Sendable {
    case success = 0
    case failure = 1
    /// A command line that could not be understood (BSD sysexits EX_USAGE).
    case usage = 64
    /// Input data that is malformed (EX_DATAERR).
    case dataError = 65
    /// `analyze` ran and found issues.
    case analyzeIssues = 79
    /// `local curl --fail` got a 4xx or 5xx answer (curl's own code for it).
    case httpErrorStatus = 22
}

/// An error that knows its exit code and how to say itself to a user.
public protocol MeshError: Error {
    var exitCode: ExitCode { get }
    /// One or more lines, without the `error: ` prefix.
    var message: String { get }
    /// Whether `message` already says what kind of problem it is (`Error from server (NotFound): ...`,
    /// `file:3:5: error: ...`), so no `error:` goes before it.
    var carriesItsOwnLabel: Bool { get }
}

extension MeshError {
    public var carriesItsOwnLabel: Bool { false }
}

/// A command line meshctl could not understand.
public struct UsageError: MeshError, Equatable {
    public var problem: String
    public var suggestion: String?
    /// The command whose help to point to, e.g. `meshctl kube-inject`.
    public var commandPath: String

    public var exitCode: ExitCode { .usage }

    public var message: String {
        var lines = [problem]
        if let suggestion { lines.append("Did you mean '\(suggestion)'?") }
        lines.append("See '\(commandPath) --help'.")
        return lines.joined(separator: "\n")
    }

    public static func unknownFlag(_ flag: String, candidates: [String], commandPath: String) -> UsageError {
        UsageError(problem: "unknown flag: \(flag)", suggestion: closestMatch(to: flag, in: candidates),
                   commandPath: commandPath)
    }

    public static func unknownCommand(_ name: String, candidates: [String], commandPath: String) -> UsageError {
        UsageError(problem: "unknown command \"\(name)\" for \"\(commandPath)\"",
                   suggestion: closestMatch(to: name, in: candidates), commandPath: commandPath)
    }

    public static func missingValue(_ flag: String, commandPath: String) -> UsageError {
        UsageError(problem: "flag needs an argument: \(flag)", commandPath: commandPath)
    }

    public static func invalidValue(_ value: String, flag: String, allowed: [String], commandPath: String) -> UsageError {
        UsageError(problem: "invalid value \"\(value)\" for \(flag): allowed values are \(allowed.joined(separator: ", "))",
                   suggestion: closestMatch(to: value, in: allowed), commandPath: commandPath)
    }
}

/// The work failed (exit 1): a missing file, an unreachable server, a feature not built yet.
public struct CommandFailure: MeshError {
    public var message: String
    public var carriesItsOwnLabel: Bool
    /// Set when the failure is that no cluster is configured at all (commands that can work without one check it).
    public var nothingConfigured = false
    public var exitCode: ExitCode { .failure }

    public init(_ message: String, carriesItsOwnLabel: Bool = false) {
        self.message = message
        self.carriesItsOwnLabel = carriesItsOwnLabel
    }

    /// An error status from the API server, in kubectl's words: `Error from server (NotFound): ...`.
    public static func fromServer(_ description: String) -> CommandFailure {
        CommandFailure(description, carriesItsOwnLabel: true)
    }

    public static func notImplemented(_ feature: String) -> CommandFailure {
        CommandFailure("\(feature) is not implemented yet in this version of meshctl")
    }

    public static func cannotRead(_ path: String, reason: String) -> CommandFailure {
        CommandFailure("cannot read \(path): \(reason)")
    }
}

/// Input data that is malformed (exit 65), with where it is wrong.
public struct InputDataError: MeshError {
    public var message: String
    public var carriesItsOwnLabel: Bool
    public var exitCode: ExitCode { .dataError }

    /// `carriesItsOwnLabel`: the lines are already `file:line:column: error: ...`.
    public init(_ message: String, carriesItsOwnLabel: Bool = false) {
        self.message = message
        self.carriesItsOwnLabel = carriesItsOwnLabel
    }
}

/// `analyze` found messages at or above the failure threshold (exit 79).
public struct AnalyzeIssuesError: MeshError {
    public var scope: String
    public var threshold: MessageLevel
    public var exitCode: ExitCode { .analyzeIssues }

    public var message: String {
        "analyzers found issues at level \(threshold.name) or above when analyzing \(scope)\n"
            + "See https://istio.io/latest/docs/reference/config/analysis/ for each code's causes and fixes; "
            + "--failure-threshold and --suppress change what fails the run."
    }
}

/// Turns any error into the text a user reads and the process's exit code. The only place that does.
public enum ErrorReporter {
    public static func exitCode(for error: any Error) -> ExitCode {
        switch error {
        case let error as any MeshError: return error.exitCode
        case is YAMLError, is TemplateError, is InjectionError: return .dataError
        default: return .failure
        }
    }

    public static func message(for error: any Error) -> String {
        switch error {
        case let error as any MeshError: return error.message
        case let error as YAMLError: return error.description
        case let error as TemplateError: return "injection template \(error.description)"
        default: return String(describing: error)
        }
    }

    /// The error as printed: `error: ...` (the prefix in red on a terminal) unless it carries its own label,
    /// ending in a newline.
    public static func text(for error: any Error, style: TerminalStyle) -> String {
        let text = message(for: error)
        let labelled = (error as? any MeshError)?.carriesItsOwnLabel == true
        return (labelled ? "" : style.error("error:") + " ") + text + (text.hasSuffix("\n") ? "" : "\n")
    }

    /// Writes the error to standard error and returns the exit code.
    public static func report(_ error: any Error, to stream: TextOutput, style: TerminalStyle) -> ExitCode {
        stream.write(text(for: error, style: style))
        return exitCode(for: error)
    }
}

