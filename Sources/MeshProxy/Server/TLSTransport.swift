import Foundation
import MeshNet
import MeshTLS

/// A connection's byte stream as the proxy's sessions use it: plain TCP (`TCPConnection` itself) or TLS over TCP
/// (`TLSTransport`). Loop thread only.
protocol ProxyTransport: AnyObject {
    var loop: EventLoop { get }
    var onData: (ByteBuffer) -> Void { get set }
    var onClose: () -> Void { get set }
    var onPeerClosedWrite: () -> Void { get set }
    /// Whether queued output is below the connection's high watermark (see `TCPConnection.watermarks`).
    var isWritable: Bool { get }
    /// `isWritable` changed: a relay pauses reading its other side while this one is not writable.
    var onWritabilityChanged: (Bool) -> Void { get set }
    var isClosed: Bool { get }
    /// Why the connection closed, when it failed (a reset, a TLS error, a TLS stream cut off without close_notify);
    /// nil for an orderly close.
    var closeReason: NetworkError? { get }
    func start() throws(NetworkError)
    func send(_ buffer: ByteBuffer)
    /// Queues `buffer` without writing yet; `flush` writes what is queued.
    func enqueue(_ buffer: ByteBuffer)
    func flush()
    func pauseReading()
    func resumeReading()
    func close()
    func closeWhenDrained(because reason: NetworkError?)
    /// `ip:port` of this end of the connection (`%UPSTREAM_LOCAL_ADDRESS%` for an upstream one).
    var localAddress: String? { get }
}

extension ProxyTransport {
    func send(_ bytes: [UInt8]) { send(ByteBuffer(bytes: bytes)) }
    func closeWhenDrained() { closeWhenDrained(because: nil) }
}

extension TCPConnection: ProxyTransport {}

/// TLS over a TCP connection (`TLSLayer` driven by the connection's callbacks): ciphertext from the socket becomes
/// the plaintext `onData` sees, `send` encrypts. A failed handshake sends its alert, tells `onFailure`, and closes.
/// The transport and its connection hold each other until the connection closes. Loop thread only.
final class TLSTransport: ProxyTransport {
    let tcp: TCPConnection
    let layer: TLSLayer
    var loop: EventLoop { tcp.loop }
    var localAddress: String? { tcp.localAddress }
    var onData: (ByteBuffer) -> Void = { _ in }
    var onClose: () -> Void = {}
    var onPeerClosedWrite: () -> Void = {}
    /// The handshake completed: ALPN's choice and the peer's certificate are known.
    var onHandshake: (TLSEngine) -> Void = { _ in }
    /// The handshake or a record failed (called before the connection closes).
    var onFailure: (TLSError) -> Void = { _ in }
    private var failed = false
    private var sentClose = false
    private var paused = false
    /// Plaintext decrypted while reading was paused, passed on when it resumes.
    private var held: [ByteBuffer] = []
    private var initial: ByteBuffer?
    /// Seconds the handshake may take before the connection closes (0: no limit).
    var handshakeTimeout: Double = 0
    /// The handshake did not finish in `handshakeTimeout` (called before the connection closes).
    var onHandshakeTimeout: () -> Void = {}
    private var handshakeTimer: EventLoop.TimerID?

    /// `initial`: ciphertext already read from `tcp` (by the listener filters).
    init(tcp: TCPConnection, engine: TLSEngine, initial: ByteBuffer? = nil) {
        self.tcp = tcp
        layer = TLSLayer(engine: engine)
        layer.loop = tcp.loop
        self.initial = initial
    }

    var isClosed: Bool { tcp.isClosed }
    /// Ciphertext is queued on the TCP connection as it is made, so its watermarks are the transport's.
    var isWritable: Bool { tcp.isWritable }
    var onWritabilityChanged: (Bool) -> Void {
        get { tcp.onWritabilityChanged }
        set { tcp.onWritabilityChanged = newValue }
    }
    var closeReason: NetworkError? { tcp.closeReason }
    var engine: TLSEngine { layer.engine }

