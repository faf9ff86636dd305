import Foundation
import MeshNet

/// What every loop of a running proxy shares: the configuration store, the clusters' state, stats, access logs
/// and the proxy's own log.
final class ProxyRuntime: @unchecked Sendable {
    let store: ProxyConfigStore
    private let clusterLock = NSLock()
    private var clusterState: [String: UpstreamCluster]
    /// The clusters' run-time state by name; a request keeps the one it took for its whole life.
    var clusters: [String: UpstreamCluster] {
        clusterLock.lock(); defer { clusterLock.unlock() }
        return clusterState
    }
    let stats: ProxyStats
    let accessLogs = AccessLogWriter()
    let rateLimiters = LocalRateLimiters()
    /// Downstream connections by listener, for draining a listener an update removed or changed.
    let drains = ConnectionDrains()
    let log: ProxyLog
    let startedAt = Date()
    /// TLS contexts of chains and clusters, from the store's secrets.
    let tlsContexts: TLSContexts

    init(store: ProxyConfigStore, stats: ProxyStats, log: ProxyLog) {
        self.store = store
        self.stats = stats
        self.log = log
        let tlsContexts = TLSContexts(store: store)
        self.tlsContexts = tlsContexts
        var clusters: [String: UpstreamCluster] = [:]
        for cluster in store.current.clusters { clusters[cluster.name] = UpstreamCluster(cluster, stats: stats, tlsContexts: tlsContexts) }
        Self.resolveFirst(Array(clusters.values))
        clusterState = clusters
    }

    /// Makes the clusters match `configuration`'s: an unchanged cluster keeps its state (pools, outlier detection,
    /// circuit breakers); a changed one (new settings, or new endpoints from EDS) starts afresh, while requests
    /// under way finish on the state they took; a removed one goes. Returns the clusters that are new or changed.
    @discardableResult
    func updateClusters(to configuration: ProxyConfiguration) -> [UpstreamCluster] {
        let current = clusters
        var next: [String: UpstreamCluster] = [:]
        var fresh: [UpstreamCluster] = []
        for cluster in configuration.clusters {
            if let existing = current[cluster.name], existing.config.source == cluster.source, existing.config.endpoints == cluster.endpoints,
               existing.config.assignmentPolicy == cluster.assignmentPolicy {
                next[cluster.name] = existing
            } else {
                let created = UpstreamCluster(cluster, stats: stats, tlsContexts: tlsContexts)
                next[cluster.name] = created
                fresh.append(created)
            }
        }
        // A new DNS cluster warms (its first lookup) before it takes requests, outside the lock requests take.
        Self.resolveFirst(fresh)
        clusterLock.lock()
        clusterState = next
        clusterLock.unlock()
        return fresh
    }

    /// The first lookup of new DNS clusters, all at once on the resolver's queue, waiting at most 5 seconds (Envoy
    /// holds a DNS cluster warming until its first answer; a later answer still lands, and refreshes follow).
    static func resolveFirst(_ clusters: [UpstreamCluster]) {
        let dns = clusters.filter { $0.config.kind == .strictDNS || $0.config.kind == .logicalDNS }
        guard !dns.isEmpty else { return }
        let group = DispatchGroup()
        for cluster in dns {
            group.enter()
            HostResolver.onResolverQueue {
                cluster.resolveHosts()
                group.leave()
            }
        }
        _ = group.wait(timeout: .now() + 5)
    }

    private let formatLock = NSLock()
    private var formats: [String: AccessLogFormat] = [:]
    private let managerStatsLock = NSLock()
    private var managerStats: [String: ConnectionManagerStats] = [:]

    /// The stats every request of a connection manager touches (`http.PREFIX.downstream_rq_*`), made once.
    func connectionManagerStats(_ statPrefix: String) -> ConnectionManagerStats {
        managerStatsLock.lock(); defer { managerStatsLock.unlock() }
        if let known = managerStats[statPrefix] { return known }
        let made = ConnectionManagerStats(prefix: "http.\(statPrefix).", stats: stats)
        managerStats[statPrefix] = made
        return made
    }

    private var clientHTTP2Stats: HTTP2CodecStats?

