import Foundation
import LocalPods

/// `meshctl x echo`: the echo application local mode runs for `meshctl/echo` containers (hidden: local mode starts it).
struct EchoCommand: MeshCommand {
    static var spec: CommandSpec {
        CommandSpec(
            name: "echo",
            abstract: "Run the echo application of local mode's meshctl/echo containers (local mode starts it)",
            discussion: """
            Serves on every port of PORTS (else PORT, else 8080), bound to ECHO_BIND, else POD_IP, else 127.0.0.1.
            Every answer names the pod (POD_NAME, POD_NAMESPACE, SERVICE_ACCOUNT, POD_VERSION) and shows the request
            line and headers, as key=value text or as JSON for `Accept: application/json`. Paths: /status/NNN,
            /delay/DURATION, /headers, /close (drops the connection unanswered), /call?url=URL (calls a Service by
            name from this pod's address). Settings: ECHO_PROTOCOL (http1; h2c: HTTP/2 cleartext, prior knowledge or
            Upgrade; grpc: h2c plus a gRPC echo of any application/grpc POST, `x-echo-grpc-status: N` for status N,
            grpc-timeout honoured; tcp), ECHO_TLS=true, ECHO_TLS_CERT and
            ECHO_TLS_KEY, ECHO_KEEPALIVE_TIMEOUT, ECHO_ERROR_RATE (fraction of 503s), ECHO_DELAY, ECHO_CLOSE_AFTER=N (answers N
            requests per connection, then drops the next one unanswered). One log line per
            request on standard output; SIGTERM stops accepting, finishes what is under way, and exits 0.
            """,
            examples: [Example("Serve two ports on a pod address", "PORTS=8080,9090 POD_IP=127.10.0.7 POD_NAME=echo-0 meshctl x echo")],
            hidden: true)
    }

    /// Seconds given to requests under way after SIGTERM (the kubelet's grace period comes first, with SIGKILL).
    static let drainSeconds: Double = 60

    init(_ invocation: Invocation) throws {}

    func run(_ context: CommandContext) throws {
        let signals = StopSignals()

        let settings: EchoSettings
        do {
            settings = try EchoSettings(environment: context.environment.variables)
        } catch {
            throw InputDataError("echo: \(error.description)")
        }
        let output = LineOutput(context.stdout)
        let server: EchoServer
        do {
            server = try EchoServer(settings: settings) { line in output.write(line) }
        } catch let error as EchoStartError {
            throw CommandFailure("echo: \(error.description)")
        }
        server.start()
        let scheme = settings.tls ? (settings.wireProtocol == .tcp ? "tls" : "https") : (settings.wireProtocol == .tcp ? "tcp" : "http")
        let listening = server.ports.map { "\(scheme)://\(settings.bindAddress):\($0)" }.joined(separator: " ")
        output.write("\(EchoLog.timestamp()) echo: pod \(settings.namespace)/\(settings.pod) serving \(listening)")
        let received = signals.wait()
        server.stopAccepting()
        let deadline = Date().addingTimeInterval(Self.drainSeconds)
        while server.requestsInFlight > 0 && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        let left = server.requestsInFlight
        server.stop()
        output.write("\(EchoLog.timestamp()) echo: stopped (signal \(received))" + (left > 0 ? ", \(left) request(s) still under way were cut" : ""))
    }
}

/// Whole lines to a stream from any thread, one at a time.
final class LineOutput: @unchecked Sendable {
    private let stream: TextOutput
    private let lock = NSLock()

    init(_ stream: TextOutput) { self.stream = stream }

    func write(_ line: String) {
        lock.lock(); defer { lock.unlock() }
        stream.write(line + "\n")
    }
}
