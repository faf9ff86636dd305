import Foundation
import MeshNet
import MeshTLS

/// `tcp_proxy`: bytes relayed both ways between the client and one host of the cluster (over TLS when the host's
/// transport socket says so), or the connection's original destination for an ORIGINAL_DST cluster (Istio's
/// PassthroughCluster); a cluster with no healthy host closes the connection with `UH`, as Istio's BlackHoleCluster
/// does. Loop thread only.
final class TCPProxySession {
    private let downstream: ProxyTransport
    private let config: TCPProxyConfig
    private let runtime: ProxyRuntime
    private let loop: EventLoop
    private var upstream: ProxyTransport?
    private var waiting: [ByteBuffer] = []
    private var log = AccessLogEntry()
    private let startedAt = MonotonicClock.now()
    private var retainSelf: TCPProxySession?
    private var finished = false
    private let listenerStatPrefix: String
    /// The connection's `istio_tcp_*` labels, once it reached its upstream (with a network `istio.stats` filter).
    private var istioExchange: IstioExchange?
    /// Whether the connection's original destination is known (for an ORIGINAL_DST cluster).
    private let restored: Bool
    /// Bytes already in `istio_tcp_*_bytes_total` (periodic reports add what came since).
    private var reportedSent = 0, reportedReceived = 0
    private var reportTimer: EventLoop.TimerID?
    /// Flow control: a side stops being read while the other holds more queued output than its high watermark,
    /// so a slow reader holds the relay to a bounded buffer instead of everything the fast side sends.
    private var downstreamPaused = false
    private var upstreamPaused = false
    private var tcpStatPrefix: String { "tcp.\(config.statPrefix)." }

    init(downstream: ProxyTransport, info: DownstreamConnectionInfo, config: TCPProxyConfig, runtime: ProxyRuntime, loop: EventLoop,
         listenerStatPrefix: String) {
        self.downstream = downstream
        self.config = config
        self.runtime = runtime
        self.loop = loop
        self.listenerStatPrefix = listenerStatPrefix
        restored = info.localAddressRestored
        log.downstreamLocalAddress = info.localAddress
        log.downstreamRemoteAddress = info.remoteAddress
        log.requestedServerName = info.tls?.serverName
        log.downstreamPeerURISAN = info.tls?.peerURISANs.first
        log.upstreamCluster = config.cluster
    }

    /// Starts relaying. `firstBytesCheck` runs when the client's first bytes arrive (the network RBAC filters'
    /// ONE_TIME_ON_FIRST_BYTE): a denial closes both sides and is logged as the connection's termination details.
    func begin(initial: ByteBuffer?, firstBytesCheck: (() -> String?)? = nil) {
        retainSelf = self
        var check = firstBytesCheck
        let receive: (ByteBuffer) -> Void = { [unowned self] bytes in
            log.bytesReceived += bytes.readableBytes
            if let pending = check {
                check = nil
                if let denial = pending() { return deny(denial) }
            }
            if let upstream {
                upstream.send(bytes)
                if !upstream.isWritable { pauseDownstream() }
            } else {
                waiting.append(bytes)
            }
        }
        downstream.onData = receive
        downstream.onWritabilityChanged = { [unowned self] writable in
            guard let cluster = runtime.clusters[config.cluster] else { return }
            if writable, upstreamPaused {
                upstreamPaused = false
                runtime.stats.increment(cluster.statPrefix + "upstream_flow_control_resumed_reading_total")
                upstream?.resumeReading()
            }
        }
        downstream.onClose = { [unowned self] in
            runtime.stats.adjust(listenerStatPrefix + "downstream_cx_active", by: -1)
            // The upstream closes once its queue is written, after this session is gone: its callbacks (which
            // hold the session unowned) have nothing left to do.
            if let upstream {
                upstream.onData = { _ in }
                upstream.onWritabilityChanged = { _ in }
                upstream.onClose = {}
                upstream.closeWhenDrained()
            }
            finish()
        }
        if let initial { receive(initial) }
        guard !finished else { return }
        guard let cluster = runtime.clusters[config.cluster], let (address, tls) = destination(in: cluster) else {
            log.add(.noHealthyUpstream)
            if let cluster = runtime.clusters[config.cluster] { runtime.stats.increment(cluster.statPrefix + "upstream_cx_none_healthy") }
            // Envoy reads what the client sent before closing.
            loop.execute { [self] in downstream.close() }
            return
        }
        log.upstreamHost = address.description
        UpstreamConnector.connect(to: address, tls: tls, cluster: cluster, loop: loop) { [self] result in
            switch result {
            case .success(let tcp):
                guard !finished else { tcp.close(); return }
                upstream = tcp
                log.upstreamLocalAddress = tcp.localAddress
                reportOpened(cluster: cluster, upstreamTLS: tls != nil)
                tcp.onData = { [unowned self] bytes in
                    log.bytesSent += bytes.readableBytes
                    downstream.send(bytes)
                    if !downstream.isWritable, !upstreamPaused, let upstream {
                        upstreamPaused = true
                        runtime.stats.increment(cluster.statPrefix + "upstream_flow_control_paused_reading_total")
                        upstream.pauseReading()
                    }
                }
                tcp.onWritabilityChanged = { [unowned self] writable in
                    runtime.stats.increment(cluster.statPrefix + (writable ? "upstream_flow_control_drained_total" : "upstream_flow_control_backed_up_total"))
                    if writable { resumeDownstream() }
                }
                tcp.onClose = { [unowned self] in downstream.closeWhenDrained() }
                for buffer in waiting { tcp.send(buffer) }
                waiting.removeAll()
                if !tcp.isWritable { pauseDownstream() }
            case .failure(let failure):
                log.add(.upstreamConnectionFailure)
                if case .connectFailure(let reason) = failure { log.transportFailureReason = reason }
                downstream.close()
            }
        }
    }

