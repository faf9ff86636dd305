import Foundation

/// A cluster's shared state at run time: its hosts, load balancer, circuit breakers, outlier detector and
/// per-host counters, behind one lock (every loop's requests share them).
public final class UpstreamCluster: @unchecked Sendable {
    public let config: Cluster
    let stats: ProxyStats
    private let lock = NSLock()
    private var balancer: LoadBalancer
    private var breaker: CircuitBreaker
    private var detector: OutlierDetector?
    private var random = SystemRandomNumberGenerator()
    /// Per host: requests under way, and the counters `/clusters` prints.
    private(set) var hostCounters: [HostCounters]

    public struct HostCounters: Sendable {
        public var activeRequests = 0, activeConnections = 0, totalConnections = 0, connectFailures = 0
        public var totalRequests = 0, successes = 0, errors = 0, timeouts = 0
    }

    /// Where TLS connections to the cluster's hosts get their contexts (nil: a cluster outside a running proxy).
    let tlsContexts: TLSContexts?
    /// The stats every request touches, looked up once.
    let requestStats: ClusterRequestStats
    /// Each host's `IP:PORT`, as the access log's `%UPSTREAM_HOST%` prints it.
    let hostAddresses: [String]
    let statPrefix: String

    init(_ config: Cluster, stats: ProxyStats, tlsContexts: TLSContexts? = nil) {
        self.config = config
        self.stats = stats
        self.tlsContexts = tlsContexts
        balancer = LoadBalancer(config)
        breaker = CircuitBreaker(config.thresholds)
        detector = config.outlierDetection.map { OutlierDetector(config: $0, hostCount: config.endpoints.count) }
        hostCounters = Array(repeating: HostCounters(), count: config.endpoints.count)
        let prefix = "cluster.\(config.name)."
        statPrefix = prefix
        hostAddresses = config.endpoints.map { $0.address.description }
        for name in ["upstream_rq_total", "upstream_rq_completed", "upstream_cx_total", "upstream_cx_connect_fail", "upstream_cx_connect_timeout",
                     "upstream_rq_pending_overflow", "upstream_rq_retry", "upstream_rq_retry_overflow", "upstream_rq_retry_limit_exceeded",
                     "upstream_rq_retry_success", "upstream_rq_timeout", "upstream_rq_per_try_timeout", "upstream_cx_none_healthy",
                     "upstream_rq_pending_total", "upstream_cx_destroy", "upstream_rq_rx_reset", "outlier_detection.ejections_enforced_total",
                     "outlier_detection.ejections_enforced_consecutive_5xx", "outlier_detection.ejections_overflow"] {
            stats.declare(prefix + name)
        }
        for name in ["upstream_cx_active", "upstream_rq_active", "upstream_rq_pending_active", "outlier_detection.ejections_active",
                     "membership_total", "membership_healthy"] {
            stats.declare(prefix + name, .gauge)
        }
        stats.set(prefix + "membership_total", to: config.endpoints.count)
        stats.set(prefix + "membership_healthy", to: config.endpoints.count)
        requestStats = ClusterRequestStats(prefix: prefix, stats: stats)
    }

    /// Picks a host for a request, avoiding `avoid` (previous attempts) for up to `attempts` tries; nil when no host is
    /// healthy (all ejected with panic mode off, or no hosts at all).
    func chooseHost(hash: UInt64?, avoid: Set<Int>, attempts: Int) -> Int? {
        lock.lock(); defer { lock.unlock() }
        guard !config.endpoints.isEmpty else { return nil }
        if config.endpoints.count == 1 {
            // One host (the usual sidecar cluster): the general path's answer without its arrays. Ejected, it is
            // used anyway in panic mode, which a threshold above 0 always reaches with no healthy host.
            let ejected = detector?.isEjected(0) ?? false
            return ejected && !(0 < config.healthyPanicThreshold) ? nil : 0
        }
        var eligible = config.endpoints.indices.map { !(detector?.isEjected($0) ?? false) }
        let healthy = eligible.filter { $0 }.count
        if Double(healthy) / Double(eligible.count) < config.healthyPanicThreshold {
            eligible = Array(repeating: true, count: eligible.count)  // panic: use every host
        }
        let active = hostCounters.map(\.activeRequests)
        var choice = balancer.choose(eligible: eligible, active: active, hash: hash, using: &random)
        var tries = 1
        // When every eligible host is to be avoided no new try can help: stop rather than spin up to 2^31 times.
        let avoidable = eligible.indices.contains { eligible[$0] && !avoid.contains($0) }
        while avoidable, let host = choice, avoid.contains(host), tries < attempts {
            choice = balancer.choose(eligible: eligible, active: active, hash: hash, using: &random)
            tries += 1
        }
        return choice
    }

    func open(_ resource: CircuitBreaker.Resource) -> Bool {
        lock.lock(); defer { lock.unlock() }
        return breaker.open(resource)
    }

    func openPastLimit(_ resource: CircuitBreaker.Resource) {
        lock.lock(); defer { lock.unlock() }
        breaker.openPastLimit(resource)
    }

    func canOpen(_ resource: CircuitBreaker.Resource) -> Bool {
        lock.lock(); defer { lock.unlock() }
        return breaker.canOpen(resource)
    }

    func close(_ resource: CircuitBreaker.Resource) {
        lock.lock(); defer { lock.unlock() }
        breaker.close(resource)
    }

    var breakerState: CircuitBreaker {
        lock.lock(); defer { lock.unlock() }
        return breaker
    }

    func updateHost(_ host: Int, _ change: (inout HostCounters) -> Void) {
        lock.lock(); defer { lock.unlock() }
        change(&hostCounters[host])
    }

    var counters: [HostCounters] {
        lock.lock(); defer { lock.unlock() }
        return hostCounters
    }

    func isEjected(_ host: Int) -> Bool {
        lock.lock(); defer { lock.unlock() }
        return detector?.isEjected(host) ?? false
    }

    /// Feeds outlier detection one result.
    func record(_ outcome: OutlierDetector.Outcome, host: Int, now: Double) {
        lock.lock()
        let ejected = detector?.record(outcome, host: host, now: now) ?? false
        let active = detector?.ejectedCount ?? 0
        lock.unlock()
        if ejected {
            stats.increment(statPrefix + "outlier_detection.ejections_enforced_total")
            stats.increment(statPrefix + "outlier_detection.ejections_enforced_consecutive_5xx")
            stats.set(statPrefix + "outlier_detection.ejections_active", to: active)
            stats.set(statPrefix + "membership_healthy", to: config.endpoints.count - active)
        }
    }

    /// The outlier detector's interval tick.
    func tick(now: Double) {
        lock.lock()
        let returned = detector?.tick(now: now) ?? []
        let active = detector?.ejectedCount ?? 0
        lock.unlock()
        if !returned.isEmpty {
            stats.set(statPrefix + "outlier_detection.ejections_active", to: active)
            stats.set(statPrefix + "membership_healthy", to: config.endpoints.count - active)
        }
    }
}

/// Monotonic seconds, for durations and outlier detection.
enum MonotonicClock {
    static func now() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }
}
