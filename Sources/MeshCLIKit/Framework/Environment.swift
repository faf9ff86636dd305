#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Somewhere text goes: a standard stream, or a buffer in tests.
public protocol TextOutput: AnyObject {
    func write(_ text: String)
    /// Whether a person is looking at it (colour and progress only then).
    var isTerminal: Bool { get }
}

/// A file descriptor of the process: standard output or standard error.
public final class FileDescriptorOutput: TextOutput {
    private let descriptor: Int32
    public let isTerminal: Bool

    public init(descriptor: Int32) {
        self.descriptor = descriptor
        self.isTerminal = isatty(descriptor) == 1
    }

    public func write(_ text: String) {
        var text = text
        text.withUTF8 { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = Glibc.write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    return // a closed pipe: nothing more to say
                }
                offset += written
            }
        }
    }
}

/// Collects what is written, for tests.
public final class BufferOutput: TextOutput {
    public private(set) var text = ""
    public let isTerminal: Bool

    public init(isTerminal: Bool = false) { self.isTerminal = isTerminal }

    public func write(_ text: String) { self.text += text }
}

/// Everything a command may touch of the outside world, handed in so tests can replace it.
public struct CommandEnvironment {
    public var stdout: TextOutput
    public var stderr: TextOutput
    /// Reads all of standard input (for `-f -`).
    public var readStandardInput: () -> [UInt8]
    public var variables: [String: String]
    public var workingDirectory: String
    /// The meshctl binary, for commands that start meshctl again in the background (`local up`).
    public var executablePath: String

    public init(stdout: TextOutput, stderr: TextOutput, readStandardInput: @escaping () -> [UInt8] = { [] },
                variables: [String: String] = [:], workingDirectory: String = ".", executablePath: String = CommandEnvironment.currentExecutable) {
        self.stdout = stdout
        self.stderr = stderr
        self.readStandardInput = readStandardInput
        self.variables = variables
        self.workingDirectory = workingDirectory
        self.executablePath = executablePath
    }

    /// This process's executable file.
    public static var currentExecutable: String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard length > 0 else { return CommandLine.arguments.first ?? "meshctl" }
        return String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The process's own streams and environment.
    public static func process() -> CommandEnvironment {
        var variables: [String: String] = [:]
        var entry = environ
        while let pointer = entry.pointee {
            let pair = String(cString: pointer)
            if let equals = pair.firstIndex(of: "=") {
                variables[String(pair[..<equals])] = String(pair[pair.index(after: equals)...])
            }
            entry += 1
        }
        var buffer = [CChar](repeating: 0, count: 4096)
        let directory = getcwd(&buffer, buffer.count) != nil ? String(cString: buffer) : "."
        return CommandEnvironment(stdout: FileDescriptorOutput(descriptor: 1), stderr: FileDescriptorOutput(descriptor: 2),
                                  readStandardInput: readAllStandardInput, variables: variables,
                                  workingDirectory: directory)
    }

    private static func readAllStandardInput() -> [UInt8] {
        var data: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = read(0, &chunk, chunk.count)
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            data.append(contentsOf: chunk[0..<count])
        }
        return data
    }
}

/// Colour for a terminal, and none otherwise: off when the stream is not a terminal, when `NO_COLOR` is
/// set to anything, or when `TERM=dumb`.
public struct TerminalStyle: Sendable {
    public var enabled: Bool

    public init(enabled: Bool) { self.enabled = enabled }

    public init(stream: TextOutput, variables: [String: String]) {
        let noColor = !(variables["NO_COLOR"] ?? "").isEmpty
        enabled = stream.isTerminal && !noColor && variables["TERM"] != "dumb"
    }

    public func error(_ text: String) -> String { paint(text, "1;31") }
    public func warning(_ text: String) -> String { paint(text, "1;33") }
    public func success(_ text: String) -> String { paint(text, "32") }
    public func bold(_ text: String) -> String { paint(text, "1") }

    private func paint(_ text: String, _ code: String) -> String {
        enabled ? "\u{1B}[\(code)m\(text)\u{1B}[0m" : text
    }
}

/// What a running command is handed: its environment and the global options.
public struct CommandContext {
    public var environment: CommandEnvironment
    public var global: GlobalOptions
    public var stdout: TextOutput { environment.stdout }
    public var stderr: TextOutput { environment.stderr }
    public var outStyle: TerminalStyle { TerminalStyle(stream: environment.stdout, variables: environment.variables) }
    public var errStyle: TerminalStyle { TerminalStyle(stream: environment.stderr, variables: environment.variables) }

    public init(environment: CommandEnvironment, global: GlobalOptions) {
        self.environment = environment
        self.global = global
    }
}

/// The values of the flags every command takes.
public struct GlobalOptions: Equatable, Sendable {
    public var kubeconfig: String?
    public var context: String?
    public var namespace: String?
    public var istioNamespace: String
    public var verbosity: Int
    /// `--request-timeout`: seconds a request may take; 0 means the command's own default.
    public var requestTimeoutSeconds = 0

    public init(kubeconfig: String? = nil, context: String? = nil, namespace: String? = nil,
                istioNamespace: String = "istio-system", verbosity: Int = 0) {
        self.kubeconfig = kubeconfig
        self.context = context
        self.namespace = namespace
        self.istioNamespace = istioNamespace
        self.verbosity = verbosity
    }
}
