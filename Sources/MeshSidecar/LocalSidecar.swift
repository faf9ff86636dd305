import ConfigValues
import Foundation
import MeshProxy

/// A local pod's sidecar: writes the bootstrap (`envoy-rev.json` in the pod's folder), starts the agent on 15020,
/// and runs the proxy on the bootstrap: meshctl's own in this process, or a real Envoy as a child process.
public final class LocalSidecar: @unchecked Sendable {
    /// Which proxy runs the bootstrap.
    public enum Proxy: Sendable, Equatable {
        case meshctl
        /// A real Envoy binary at this path.
        case envoy(String)
    }

    public struct StartError: Error, CustomStringConvertible {
        public let description: String
    }

    public let settings: SidecarSettings
    public let bootstrapFile: String
    /// Which proxy runs the bootstrap.
    public let proxyKind: Proxy
    private let agent: SidecarAgent
    private var proxy: ProxyServer?
    private var envoy: Process?

    /// Writes the bootstrap and starts the agent and the proxy; `log` gets the proxy's own log lines.
    public init(settings: SidecarSettings, proxy kind: Proxy, logLevel: ProxyLog.Level = .warning, log: @escaping @Sendable (String) -> Void) throws {
        self.settings = settings
        proxyKind = kind
        bootstrapFile = URL(fileURLWithPath: settings.directory).appendingPathComponent("envoy-rev.json").path
        let text = JSONEmitter(indent: 2).emit(SidecarBootstrap.document(settings).yamlNode) + "\n"
        do {
            try Data(text.utf8).write(to: URL(fileURLWithPath: bootstrapFile), options: .atomic)
        } catch {
            throw StartError(description: "cannot write the bootstrap \(bootstrapFile): \(error.localizedDescription)")
        }
        do { agent = try SidecarAgent(settings: settings) } catch {
            throw StartError(description: "cannot listen on \(settings.podIP):\(SidecarSettings.agentPort) for the agent: \(error)")
        }
        switch kind {
        case .meshctl:
            let configuration: ProxyConfiguration
            do { configuration = try ProxyConfiguration.load(file: bootstrapFile) } catch {
                throw StartError(description: "the proxy refused the bootstrap: \(error)")
            }
            do {
                proxy = try ProxyServer(configuration: configuration, concurrency: 1, log: ProxyLog(level: logLevel, write: log))
            } catch {
                throw StartError(description: "the proxy cannot listen on \(settings.podIP): \(error)")
            }
        case .envoy(let path):
            let process = Process()
            process.executableURL = URL(fileURLWithPath: path)
            // Several Envoys run side by side on one host: no hot restart (its shared memory is per base id).
            // Access log lines reach `kubectl logs` within a second (Envoy flushes files every 10 s by default).
            // Draining as pilot-agent asks for it: 45 s, clients told at once (a listener update closes old connections).
            process.arguments = ["-c", bootstrapFile, "--disable-hot-restart", "--file-flush-interval-msec", "1000", "--log-level", logLevel.name,
                                 "--drain-time-s", "45", "--drain-strategy", "immediate",
                                 "--service-node", settings.nodeID, "--service-cluster", "\(settings.podName).\(settings.namespace)"]
            envoy = process
        }
    }

    /// Starts the agent and the proxy; `proxyEnded` runs (once, on another thread) if a real Envoy ends by itself.
    public func start(proxyEnded: @escaping @Sendable (Int32) -> Void = { _ in }) throws {
        agent.start()
        proxy?.start()
        if let envoy {
            envoy.terminationHandler = { process in proxyEnded(process.terminationStatus) }
            do { try envoy.run() } catch { throw StartError(description: "cannot start envoy at \(envoy.executableURL?.path ?? ""): \(error.localizedDescription)") }
        }
    }

    /// Whether a real Envoy this sidecar started has ended, and its exit status.
    public var envoyExit: Int32? {
        guard let envoy, !envoy.isRunning else { return nil }
        return envoy.terminationStatus
    }

    public func stop() {
        envoy?.terminationHandler = nil
        if let envoy, envoy.isRunning {
            envoy.terminate()
            envoy.waitUntilExit()
        }
        proxy?.stop()
        agent.stop()
    }
}

extension LocalSidecar {
    /// The line a sidecar process logs once it serves: node id, proxy, admin, pilot and bootstrap.
    public var startedLine: String {
        "\(Self.timestamp()) info sidecar: \(settings.nodeID) started (\(proxyKind == .meshctl ? "meshctl proxy" : "envoy")), "
            + "admin \(settings.podIP):\(SidecarSettings.adminPort), pilot \(settings.pilot), bootstrap \(bootstrapFile)"
    }

    /// The line a sidecar process logs when a signal stops it.
    public static func stoppedLine(signal: Int32) -> String {
        "\(timestamp()) info sidecar: stopped (signal \(signal))"
    }

    /// Now in RFC 3339 with milliseconds, as the sidecar's own log lines start.
    public static func timestamp() -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: Date())
    }
}
