import Foundation
import MeshNet

/// `tcp_proxy`: bytes relayed both ways between the client and one host of the cluster; a cluster with no
/// healthy host closes the connection with `UH`, as Istio's BlackHoleCluster does. Loop thread only.
final class TCPProxySession {
    private let downstream: TCPConnection
    private let config: TCPProxyConfig
    private let runtime: ProxyRuntime
    private let loop: EventLoop
    private var upstream: TCPConnection?
    private var waiting: [ByteBuffer] = []
    private var log = AccessLogEntry()
    private let startedAt = MonotonicClock.now()
    private var retainSelf: TCPProxySession?
    private var finished = false
    private let listenerStatPrefix: String

    init(downstream: TCPConnection, local: String, remote: String, config: TCPProxyConfig, runtime: ProxyRuntime, loop: EventLoop, listenerStatPrefix: String) {
        self.downstream = downstream
        self.config = config
        self.runtime = runtime
        self.loop = loop
        self.listenerStatPrefix = listenerStatPrefix
        log.downstreamLocalAddress = local
        log.downstreamRemoteAddress = remote
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
            if let upstream { upstream.send(bytes) } else { waiting.append(bytes) }
        }
        downstream.onData = receive
        downstream.onClose = { [unowned self] in
            runtime.stats.adjust(listenerStatPrefix + "downstream_cx_active", by: -1)
            upstream?.closeWhenDrained()
            finish()
        }
        if let initial { receive(initial) }
        guard !finished else { return }
        guard let cluster = runtime.clusters[config.cluster], let host = cluster.chooseHost(hash: nil, avoid: [], attempts: 1) else {
            log.add(.noHealthyUpstream)
            if let cluster = runtime.clusters[config.cluster] { runtime.stats.increment(cluster.statPrefix + "upstream_cx_none_healthy") }
            // Envoy reads what the client sent before closing.
            loop.execute { [self] in downstream.close() }
            return
        }
        let address = cluster.config.endpoints[host].address
        log.upstreamHost = address.description
        TCPConnection.connect(host: address.host, port: address.port, loop: loop) { [self] result in
            switch result {
            case .success(let tcp):
                guard !finished else { tcp.close(); return }
                upstream = tcp
                tcp.onData = { [unowned self] bytes in
                    log.bytesSent += bytes.readableBytes
                    downstream.send(bytes)
                }
                tcp.onClose = { [unowned self] in downstream.closeWhenDrained() }
                for buffer in waiting { tcp.send(buffer) }
                waiting.removeAll()
            case .failure(let error):
                log.add(.upstreamConnectionFailure)
                log.transportFailureReason = UpstreamPool.transportFailureReason(error)
                downstream.close()
            }
        }
    }

    private func deny(_ details: String) {
        log.connectionTerminationDetails = details
        waiting.removeAll()
        upstream?.close()
        downstream.close()
    }

    private func finish() {
        guard !finished else { return }
        finished = true
        log.duration = MonotonicClock.now() - startedAt
        log.startTime = Date(timeIntervalSinceNow: -log.duration)
        runtime.writeAccessLogs(config.accessLogs, entry: log)
        retainSelf = nil
    }
}
