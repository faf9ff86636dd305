import MeshNet
import MeshTLS
import MeshHTTP2

/// A new downstream connection from accept to its filter chain: its PROXY header (`proxy_protocol`), the hand-off to
/// the listener of its original destination (`use_original_dst`), the look at its first bytes (`tls_inspector`,
/// `http_inspector`), the chain's choice, and TLS when the chain terminates it. A listener without listener filters
/// or hand-off picks its chain at once, without reading. Loop thread only.
final class ConnectionSetup {
    private let tcp: TCPConnection
    private var listener: Listener
    private let server: ProxyServer
    private let context: LoopContext
    private var runtime: ProxyRuntime { server.runtime }
    /// The connection's addresses: the socket's, or the ones a PROXY header named.
    private var local: String
    private var remote: String
    /// Bytes read while looking, handed on to the chain.
    private var buffered: [UInt8] = []
    private var proxyHeaderRead = false
    /// The original destination is known (`DownstreamConnectionInfo.localAddressRestored`).
    private var localRestored = false
    private var handedOff = false
    private var timer: EventLoop.TimerID?
    private var retainSelf: ConnectionSetup?

    /// `local` is the address the connection reached (an additional address's, for one accepted there): its port is
    /// the destination port chains match.
    init(tcp: TCPConnection, local: String, remote: String, listener: Listener, server: ProxyServer, context: LoopContext) {
        self.tcp = tcp
        self.local = local
        self.remote = remote
        self.listener = listener
        self.server = server
        self.context = context
    }

    func begin() {
        proxyHeaderRead = !listener.inspection.runs(.proxyProtocol, destination: local)
        localRestored = listener.useOriginalDestination || listener.inspection.runs(.originalDestination, destination: local)
        guard needsBytes() else { return choose(timedOut: false) }
        retainSelf = self
        tcp.onData = { [self] bytes in
            bytes.withUnsafeReadableBytes { buffered += $0 }
            advance()
        }
        tcp.onClose = { [self] in finish() }
        if listener.filtersTimeout > 0 {
            timer = tcp.loop.schedule(after: listener.filtersTimeout) { [weak self] in
                guard let self else { return }
                timer = nil
                guard listener.continueOnFiltersTimeout else {
                    runtime.log.debug("\(listenerName): listener filters timed out for \(remote)")
                    tcp.close()
                    return
                }
                choose(timedOut: true)
            }
        }
        do { try tcp.start() } catch { tcp.close() }
    }

    private var listenerName: String { listener.name ?? listener.address.description }

    /// Whether the listener filters still need to see bytes before a chain can be chosen.
    private func needsBytes() -> Bool {
        if !proxyHeaderRead { return true }
        if !handedOff && listener.useOriginalDestination { handOff() }
        return listener.inspection.runs(.tls, destination: local) || listener.inspection.runs(.http, destination: local)
    }

    /// Runs the filters on what has arrived; chooses the chain once they are done.
    private func advance() {
        if !proxyHeaderRead {
            switch ProxyProtocolHeader.parse(buffered) {
            case .needMore: return
            case .invalid(let problem):
                runtime.stats.increment(ProxyServer.listenerStatPrefix(listener) + "downstream_cx_proxy_proto_error")
                runtime.log.debug("\(listenerName): \(problem) from \(remote)")
                tcp.close()
                return
            case .local(let length):
                buffered.removeFirst(length)
            case .addresses(let source, let destination, let length):
                buffered.removeFirst(length)
                (remote, local) = (source, destination)
                localRestored = true
            }
            proxyHeaderRead = true
            if !needsBytes() { return choose(timedOut: false) }
        }
        if inspect(final: false) != nil { choose(timedOut: false) }
    }

    /// `use_original_dst`: the listener not bound to a port whose address is the original destination (exact, then
    /// 0.0.0.0 with the port) takes the connection; none: this listener keeps it.
    private func handOff() {
        handedOff = true
        guard let target = server.handOffTarget(for: local), target.address != listener.address || target.name != listener.name else { return }
        listener = target
    }