    func start() throws(NetworkError) {
        layer.onHandshake = { [unowned self] engine in
            cancelHandshakeTimer()
            onHandshake(engine)
        }
        if handshakeTimeout > 0 {
            handshakeTimer = tcp.loop.schedule(after: handshakeTimeout) { [weak self] in
                guard let self else { return }
                handshakeTimer = nil
                guard !engine.isHandshakeComplete, !tcp.isClosed else { return }
                onHandshakeTimeout()
                tcp.close()
            }
        }
        tcp.onData = { [self] bytes in receive(bytes) }
        tcp.onPeerClosedWrite = { [self] in onPeerClosedWrite() }
        tcp.onPeerFinished = { [self] in peerFinished() }
        tcp.onClosingWhenDrained = { [self] in sendCloseNotify() }
        tcp.onClose = { [self] in
            cancelHandshakeTimer()
            let closed = onClose
            onData = { _ in }; onClose = {}; onPeerClosedWrite = {}; onHandshake = { _ in }; onFailure = { _ in }
            held = []
            closed()
        }
        do throws(TLSError) { try layer.start(down: tcp.enqueue) } catch { return fail(error) }
        tcp.flush()
        if let initial {
            self.initial = nil
            receive(initial)
        }
        try tcp.start()
    }

    private func receive(_ ciphertext: ByteBuffer) {
        guard !failed, !tcp.isClosed else { return }
        do throws(TLSError) {
            let open = try layer.receive(ciphertext, up: { [self] plaintext in deliver(plaintext) }, down: tcp.enqueue)
            tcp.flush()
            if !open { tcp.closeWhenDrained() }
        } catch { fail(error) }
    }

    /// The peer's FIN reaches the engine: after its close_notify the connection closes in order; without one the
    /// stream was cut off (a crash, or an attacker ending a body early), and it closes as a failure whose
    /// `closeReason` is OpenSSL's "unexpected eof while reading", so a body read to the close is not taken as whole.
    private func peerFinished() {
        guard !failed, !tcp.isClosed else { return tcp.closeWhenDrained() }
        do throws(TLSError) {
            try layer.receiveEndOfInput(up: { [self] plaintext in deliver(plaintext) }, down: tcp.enqueue)
            tcp.closeWhenDrained()
        } catch {
            fail(error)  // closes once its alert is written, with the error as the reason
        }
    }

    private func deliver(_ plaintext: ByteBuffer) {
        guard !tcp.isClosed else { return }
        if paused { held.append(plaintext) } else { onData(plaintext) }
    }

    func send(_ buffer: ByteBuffer) {
        enqueue(buffer)
        flush()
    }

    func enqueue(_ buffer: ByteBuffer) {
        guard !failed, !tcp.isClosed else { return }
        do throws(TLSError) { try layer.send(buffer, down: tcp.enqueue) } catch { fail(error) }
    }

    func flush() {
        guard !failed, !tcp.isClosed else { return }
        tcp.flush()
    }

    func pauseReading() {
        paused = true
        // The handshake must go on whatever the application wants.
        if engine.isHandshakeComplete { tcp.pauseReading() }
    }

    func resumeReading() {
        paused = false
        while !paused, !held.isEmpty, !tcp.isClosed { onData(held.removeFirst()) }
        if !paused { tcp.resumeReading() }
    }

    func close() { tcp.close() }

    private func cancelHandshakeTimer() {
        if let handshakeTimer { tcp.loop.cancel(handshakeTimer); self.handshakeTimer = nil }
    }

    func closeWhenDrained(because reason: NetworkError?) { tcp.closeWhenDrained(because: reason) }

    private func sendCloseNotify() {
        guard !failed, !sentClose else { return }
        sentClose = true
        layer.close(down: tcp.enqueue)
        tcp.flush()
    }

    private func fail(_ error: TLSError) {
        guard !failed else { return }
        failed = true
        onFailure(error)
        tcp.flush()  // the alert that tells the peer why
        tcp.closeWhenDrained(because: .tls(error.description))
    }

