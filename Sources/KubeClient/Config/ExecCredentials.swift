import Manifests
#if canImport(Glibc)
import Glibc
#endif

/// What an exec credential plugin returned: a token or a client certificate, and until when.
public struct ExecCredential: Sendable {
    public var token: String?
    public var clientCertificate: [UInt8]?
    public var clientKey: [UInt8]?
    /// Seconds since 1970; nil when the plugin gave no expiry (then it is asked once per process).
    public var expires: Int64?
}

/// Runs kubeconfig exec plugins and keeps their credentials until they expire.
public final class ExecCredentials: @unchecked Sendable {
    public static let shared = ExecCredentials()
    private var cache: [ExecPlugin: ExecCredential] = [:]
    private let lock = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)

    init() { pthread_mutex_init(lock, nil) }

    public func credential(for plugin: ExecPlugin, server: String, variables: [String: String]) throws -> ExecCredential {
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        let now = Int64(time(nil))
        if let cached = cache[plugin], (cached.expires ?? Int64.max) > now + 10 { return cached }
        let credential = try run(plugin, server: server, variables: variables)
        cache[plugin] = credential
        return credential
    }

    /// Forgets a plugin's credential (after a 401, so the next request asks again).
    public func forget(_ plugin: ExecPlugin) {
        pthread_mutex_lock(lock)
        cache[plugin] = nil
        pthread_mutex_unlock(lock)
    }

    private func run(_ plugin: ExecPlugin, server: String, variables: [String: String]) throws -> ExecCredential {
        var environment = variables
        for (key, value) in plugin.environment { environment[key] = value }
        environment["KUBERNETES_EXEC_INFO"] = #"{"apiVersion":"\#(plugin.apiVersion)","kind":"ExecCredential","spec":{"interactive":false}}"#
        let result = try Subprocess.run(plugin.command, plugin.arguments, environment: environment)
        guard result.status == 0 else {
            let hint = plugin.installHint.map { "\n\($0)" } ?? ""
            throw KubeconfigError("the credential plugin \(plugin.command) failed (exit \(result.status)): "
                                  + result.stderr.trimmed + hint)
        }
        guard let root = try? YAMLParser.parse(result.stdout).first?.root, let status = root["status"] else {
            throw KubeconfigError("the credential plugin \(plugin.command) printed no ExecCredential with a status")
        }
        let expiry = status["expirationTimestamp"]?.scalarText.flatMap(RFC3339.epochSeconds)
        let credential = ExecCredential(token: status["token"]?.scalarText, clientCertificate: status["clientCertificateData"]?.scalarText.map { Array($0.utf8) },
                                        clientKey: status["clientKeyData"]?.scalarText.map { Array($0.utf8) }, expires: expiry)
        guard credential.token != nil || (credential.clientCertificate != nil && credential.clientKey != nil) else {
            throw KubeconfigError("the credential plugin \(plugin.command) returned neither a token nor a client certificate and key")
        }
        return credential
    }
}

/// Runs a program found on PATH with its output captured (both streams read together, so neither can fill up).
enum Subprocess {
    struct Result { var status: Int32; var stdout: String; var stderr: String }

    static func run(_ command: String, _ arguments: [String], environment: [String: String]) throws -> Result {
        var out: [Int32] = [0, 0], err: [Int32] = [0, 0]
        guard pipe(&out) == 0, pipe(&err) == 0 else { throw KubeconfigError("cannot start \(command): no pipes") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, out[1], 1)
        posix_spawn_file_actions_adddup2(&actions, err[1], 2)
        posix_spawn_file_actions_addclose(&actions, out[0])
        posix_spawn_file_actions_addclose(&actions, err[0])
        let argv = ([command] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var pid: pid_t = 0
        let spawned = posix_spawnp(&pid, command, &actions, nil, argv, envp)
        close(out[1])
        close(err[1])
        guard spawned == 0 else {
            close(out[0]); close(err[0])
            throw KubeconfigError("cannot run the credential plugin \(command): \(String(cString: strerror(spawned)))")
        }
        var stdout: [UInt8] = [], stderr: [UInt8] = []
        var open = [out[0], err[0]]
        var buffer = [UInt8](repeating: 0, count: 65536)
        while !open.isEmpty {
            var fds = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            if poll(&fds, nfds_t(fds.count), 60_000) <= 0 { break }
            for entry in fds where entry.revents != 0 {
                let count = read(entry.fd, &buffer, buffer.count)
                if count > 0 {
                    if entry.fd == out[0] { stdout += buffer[0..<count] } else { stderr += buffer[0..<count] }
                } else {
                    close(entry.fd)
                    open.removeAll { $0 == entry.fd }
                }
            }
        }
        for fd in open { close(fd) }
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        let exitCode = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return Result(status: exitCode, stdout: String(decoding: stdout, as: UTF8.self), stderr: String(decoding: stderr, as: UTF8.self))
    }
}