    /// What the inspectors know; nil while they wait for more bytes (unless `final`).
    private func inspect(final: Bool) -> ConnectionFacts? {
        var facts = ConnectionFacts(destination: local, source: remote)
        if listener.inspection.runs(.tls, destination: local) {
            switch ClientHelloInspection.inspect(buffered) {
            case .needMore: if !final { return nil }
            case .notTLS: break
            case .hello(let serverName, let protocols):
                facts.transportProtocol = "tls"
                facts.serverName = serverName
                facts.applicationProtocols = protocols
            }
        }
        if listener.inspection.runs(.http, destination: local) && facts.transportProtocol == "raw_buffer" {
            switch HTTPInspection.inspect(buffered) {
            case .needMore: if !final { return nil }
            case .unknown: break
            case .detected(let name): facts.applicationProtocols = [name]
            }
        }
        return facts
    }

    private func choose(timedOut: Bool) {
        if let timer { tcp.loop.cancel(timer); self.timer = nil }
        guard !tcp.isClosed, let facts = inspect(final: true) else { return finish() }
        let prefix = ProxyServer.listenerStatPrefix(listener)
        guard let chain = FilterChainSelector(listener).select(facts) else {
            runtime.stats.increment(prefix + "no_filter_chain_match")
            runtime.log.debug("\(listenerName): no filter chain matches the connection from \(remote) (\(facts.transportProtocol), "
                              + "SNI \(facts.serverName ?? "none"), ALPN \(facts.applicationProtocols))")
            tcp.close()
            return finish()
        }
        let initial = buffered.isEmpty ? nil : ByteBuffer(bytes: buffered)
        buffered = []
        serve(chain, initial: initial, prefix: prefix)
        finish()
    }

    private func finish() {
        if let timer { tcp.loop.cancel(timer); self.timer = nil }
        retainSelf = nil
    }

    private func serve(_ chain: FilterChain, initial: ByteBuffer?, prefix: String) {
        // The listener's `per_connection_buffer_limit_bytes` (the one that took the connection over, after a hand-off).
        if let limit = listener.bufferLimit { tcp.watermarks = limit.watermarks }
        runtime.stats.increment(prefix + "downstream_cx_total")
        runtime.stats.adjust(prefix + "downstream_cx_active", by: 1)
        var info = DownstreamConnectionInfo(localAddress: local, remoteAddress: remote)
        info.localAddressRestored = localRestored
        guard let tls = chain.tls else {
            tcp.onData = { _ in }
            tcp.onClose = {}
            guard startSession(chain, transport: tcp, info: info, initial: initial, prefix: prefix) else {
                runtime.stats.adjust(prefix + "downstream_cx_active", by: -1)
                tcp.close()
                return
            }
            do { try tcp.start() } catch { tcp.close() }
            return
        }
        let transport: TLSTransport
        do {
            let serverContext = try runtime.tlsContexts.server(for: tls)
            transport = TLSTransport(tcp: tcp, engine: try TLSEngine(server: serverContext), initial: initial)
        } catch {
            runtime.log.warning("\(listenerName): cannot serve TLS to \(remote): \(error)")
            runtime.stats.increment(prefix + "ssl.connection_error")
            runtime.stats.adjust(prefix + "downstream_cx_active", by: -1)
            tcp.close()
            return
        }
        let stats = runtime.stats, log = runtime.log, name = listenerName, remote = remote
        transport.onClose = { stats.adjust(prefix + "downstream_cx_active", by: -1) }
        transport.onFailure = { error in
            SSLStats.countFailure(error, prefix: prefix + "ssl.", stats: stats)
            log.debug("\(name): TLS handshake with \(remote) failed: \(error)")
        }
        transport.handshakeTimeout = chain.handshakeTimeout
        transport.onHandshakeTimeout = {
            stats.increment(prefix + "ssl.handshake_timeout")
            log.debug("\(name): TLS handshake with \(remote) did not finish in \(chain.handshakeTimeout) s; closing")
        }
        transport.onHandshake = { [self] engine in
            stats.increment(prefix + "ssl.handshake")
            var withTLS = info
            withTLS.tls = DownstreamConnectionInfo.TLS(serverName: engine.serverName, applicationProtocol: engine.negotiatedProtocol,
                                                       peerURISANs: engine.peerSubjectAltNames.uris)
            if !startSession(chain, transport: transport, info: withTLS, initial: nil, prefix: prefix) { transport.close() }
        }
        do { try transport.start() } catch { transport.close() }
    }

