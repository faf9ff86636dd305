import MeshNet

/// How long an idle upstream connection may stay in its pool: the cluster's `idle_timeout` (Envoy's
/// `upstream_cx_idle_timeout`) and what is left of its `max_connection_duration` (`upstream_cx_max_duration_reached`),
/// whichever ends first. One timer per connection, armed when it first goes idle and moved on lazily: taking the
/// connection from the pool only clears `idleSince` (a timer per request would cost a schedule and a closure each).
/// Loop thread only.
enum ConnectionLifetime {
    /// The connection went back to its pool now.
    static func watchIdle(_ connection: UpstreamConnection, cluster: UpstreamCluster, loop: EventLoop) {
        guard cluster.config.connectionIdleTimeout > 0 || cluster.config.maxConnectionDuration != nil else { return }
        connection.idleSince = MonotonicClock.now()
        if connection.idleTimer == nil { arm(connection, cluster: cluster, loop: loop) }
    }

    /// The connection left its pool to carry a request.
    static func inUse(_ connection: UpstreamConnection) { connection.idleSince = nil }

    /// When an idle connection is due to close, and whether its maximum duration is what ends it.
    private static func due(_ connection: UpstreamConnection, cluster: UpstreamCluster) -> (at: Double, durationEnds: Bool)? {
        guard let since = connection.idleSince else { return nil }
        let idleEnd = cluster.config.connectionIdleTimeout > 0 ? since + cluster.config.connectionIdleTimeout : Double.infinity
        let durationEnd = cluster.config.maxConnectionDuration.map { connection.openedAt + $0 } ?? Double.infinity
        return durationEnd <= idleEnd ? (durationEnd, true) : (idleEnd, false)
    }

    private static func arm(_ connection: UpstreamConnection, cluster: UpstreamCluster, loop: EventLoop) {
        guard let due = due(connection, cluster: cluster), due.at.isFinite else { return }
        connection.idleTimer = loop.schedule(after: max(0, due.at - MonotonicClock.now())) { [handle = connection.handle] in
            guard let connection = handle.connection, !connection.tcp.isClosed else { return }
            connection.idleTimer = nil
            // In use now: its next return to the pool arms the timer again.
            guard let due = Self.due(connection, cluster: cluster) else { return }
            guard MonotonicClock.now() >= due.at else { return arm(connection, cluster: cluster, loop: loop) }
            cluster.stats.increment(cluster.statPrefix + (due.durationEnds ? "upstream_cx_max_duration_reached" : "upstream_cx_idle_timeout"))
            connection.tcp.close()
        }
    }
}
