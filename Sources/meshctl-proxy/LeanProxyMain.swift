import Foundation
import MeshNet
import MeshProxy
import MeshSidecar

#if canImport(Glibc)
import Glibc
#endif

/// `meshctl-proxy`: the sidecar proxy alone, without meshctl's other commands and the libraries they load (libcurl,
/// SQLite), so a proxy process maps and touches less. `meshctl proxy` and local mode's `meshctl x sidecar` exec it
/// when it sits beside meshctl; run by itself it takes the same command lines (`meshctl-proxy proxy -c FILE ...`,
/// `meshctl-proxy x sidecar -- proxy sidecar ...`). What it does not serve itself (help,
/// `--mode validate`, a bad flag, a configuration it refuses, a port it cannot bind) it hands back to meshctl,
/// which runs the proxy in its own process and reports any problem as `meshctl proxy` always has.
@main
struct LeanProxyMain {
    /// Set for the meshctl this hands back to, so that it does not exec `meshctl-proxy` again.
    static let inProcessVariable = "MESHCTL_PROXY_IN_PROCESS"

    static func main() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        if arguments.starts(with: ["x", "sidecar"]) { runSidecar(arguments) }
        guard let parsed = LeanProxyArguments(arguments) else { handBack(arguments) }
        let path = parsed.configPath.hasPrefix("/") ? parsed.configPath : workingDirectory() + "/" + parsed.configPath
        guard let configuration = try? ProxyConfiguration.load(file: path) else { handBack(arguments) }
        var stopSignals = blockStopSignals()
        let errors = StandardError()
        let log = ProxyLog(level: parsed.logLevel) { line in errors.write(line) }
        guard let proxy = try? ProxyServer(configuration: configuration, concurrency: parsed.concurrency, log: log) else {
            pthread_sigmask(SIG_UNBLOCK, &stopSignals, nil)
            handBack(arguments)
        }
        proxy.onQuit = { kill(getpid(), SIGTERM) }
        proxy.start()
        StartupPages.releaseSoon()
        var received: Int32 = 0
        sigwait(&stopSignals, &received)
        log.info("stopping (signal \(received))")
        proxy.stop()
        exit(0)
    }

    /// A local pod's sidecar (`x sidecar -- proxy sidecar|router ...` with the pod's environment), as meshctl's
    /// `x sidecar` runs it with meshctl's proxy; a real Envoy (MESHCTL_SIDECAR_PROXY=envoy), bad settings or a failed
    /// start go back to meshctl, which says what is wrong.
    static func runSidecar(_ arguments: [String]) -> Never {
        var sidecarArguments = Array(arguments.dropFirst(2))
        if sidecarArguments.first == "--" { sidecarArguments.removeFirst() }
        let environment = ProcessInfo.processInfo.environment
        guard environment["MESHCTL_SIDECAR_PROXY"] != "envoy",
              let settings = try? SidecarSettings(arguments: sidecarArguments, environment: environment) else { handBack(arguments) }
        var stopSignals = blockStopSignals()
        let errors = StandardError()
        guard let sidecar = try? LocalSidecar(settings: settings, proxy: .meshctl, log: { line in errors.write(line.hasSuffix("\n") ? line : line + "\n") }),
              (try? sidecar.start()) != nil else {
            pthread_sigmask(SIG_UNBLOCK, &stopSignals, nil)
            handBack(arguments)
        }
        StartupPages.releaseSoon()
        errors.write(sidecar.startedLine + "\n")
        var received: Int32 = 0
        sigwait(&stopSignals, &received)
        sidecar.stop()
        errors.write(LocalSidecar.stoppedLine(signal: received) + "\n")
        exit(0)
    }

    /// Blocks SIGINT and SIGTERM before any thread starts (threads inherit the mask), so only the caller's sigwait
    /// takes them.
    static func blockStopSignals() -> sigset_t {
        var stopSignals = sigset_t()
        sigemptyset(&stopSignals)
        sigaddset(&stopSignals, SIGINT)
        sigaddset(&stopSignals, SIGTERM)
        pthread_sigmask(SIG_BLOCK, &stopSignals, nil)
        return stopSignals
    }

    /// Execs the meshctl beside this binary on the same command line, marked to run the proxy in its own process.
    static func handBack(_ arguments: [String]) -> Never {
        let meshctl = directoryOfExecutable() + "/meshctl"
        setenv(inProcessVariable, "1", 1)
        let argv = (["meshctl"] + arguments).map { strdup($0) } + [nil]
        execv(meshctl, argv)
        let reason = String(cString: strerror(errno))
        StandardError().write("error: meshctl-proxy serves `proxy -c FILE [--concurrency N] [--log-level LEVEL]` and `x sidecar -- proxy sidecar|router ...`; for anything else it runs "
                              + "\(meshctl), which failed: \(reason). Install meshctl beside meshctl-proxy, or run `meshctl proxy` instead.\n")
        exit(64)
    }

    static func workingDirectory() -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        return getcwd(&buffer, buffer.count) != nil ? String(cString: buffer) : "."
    }

    static func directoryOfExecutable() -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard length > 0 else { return "." }
        let path = String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return String(path[..<slash])
    }
}

/// Standard error, written from the proxy's loop threads one line at a time.
private final class StandardError: @unchecked Sendable {
    private var lock = pthread_mutex_t()

    init() { pthread_mutex_init(&lock, nil) }

    func write(_ text: String) {
        pthread_mutex_lock(&lock); defer { pthread_mutex_unlock(&lock) }
        var bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeMutableBytes { Glibc.write(2, $0.baseAddress! + offset, $0.count - offset) }
            if written <= 0 { if written < 0 && errno == EINTR { continue }; break }
            offset += written
        }
    }
}
