import Foundation
import MeshHTTP2
import MeshNet
import MeshTLS
import MeshHTTP1

/// Why the echo app could not start serving.
public struct EchoStartError: Error, CustomStringConvertible, Sendable {
    public let description: String
}

/// The echo app: answers on each of its ports with what it knows of its pod and of the request (HTTP/1.1, with
/// TLS when asked; HTTP/2 cleartext; gRPC over it), or echoes bytes back (`tcp`). One event loop serves every port.
public final class EchoServer: @unchecked Sendable {
    public let settings: EchoSettings
    /// The ports listened on, in the order of `settings.ports` (asked-for port 0 gets a free one).
    public private(set) var ports: [Int] = []
    let loop: EventLoop
    private var httpServers: [HTTPServer] = []
    private var http2Servers: [HTTP2Server] = []
    private var tcpListeners: [TCPListener] = []
    private let tls: TLSServerContext?
    let log: @Sendable (String) -> Void
    private let counter = NSLock()
    private var inFlight = 0

    /// Binds every port; `log` gets one line per request (the container's output).
    public init(settings: EchoSettings, log: @escaping @Sendable (String) -> Void) throws {
        self.settings = settings
        self.log = log
        loop = try EventLoop(name: "echo")
        tls = settings.tls ? try Self.tlsContext(settings) : nil
        var bound: [Int] = []
        for port in settings.ports {
            do {
                switch settings.wireProtocol {
                case .http1:
                    let server = try HTTPServer(host: settings.bindAddress, port: port, loops: [loop], tls: tls, headTimeout: settings.keepAliveTimeout) {
                        [unowned self] request, responder in handle(request, responder)
                    }
                    httpServers.append(server)
                    bound.append(server.port)
                case .h2c, .grpc:
                    let grpc = settings.wireProtocol == .grpc
                    let server = try HTTP2Server(host: settings.bindAddress, port: port, loops: [loop], idleTimeout: settings.keepAliveTimeout) {
                        [unowned self] request, responder in
                        if grpc && Self.isGRPC(request) { handleGRPC(request, responder) } else { handle(request, responder) }
                    }
                    http2Servers.append(server)
                    bound.append(server.port)
                case .tcp:
                    let listener = try TCPListener(host: settings.bindAddress, port: port, loop: loop)
                    tcpListeners.append(listener)
                    bound.append(listener.port)
                }
            } catch {
                let hint = settings.bindAddress == "127.0.0.1" ? " (another process, perhaps another pod that binds 127.0.0.1 with ECHO_BIND, has it)" : ""
                throw EchoStartError(description: "cannot listen on \(settings.bindAddress):\(port): \(error)\(hint)")
            }
        }
        ports = bound
    }

    /// Starts serving.
    public func start() {
        loop.start()
        for server in httpServers { server.start() }
        for server in http2Servers { server.start() }
        for listener in tcpListeners { listener.start { [unowned self] fd in accepted(fd) } }
    }

    /// Stops taking connections; exchanges under way go on.
    public func stopAccepting() {
        for server in httpServers { server.stop() }
        for server in http2Servers { server.stop() }
        for listener in tcpListeners { listener.close() }
    }

    /// Requests being answered (HTTP) or connections open (tcp).
    public var requestsInFlight: Int {
        counter.lock(); defer { counter.unlock() }
        return inFlight
    }

    /// Stops everything at once.
    public func stop() {
        stopAccepting()
        loop.stop()
    }

    func began() { counter.lock(); inFlight += 1; counter.unlock() }
    func ended() { counter.lock(); inFlight -= 1; counter.unlock() }

    /// ECHO_TLS_CERT/ECHO_TLS_KEY when given, else a self-signed certificate for the pod's name and address.
    private static func tlsContext(_ settings: EchoSettings) throws -> TLSServerContext {
        do {
            if let certificateFile = settings.tlsCertificateFile, let keyFile = settings.tlsKeyFile {
                let certificate = try Certificate(pem: Array(try Data(contentsOf: URL(fileURLWithPath: certificateFile))))
                let key = try PrivateKey(pem: Array(try Data(contentsOf: URL(fileURLWithPath: keyFile))))
                return try TLSServerContext(certificateChain: [certificate], key: key)
            }
            let key = try PrivateKey.generateP256()
            let names = [settings.pod, "localhost"].filter { !$0.isEmpty }
            let certificate = try Certificate.issue(CertificateRequest(commonName: settings.pod, dnsNames: names, ipAddresses: [settings.bindAddress],
                                                                       lifetimeSeconds: 365 * 86_400), for: key)
            return try TLSServerContext(certificateChain: [certificate], key: key)
        } catch {
            throw EchoStartError(description: "ECHO_TLS: cannot set up TLS: \(error)"
                                 + (settings.tlsCertificateFile == nil ? "" : " (ECHO_TLS_CERT and ECHO_TLS_KEY must name a PEM certificate and its key)"))
        }
    }

    // MARK: - tcp

    /// Echoes what a client sends until it closes (inside TLS with ECHO_TLS); reading pauses while 1 MiB waits for
    /// a client that does not read.
    private func accepted(_ fd: Int32) {
        loop.execute { [self] in
            let connection = TCPConnection(fd: fd, loop: loop)
            var bottom: [ChannelHandler] = []
            if let tls {
                guard let handler = try? TLSHandler(server: tls) else { connection.close(); return }
                bottom = [handler]
            }
            began()
            let client = connection.peerAddress ?? "-", server = connection.localAddress ?? "-"
            let started = DispatchTime.now()
            let echo = TCPEchoHandler { [self] echoed in
                ended()
                log(EchoLog.line(client: client, server: server, what: "tcp", status: "-", bytes: echoed, since: started))
            }
            connection.onDrained = { connection.resumeReading() }
            do { try Channel(connection: connection, handlers: bottom + [echo]).start() } catch { connection.close() }
        }
    }
}

/// The top of a tcp-mode connection's stack: sends back what arrives and counts it.
private final class TCPEchoHandler: ChannelHandler {
    private var echoed = 0
    private let onEnd: (Int) -> Void

    init(onEnd: @escaping (Int) -> Void) { self.onEnd = onEnd }

    func channelRead(context: ChannelContext, data: ByteBuffer) {
        echoed += data.readableBytes
        context.writeAndFlush(data)
        if context.channel.connection.pendingOutput > 1 << 20 { context.channel.pauseReading() }
    }

    func channelInactive(context: ChannelContext) { onEnd(echoed) }
}

/// The echo app's log lines: `TIME CLIENT -> SERVER "REQUEST" STATUS BYTES DURATION`.
public enum EchoLog {
    static func line(client: String, server: String, what: String, status: String, bytes: Int, since start: DispatchTime) -> String {
        let milliseconds = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e6
        return "\(timestamp()) \(client) -> \(server) \"\(what)\" \(status) \(bytes) \(String(format: "%.1f", milliseconds))ms"
    }

    /// UTC with milliseconds, `2026-11-30T22:50:01.123Z`.
    public static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var parts = tm()
        var seconds = now.tv_sec
        gmtime_r(&seconds, &parts)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday),
                      Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec), Int(now.tv_nsec / 1_000_000))
    }
}