    /// The HTTP/2 codec stats of clients' connections (`http2.*`), made once (at the first HTTP/2 client, as Envoy
    /// lists them).
    func downstreamHTTP2Stats() -> HTTP2CodecStats {
        managerStatsLock.lock(); defer { managerStatsLock.unlock() }
        if let clientHTTP2Stats { return clientHTTP2Stats }
        let made = HTTP2CodecStats(prefix: "http2.", stats: stats, downstream: true)
        clientHTTP2Stats = made
        return made
    }

    func writeAccessLogs(_ logs: [AccessLogConfig], entry: AccessLogEntry) {
        for config in logs {
            guard let format = format(config.format ?? AccessLogFormat.envoyDefault) else { continue }
            accessLogs.write(format.render(entry), to: config.path)
        }
    }

    /// A parsed format, parsed once (the configuration was checked when read, so parsing cannot fail here).
    private func format(_ text: String) -> AccessLogFormat? {
        formatLock.lock(); defer { formatLock.unlock() }
        if let format = formats[text] { return format }
        let format = try? AccessLogFormat(text)
        formats[text] = format
        return format
    }
}

/// One loop's own state: its connection pools, by cluster. Loop thread only.
final class LoopContext {
    let loop: EventLoop
    private var pools: [String: UpstreamPool] = [:]
    /// Makes the `x-request-id` of requests that come without one.
    var requestIDs = RequestIDGenerator()
    /// A header list's storage that the loop's streams use one after another for the heads they build and let go
    /// of at once (the upstream request's, the HTTP/1.1 answer's): a proxied request then allocates no list for them.
    private var spareHeaderList: [(name: String, value: String)] = []

    init(loop: EventLoop) { self.loop = loop }

    /// An empty header list, with the storage of the last one recycled.
    func takeHeaderList() -> [(name: String, value: String)] {
        var list: [(name: String, value: String)] = []
        swap(&list, &spareHeaderList)
        return list
    }

    /// Keeps `list`'s storage for the next `takeHeaderList`; `list` is left empty. Only for a list nothing else
    /// holds (emptying a shared one would copy it).
    func recycle(_ list: inout [(name: String, value: String)]) {
        // One by one from the end: removeAll(keepingCapacity:) goes through a generic replaceSubrange that costs
        // more than the few fields a head has.
        while !list.isEmpty { list.removeLast() }
        if list.capacity > spareHeaderList.capacity { swap(&list, &spareHeaderList) }
    }

    func pool(for cluster: UpstreamCluster) -> UpstreamPool {
        // A cluster replaced by a configuration update gets a pool of its own; the old pool's requests finish on it.
        if let pool = pools[cluster.config.name] {
            if pool.cluster === cluster { return pool }
            pool.retire()
        }
        let pool = UpstreamPool(cluster: cluster, loop: loop)
        pools[cluster.config.name] = pool
        return pool
    }

    /// Retires the pools of clusters that are no longer `current` (replaced or removed by an update).
    func retirePools(keeping current: [String: UpstreamCluster]) {
        for (name, pool) in pools where current[name] !== pool.cluster {
            pool.retire()
            pools[name] = nil
        }
    }
}

/// The proxy's own log on standard error, at a level set by `--log-level` or `/logging`.
public final class ProxyLog: @unchecked Sendable {
    public enum Level: Int, Sendable, CaseIterable, Comparable {
        case trace, debug, info, warning, error, critical, off
        public var name: String { ["trace", "debug", "info", "warning", "error", "critical", "off"][rawValue] }
        public init?(name: String) {
            guard let level = Level.allCases.first(where: { $0.name == name || (name == "warn" && $0 == .warning) }) else { return nil }
            self = level
        }
        public static func < (a: Level, b: Level) -> Bool { a.rawValue < b.rawValue }
    }

    private let lock = NSLock()
    private var current: Level
    private let write: @Sendable (String) -> Void

    public init(level: Level, write: @escaping @Sendable (String) -> Void) {
        current = level
        self.write = write
    }

    public var level: Level {
        get { lock.lock(); defer { lock.unlock() }; return current }
        set { lock.lock(); current = newValue; lock.unlock() }
    }

    public func log(_ level: Level, _ message: @autoclosure () -> String) {
        guard level >= self.level, level != .off else { return }
        write("[\(AccessLogFormat.timestamp(Date()))][\(level.name)] \(message())\n")
    }

    public func info(_ message: @autoclosure () -> String) { log(.info, message()) }
    public func debug(_ message: @autoclosure () -> String) { log(.debug, message()) }
    public func warning(_ message: @autoclosure () -> String) { log(.warning, message()) }
}
