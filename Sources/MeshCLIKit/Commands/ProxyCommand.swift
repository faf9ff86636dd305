import Foundation
import MeshNet
import MeshProxy

/// `meshctl proxy -c FILE`: the embedded sidecar proxy, running an Envoy v3 bootstrap.
struct ProxyCommand: MeshCommand {
    static var spec: CommandSpec {
        CommandSpec(
            name: "proxy",
            abstract: "Run meshctl's embedded sidecar proxy on an Envoy v3 bootstrap file",
            discussion: """
            Runs the subset of Envoy's configuration language that Istio's sidecars use, in Envoy's field names, so
            one bootstrap file runs in Envoy and in meshctl: static listeners and clusters, route configurations
            inline or from a file-based RDS source, secrets from file-based SDS, and dynamic_resources polled from a
            management server over xDS REST-JSON (LDS, CDS, RDS, EDS, SDS; updates swap in while requests under way
            finish on their configuration, a bad resource is NACKed and the last good one serves). Plain HTTP/1.1 traffic is proxied
            with Envoy's routing, retries, timeouts, fault injection, circuit breakers and outlier detection; the
            access log, stats and admin port (/config_dump, /clusters, /stats, /ready, ...) answer like Envoy's.
            A field the proxy does not implement stops it at start with the field's path and position (exit 65),
            never silently ignored. It runs until interrupted (SIGINT, SIGTERM) or POST /quitquitquit.
            """,
            examples: [
                Example("Run a bootstrap", "meshctl proxy -c envoy.yaml"),
                Example("With two worker loops and debug logging", "meshctl proxy -c envoy.yaml --concurrency 2 --log-level debug"),
                Example("Check a bootstrap without serving it", "meshctl proxy -c envoy.yaml --mode validate"),
            ],
            flags: [
                FlagSpec("config-path", short: "c", valueName: "FILE", help: "The bootstrap file (YAML or JSON)", completion: .files),
                FlagSpec("concurrency", valueName: "N", help: "Worker event loops", default: "1"),
                FlagSpec("log-level", valueName: "LEVEL", help: "The proxy's own log level", default: "info",
                         completion: .values(["trace", "debug", "info", "warning", "error", "critical", "off"])),
                FlagSpec("mode", valueName: "MODE", help: "serve, or validate: read the configuration and exit", default: "serve",
                         completion: .values(["serve", "validate"])),
            ])
    }

    let configPath: String?
    let concurrency: Int
    let logLevel: ProxyLog.Level
    let validateOnly: Bool

    init(_ invocation: Invocation) throws {
        configPath = invocation.string("config-path")
        concurrency = try invocation.int("concurrency") ?? 1
        logLevel = ProxyLog.Level(name: invocation.string("log-level") ?? "info") ?? .info
        validateOnly = invocation.string("mode") == "validate"
    }

    func validate() throws {
        guard let configPath, !configPath.isEmpty else {
            throw UsageError(problem: "the bootstrap file is required: meshctl proxy -c FILE", commandPath: "meshctl proxy")
        }
        guard (1...256).contains(concurrency) else {
            throw UsageError(problem: "invalid value \"\(concurrency)\" for --concurrency: use 1 to 256", commandPath: "meshctl proxy")
        }
    }

    func run(_ context: CommandContext) throws {
        let path = FileSystem.resolve(configPath ?? "", in: context.environment.workingDirectory)
        let configuration: ProxyConfiguration
        do {
            configuration = try ProxyConfiguration.load(file: path)
        } catch {
            throw InputDataError(Self.describe(error), carriesItsOwnLabel: true)
        }
        if validateOnly {
            context.stdout.write("\(path): OK: \(configuration.listeners.count) listeners, \(configuration.clusters.count) clusters, "
                                 + "\(configuration.dynamicRoutes.count) RDS route configurations, \(configuration.secrets.count) SDS secrets\n")
            return
        }
        try Self.serve(configuration, concurrency: concurrency, level: logLevel, context: context)
    }

    /// `file:line:column: error: field.path: problem`.
    static func describe(_ error: ProxyConfigError) -> String {
        let place = error.location.line > 0 ? "\(error.file):\(error.location.line):\(error.location.column)" : error.file
        return "\(place): error: " + (error.path.isEmpty ? error.problem : "\(error.path): \(error.problem)")
    }

    /// Serves until SIGINT, SIGTERM or /quitquitquit.
    static func serve(_ configuration: ProxyConfiguration, concurrency: Int, level: ProxyLog.Level, context: CommandContext) throws {
        let signals = StopSignals()
        let errors = SharedOutput(context.stderr)
        let log = ProxyLog(level: level) { line in errors.write(line) }
        let proxy: ProxyServer
        do {
            proxy = try ProxyServer(configuration: configuration, concurrency: concurrency, log: log)
        } catch {
            throw CommandFailure("cannot start the proxy: \(error) (another process may hold the port; change the port_value in \(configuration.file))")
        }
        proxy.onQuit = { kill(getpid(), SIGTERM) }
        proxy.start()
        defer { proxy.stop() }
        StartupPages.releaseSoon()
        let received = signals.wait()
        log.info("stopping (signal \(received))")
    }
}

/// The command's error stream, written from the proxy's loop threads one line at a time.
private final class SharedOutput: @unchecked Sendable {
    private let lock = NSLock()
    private let output: TextOutput

    init(_ output: TextOutput) { self.output = output }

    func write(_ text: String) {
        lock.lock(); defer { lock.unlock() }
        output.write(text)
    }
}
