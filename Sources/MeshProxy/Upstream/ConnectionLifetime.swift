import MeshNet

/// How long an idle upstream connection may stay in its pool: the cluster's `idle_timeout` (Envoy's
/// `upstream_cx_idle_timeout`) and what is left of its `max_connection_duration` (`upstream_cx_max_duration_reached`),
/// whichever ends first. Loop thread only.
enum ConnectionLifetime {
    /// Arms the connection's idle timer; taking the connection from the pool cancels it.
    static func watchIdle(_ connection: UpstreamConnection, cluster: UpstreamCluster, loop: EventLoop) {
        let idle = cluster.config.connectionIdleTimeout > 0 ? cluster.config.connectionIdleTimeout : nil
        let remaining = cluster.config.maxConnectionDuration.map { max(0, $0 - (MonotonicClock.now() - connection.openedAt)) }
        guard let delay = [idle, remaining].compactMap({ $0 }).min() else { return }
        let durationEnds = remaining.map { $0 <= delay } ?? false
        connection.idleTimer = loop.schedule(after: delay) { [weak connection] in
            guard let connection, !connection.tcp.isClosed else { return }
            connection.idleTimer = nil
            cluster.stats.increment(cluster.statPrefix + (durationEnds ? "upstream_cx_max_duration_reached" : "upstream_cx_idle_timeout"))
            connection.tcp.close()
        }
    }
}