    /// Where to connect: a host the cluster's balancer picks (and its transport socket), or for an ORIGINAL_DST
    /// cluster the address the client meant to reach (this connection's local address), in plaintext.
    private func destination(in cluster: UpstreamCluster) -> (SocketAddress, TLSContextConfig?)? {
        if cluster.config.kind == .originalDestination {
            let destination = cluster.config.originalDestination.destination(headers: [], downstreamLocal: restored ? log.downstreamLocalAddress : nil)
            guard let host = cluster.originalDestinationHost(destination) else { return nil }
            return (cluster.endpoint(host).address, cluster.config.tls)
        }
        guard let host = cluster.chooseHost(hash: nil, avoid: [], attempts: 1) else { return nil }
        let endpoint = cluster.endpoint(host)
        return (endpoint.address, cluster.config.tls(for: endpoint))
    }

    private func pauseDownstream() {
        guard !downstreamPaused else { return }
        downstreamPaused = true
        runtime.stats.increment(tcpStatPrefix + "downstream_flow_control_paused_reading_total")
        downstream.pauseReading()
    }

    private func resumeDownstream() {
        guard downstreamPaused else { return }
        downstreamPaused = false
        runtime.stats.increment(tcpStatPrefix + "downstream_flow_control_resumed_reading_total")
        downstream.resumeReading()
    }

    private func deny(_ details: String) {
        log.connectionTerminationDetails = details
        waiting.removeAll()
        upstream?.close()
        downstream.close()
    }

    /// A network `istio.stats` filter counts the connection as opened, and as closed with its bytes at the end.
    private func reportOpened(cluster: UpstreamCluster, upstreamTLS: Bool) {
        guard let stats = config.istioStats else { return }
        let exchange = IstioExchange(protocolName: "tcp", responseCode: nil, grpcStatus: nil, flags: [], downstreamPeerPrincipal: log.downstreamPeerURISAN,
                                     upstreamTLS: upstreamTLS, peer: nil, service: cluster.config.istioService, authority: nil)
        istioExchange = exchange
        recordIstio(.opened)
        scheduleReport(every: stats.tcpReportingInterval)
    }

    private func scheduleReport(every interval: Double) {
        reportTimer = loop.schedule(after: interval) { [weak self] in
            guard let self, !finished else { return }
            recordIstio(.report)
            scheduleReport(every: interval)
        }
    }

    /// Writes an `istio_tcp_*` event with the bytes since the last one.
    private func recordIstio(_ event: IstioMetrics.ConnectionEvent) {
        guard let stats = config.istioStats, let exchange = istioExchange else { return }
        var (sent, received) = (0, 0)
        if event != .opened {  // bytes that came before the upstream connected go in the first report
            (sent, received) = (log.bytesSent - reportedSent, log.bytesReceived - reportedReceived)
            (reportedSent, reportedReceived) = (log.bytesSent, log.bytesReceived)
        }
        IstioMetrics.recordConnection(stats, own: WorkloadIdentity(metadata: runtime.store.current.node.metadata), exchange: exchange,
                                      event: event, sent: sent, received: received, into: runtime.stats.labeled)
    }

    private func finish() {
        guard !finished else { return }
        finished = true
        if let reportTimer { loop.cancel(reportTimer); self.reportTimer = nil }
        recordIstio(.closed)
        log.duration = MonotonicClock.now() - startedAt
        log.startTime = Date(timeIntervalSinceNow: -log.duration)
        runtime.writeAccessLogs(config.accessLogs, entry: log)
        retainSelf = nil
    }
}