    /// Envoy's words for a TLS failure, as its access log shows them (BoringSSL's packed error code and names):
    /// `TLS_error:|268435581:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED:verify cert failed: SAN
    /// matcher, certificate SANs are [spiffe://...]:TLS_error_end`.
    static func envoyReason(_ error: TLSError) -> String {
        let verifyFailed = "268435581:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED:verify cert failed: "
        let detail: String
        if let problem = error.peerNameProblem {
            // MeshNet says "the peer certificate's SANs [URI:a, DNS:b] match none of [...]"; Envoy lists the names bare.
            let listed = problem.range(of: "SANs [").flatMap { start in problem[start.upperBound...].range(of: "]").map { problem[start.upperBound..<$0.lowerBound] } }
            let names = (listed ?? "").split(separator: ",").map { name -> String in
                let trimmed = name.trimmingCharacters(in: .whitespaces)
                return trimmed.firstIndex(of: ":").map { index in
                    ["URI", "DNS", "IP"].contains(String(trimmed[..<index])) ? String(trimmed[trimmed.index(after: index)...]) : trimmed
                } ?? trimmed
            }
            detail = verifyFailed + "SAN matcher, certificate SANs are [\(names.joined(separator: ", "))]"
        } else if let result = error.verifyResult {
            detail = verifyFailed + "X509_verify_cert: certificate verification error at depth 0: \(result)"
        } else {
            let reason = error.reasons.first ?? "handshake failure"
            detail = "0:SSL routines:OPENSSL_internal:" + reason.uppercased().replacingOccurrences(of: " ", with: "_")
        }
        return "TLS_error:|\(detail):TLS_error_end"
    }
}

/// The OpenSSL contexts of TLS filter chains and clusters, built from the secrets the configuration store holds
/// when a connection starts. A context is kept while its secrets are the same objects, so a rotated certificate
/// (a new secret in the store) applies to the next connection. Safe from any thread.
final class TLSContexts: @unchecked Sendable {
    private let store: ProxyConfigStore
    private let lock = NSLock()
    private var servers: [String: (secrets: [TLSSecret], context: TLSServerContext)] = [:]
    private var clients: [String: (secrets: [TLSSecret], context: TLSClientContext)] = [:]
    /// Past this many contexts of a side the cache starts over (old secrets are let go).
    private static let limit = 256

    init(store: ProxyConfigStore) { self.store = store }

    /// Why a TLS context cannot be made now (a secret not there yet or unreadable).
    struct Unavailable: Error, CustomStringConvertible { let description: String }

    func server(for config: TLSContextConfig) throws(Unavailable) -> TLSServerContext {
        let (identity, authorities, secrets) = try material(config)
        guard let identity else { throw Unavailable(description: "the TLS context names no certificate") }
        let key = Self.key(config, secrets)
        lock.lock(); defer { lock.unlock() }
        if let cached = servers[key], cached.secrets.elementsEqual(secrets, by: ===) { return cached.context }
        var settings = TLSServerConfiguration(identity: identity)
        settings.applicationProtocols = config.alpn
        if let authorities {
            settings.trustedClientAuthorities = authorities
            settings.requiresClientCertificate = config.requireClientCertificate
            settings.clientNames = config.subjectAltNames
        }
        let context: TLSServerContext
        do { context = try TLSServerContext(settings) } catch { throw Unavailable(description: "\(error)") }
        if servers.count >= Self.limit { servers = [:] }
        servers[key] = (secrets, context)
        return context
    }

    func client(for config: TLSContextConfig) throws(Unavailable) -> TLSClientContext {
        let (identity, authorities, secrets) = try material(config)
        let key = Self.key(config, secrets)
        lock.lock(); defer { lock.unlock() }
        if let cached = clients[key], cached.secrets.elementsEqual(secrets, by: ===) { return cached.context }
        var settings = TLSClientConfiguration(trusting: authorities ?? [], identity: identity)
        settings.applicationProtocols = config.alpn
        settings.verifiesServer = authorities != nil
        let context: TLSClientContext
        do { context = try TLSClientContext(settings) } catch { throw Unavailable(description: "\(error)") }
        if clients.count >= Self.limit { clients = [:] }
        clients[key] = (secrets, context)
        return context
    }

    /// The context's certificate and trusted authorities, looked up by secret name now.
    private func material(_ config: TLSContextConfig) throws(Unavailable) -> (TLSIdentity?, [Certificate]?, [TLSSecret]) {
        let available = store.current.tlsSecrets
        var used: [TLSSecret] = []
        func secret(_ name: String) throws(Unavailable) -> TLSSecret {
            guard let secret = config.inlineSecrets[name] ?? available[name] else { throw Unavailable(description: "secret \(name) is not available") }
            if let problem = secret.problem { throw Unavailable(description: problem) }
            used.append(secret)
            return secret
        }
        var identity: TLSIdentity?
        if let name = config.certificateSecrets.first {
            identity = try secret(name).identity
            if identity == nil { throw Unavailable(description: "secret \(name) holds no certificate") }
        }
        var authorities: [Certificate]?
        if let name = config.validationSecret {
            authorities = try secret(name).trustedAuthorities
            if authorities?.isEmpty == true { throw Unavailable(description: "secret \(name) holds no trusted authority") }
        }
        return (identity, authorities, used)
    }