    /// The chain's network filters run: RBAC may refuse the connection (false: the caller closes it; in front of
    /// tcp_proxy it decides on the client's first bytes, as Envoy's does), else the chain's terminal filter takes it over.
    private func startSession(_ chain: FilterChain, transport: ProxyTransport, info: DownstreamConnectionInfo, initial: ByteBuffer?, prefix: String) -> Bool {
        let stats = runtime.stats, log = runtime.log, name = listenerName, remote = remote
        // Made only for a chain with network RBAC filters (a closure costs an allocation per connection).
        let rbacDenial: (() -> String?)? = chain.rbac.isEmpty ? nil : {
            for rbac in chain.rbac {
                guard let denial = RBACFilterRun.check(rbac, subject: RBACEngine.Subject(connection: info), statPrefix: rbac.statPrefix, stats: stats) else { continue }
                log.debug("\(name): \(denial) for \(remote); closing")
                return denial
            }
            return nil
        }
        switch chain.filter {
        case .httpConnectionManager(let manager):
            if let rbacDenial, rbacDenial() != nil { return false }
            if DownstreamCodec.speaksHTTP2(manager: manager, info: info) {
                DownstreamHTTP2Connection(tcp: transport, info: info, runtime: runtime, loopContext: context, manager: manager,
                                          listenerStatPrefix: prefix).begin(initial: initial)
            } else {
                // AUTO on plaintext: the HTTP/1.1 connection hands itself over when the first bytes are the h2 preface.
                DownstreamHTTPConnection(tcp: transport, info: info, runtime: runtime, loopContext: context, manager: manager,
                                         listenerStatPrefix: prefix, streamBufferLimit: listener.bufferLimit?.bytes ?? ProxyStream.bufferLimit)
                    .begin(initial: initial)
            }
        case .tcpProxy(let proxy):
            let session = TCPProxySession(downstream: transport, info: info, config: proxy, runtime: runtime, loop: context.loop, listenerStatPrefix: prefix)
            session.begin(initial: initial, firstBytesCheck: rbacDenial)
        }
        return true
    }
}

/// Which HTTP a connection manager's client speaks: `codec_type` HTTP1 or HTTP2 say; AUTO takes ALPN's choice under
/// TLS (`h2`), and on plaintext looks at the first bytes for the HTTP/2 client preface, as Envoy's AUTO codec does
/// (`DownstreamHTTPConnection` does the looking, so a silent client meets its timeouts).
enum DownstreamCodec {
    /// HTTP/2 from the start: `codec_type` HTTP2, or AUTO with ALPN `h2`.
    static func speaksHTTP2(manager: HTTPConnectionManagerConfig, info: DownstreamConnectionInfo) -> Bool {
        switch manager.codecType {
        case .http1: return false
        case .http2: return true
        case .auto: return info.tls?.applicationProtocol == "h2"
        }
    }

    /// Whether an HTTP/1.1 connection must look at its first bytes for the preface: AUTO on plaintext.
    static func sniffs(manager: HTTPConnectionManagerConfig, info: DownstreamConnectionInfo) -> Bool {
        manager.codecType == .auto && info.tls == nil
    }

    /// true: the bytes begin with the HTTP/2 preface; false: they cannot; nil: too few to tell.
    static func verdict(_ bytes: UnsafeRawBufferPointer) -> Bool? {
        let preface = HTTP2Preface.bytes
        let count = min(bytes.count, preface.count)
        for index in 0..<count where bytes[index] != preface[index] { return false }
        return count == preface.count ? true : nil
    }
}
