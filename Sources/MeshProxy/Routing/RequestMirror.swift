import Foundation
import MeshNet
import MeshHTTP1

/// One shadow request (`request_mirror_policies`): a copy of a routed request sent to the shadow cluster, fire and
/// forget. Its answer is read and dropped, its failures change nothing for the client; only the shadow cluster's
/// stats see it, as with Envoy's shadows. Loop thread only; it keeps itself alive until its answer is done.
final class RequestMirror {
    private let cluster: UpstreamCluster
    private let pool: UpstreamPool
    private let head: HTTPRequestHead
    private let body: [UInt8]
    private let timeout: Double
    private var connection: (any UpstreamExchange)?
    private var timer: EventLoop.TimerID?
    private var retainSelf: RequestMirror?

    private init(cluster: UpstreamCluster, pool: UpstreamPool, head: HTTPRequestHead, body: [UInt8], timeout: Double) {
        self.cluster = cluster
        self.pool = pool
        self.head = head
        self.body = body
        self.timeout = timeout
    }

    /// Starts the shadows `policies` pick for a request whose upstream head and body are `head` and `body`.
    static func start(_ policies: [MirrorPolicy], head: HTTPRequestHead, body: [UInt8], timeout: Double, runtime: ProxyRuntime, loopContext: LoopContext) {
        for policy in policies where policy.fraction >= 1 || Double.random(in: 0..<1) < policy.fraction {
            var name = policy.cluster
            if let header = policy.clusterHeader {
                guard let value = head.headers.first(where: { $0.name.lowercased() == header })?.value, !value.isEmpty else {
                    runtime.log.debug("request mirror: the request has no \(header) header; the shadow request is not sent")
                    continue
                }
                name = value
            }
            guard let cluster = runtime.clusters[name] else {
                runtime.log.debug("request mirror: no cluster \(name); the shadow request is not sent")
                continue
            }
            var shadow = head
            if !policy.keepsHost, let index = shadow.headers.firstIndex(where: { $0.name.lowercased() == "host" }) {
                shadow.headers[index].value = shadowHost(shadow.headers[index].value)
            }
            let mirror = RequestMirror(cluster: cluster, pool: loopContext.pool(for: cluster), head: shadow, body: body, timeout: timeout)
            mirror.begin()
        }
    }

    /// Envoy's shadow authority: `-shadow` after the host name, before a port (`reviews:9080` -> `reviews-shadow:9080`).
    static func shadowHost(_ authority: String) -> String {
        if !authority.hasPrefix("["), let colon = authority.lastIndex(of: ":") {
            return authority[..<colon] + "-shadow" + authority[colon...]
        }
        if authority.hasPrefix("["), let end = authority.range(of: "]:") {
            return authority[..<end.lowerBound] + "]-shadow" + authority[authority.index(after: end.lowerBound)...]
        }
        return authority + "-shadow"
    }

    private func begin() {
        guard let host = cluster.chooseHost(hash: nil, avoid: [], attempts: 1) else {
            cluster.stats.increment(cluster.statPrefix + "upstream_cx_none_healthy")
            return
        }
        retainSelf = self
        if timeout > 0 {
            timer = pool.loop.schedule(after: timeout) { [weak self] in self?.timedOut() }
        }
        switch pool.acquire(host: host, ready: { [weak self, pool] result in
            guard let self, retainSelf != nil else { if case .success(let connection) = result { connection.endAttempt(reuse: true, pool: pool) }; return }
            switch result {
            case .success(let connection): send(on: connection)
            case .failure: end()
            }
        }) {
        case .connection(let connection): send(on: connection)
        case .pending: break
        case .overflow:
            cluster.stats.increment(cluster.statPrefix + "upstream_rq_pending_overflow")
            end()
        }
    }

    private func send(on connection: any UpstreamExchange) {
        guard cluster.open(.request) else {
            connection.endAttempt(reuse: true, pool: pool)
            cluster.stats.increment(cluster.statPrefix + "upstream_rq_pending_overflow")
            return end()
        }
        self.connection = connection
        cluster.updateHost(connection.host) { $0.activeRequests += 1; $0.totalRequests += 1 }
        cluster.stats.increment(cluster.statPrefix + "upstream_rq_total")
        cluster.stats.adjust(cluster.statPrefix + "upstream_rq_active", by: 1)
        connection.onPart = { [weak self] result in
            guard let self else { return }
            switch result {
            case .success(.head(let head)):
                cluster.stats.increment(cluster.statPrefix + "upstream_rq_\(head.status)")
                cluster.stats.increment(cluster.statPrefix + "upstream_rq_\(head.status / 100)xx")
            case .success(.body), .success(.trailers): break
            case .success(.end):
                cluster.updateHost(connection.host) { $0.successes += 1 }
                end(reuse: true)
            case .failure:
                cluster.stats.increment(cluster.statPrefix + "upstream_rq_rx_reset")
                end()
            }
        }
        connection.send(head, body: body)
    }

    private func timedOut() {
        timer = nil
        guard retainSelf != nil else { return }
        cluster.stats.increment(cluster.statPrefix + "upstream_rq_timeout")
        end()
    }

    /// Lets go of the connection (back to the pool after a complete answer) and of the shadow itself.
    private func end(reuse: Bool = false) {
        if let timer { pool.loop.cancel(timer); self.timer = nil }
        if let connection {
            self.connection = nil
            connection.onPart = nil
            cluster.close(.request)
            cluster.stats.adjust(cluster.statPrefix + "upstream_rq_active", by: -1)
            cluster.stats.increment(cluster.statPrefix + "upstream_rq_completed")
            cluster.updateHost(connection.host) { $0.activeRequests -= 1 }
            connection.endAttempt(reuse: reuse, pool: pool)
        }
        retainSelf = nil
    }
}