    private static func key(_ config: TLSContextConfig, _ secrets: [TLSSecret]) -> String {
        ([config.certificateSecrets.joined(separator: ","), config.validationSecret ?? "", config.alpn.joined(separator: ","),
          config.requireClientCertificate ? "require" : "", config.subjectAltNames.map(\.description).joined(separator: ",")]
            + secrets.map(\.name)).joined(separator: "|")
    }
}

/// Opens a connection to an upstream host: TCP, then TLS when the host's transport socket says so. It completes once
/// the connection can carry bytes (after the handshake), as Envoy's pools count a connection connected.
enum UpstreamConnector {
    static func connect(to address: SocketAddress, tls: TLSContextConfig?, cluster: UpstreamCluster, loop: EventLoop,
                        completion: @escaping (Result<ProxyTransport, UpstreamFailure>) -> Void) {
        // A LOGICAL_DNS host not yet resolved names a host: it is looked up for this connection (off the loop).
        guard CIDRRange.isAddress(address.host) else {
            return HostResolver.resolve(address.host, family: cluster.config.dns.lookupFamily, loop: loop) { resolved in
                switch resolved {
                case .failure(let error): completion(.failure(.connectFailure(UpstreamPool.transportFailureReason(error))))
                case .success(let hosts):
                    connect(to: SocketAddress(host: hosts[0], port: address.port), tls: tls, cluster: cluster, loop: loop, completion: completion)
                }
            }
        }
        TCPConnection.connect(host: address.host, port: address.port, loop: loop) { result in
            switch result {
            case .failure(let error):
                completion(.failure(.connectFailure(UpstreamPool.transportFailureReason(error))))
            case .success(let tcp):
                // The cluster's `per_connection_buffer_limit_bytes`: how much request waits on this socket before
                // its client is paused.
                if let limit = cluster.config.bufferLimit { tcp.watermarks = limit.watermarks }
                guard let tls else { return completion(.success(tcp)) }
                startTLS(on: tcp, tls: tls, cluster: cluster, completion: completion)
            }
        }
    }

    private static func startTLS(on tcp: TCPConnection, tls: TLSContextConfig, cluster: UpstreamCluster,
                                 completion: @escaping (Result<ProxyTransport, UpstreamFailure>) -> Void) {
        let prefix = cluster.statPrefix + "ssl."
        let transport: TLSTransport
        do {
            guard let contexts = cluster.tlsContexts else { throw TLSContexts.Unavailable(description: "no TLS contexts for cluster \(cluster.config.name)") }
            let context = try contexts.client(for: tls)
            transport = TLSTransport(tcp: tcp, engine: try TLSEngine(client: context, serverName: tls.sni, peerNames: tls.subjectAltNames))
        } catch {
            tcp.close()
            cluster.stats.increment(prefix + "connection_error")
            return completion(.failure(.connectFailure("TLS_error:|\(error):TLS_error_end")))
        }
        var finished = false
        transport.onHandshake = { _ in
            guard !finished else { return }
            finished = true
            cluster.stats.increment(prefix + "handshake")
            completion(.success(transport))
        }
        transport.onFailure = { error in
            SSLStats.countFailure(error, prefix: prefix, stats: cluster.stats)
            guard !finished else { return }
            finished = true
            completion(.failure(.connectFailure(TLSTransport.envoyReason(error))))
        }
        transport.onClose = {
            guard !finished else { return }
            finished = true
            cluster.stats.increment(prefix + "connection_error")
            completion(.failure(.connectFailure("TLS_error:|SSL routines:OPENSSL_internal:CONNECTION_CLOSED_BEFORE_HANDSHAKE:TLS_error_end")))
        }
        do throws(NetworkError) { try transport.start() } catch {
            transport.close()
        }
    }
}

/// Envoy's `ssl.*` counters for a failed handshake.
enum SSLStats {
    static func countFailure(_ error: TLSError, prefix: String, stats: ProxyStats) {
        stats.increment(prefix + "connection_error")
        if error.peerNameProblem != nil {
            stats.increment(prefix + "fail_verify_san")
        } else if error.reasons.contains(where: { $0.contains("peer did not return a certificate") }) {
            stats.increment(prefix + "fail_verify_no_cert")
        } else if error.verifyResult != nil {
            stats.increment(prefix + "fail_verify_error")
        }
    }
}
