import Foundation
import MeshNet
#if canImport(Glibc)
import Glibc
#endif

/// A running proxy: the configuration's listeners on `concurrency` event loops, its clusters, and the admin port.
/// Listening sockets are bound by `init`, so a taken port fails there; `start` begins serving.
public final class ProxyServer: @unchecked Sendable {
    public let store: ProxyConfigStore
    public let stats = ProxyStats()
    public let log: ProxyLog
    let runtime: ProxyRuntime
    let loops: [EventLoop]
    private let contexts: [LoopContext]
    let listenerSet: ListenerSet
    private var admin: AdminServer?
    private var nextLoop = 0
    private let lock = NSLock()
    let concurrency: Int
    private var discoveryClient: DiscoveryClient?
    /// The xDS client, when the bootstrap takes resources from a REST management server.
    var discovery: DiscoveryClient? {
        lock.lock(); defer { lock.unlock() }
        return discoveryClient
    }
    func setDiscovery(_ client: DiscoveryClient?) {
        lock.lock(); discoveryClient = client; lock.unlock()
    }
    /// Called when `/quitquitquit` asks the proxy to stop (from a loop thread).
    public var onQuit: @Sendable () -> Void = {}

    public init(configuration: ProxyConfiguration, concurrency: Int = 1, log: ProxyLog) throws(NetworkError) {
        store = ProxyConfigStore(configuration)
        self.log = log
        self.concurrency = max(1, concurrency)
        runtime = ProxyRuntime(store: store, stats: stats, log: log)
        var loops: [EventLoop] = []
        for index in 0..<self.concurrency { loops.append(try EventLoop(name: "proxy-worker-\(index)")) }
        self.loops = loops
        contexts = loops.map(LoopContext.init)
        listenerSet = try ListenerSet(configuration.listeners, loop: loops[0], log: log)
        if let address = configuration.admin?.address {
            admin = try AdminServer(address: address, proxy: self, loop: loops[0])
        }
        for listener in configuration.listeners { declareStats(of: listener) }
        stats.set("server.live", to: 1)
        stats.set("server.concurrency", to: self.concurrency)
        stats.set("server.state", to: 0)
    }

    /// The port each listener is bound to, by listener name (or address when it has none).
    public var listenerPorts: [String: Int] { listenerSet.ports }

    public var adminPort: Int? { admin?.port }

    static func listenerStatPrefix(_ listener: Listener) -> String {
        "listener.\(listener.address.host)_\(listener.address.port)."
    }

    public func start() {
        for loop in loops { loop.start() }
        listenerSet.start { [self] fd, config in accepted(fd, listener: config) }
        admin?.start()
        // What istio-agent's readiness probe asks for (`/stats?usedonly&filter=^(server.state|listener_manager.workers_started)`).
        stats.set("listener_manager.workers_started", to: 1)
        for cluster in runtime.clusters.values { startClusterTimers(cluster) }
        startDiscovery()
        log.info("meshctl proxy started: \(listenerSet.count) listeners, \(runtime.clusters.count) clusters, \(concurrency) worker(s)")
    }

    /// A cluster's timers: outlier detection's interval, and a DNS cluster's lookups at `dns_refresh_rate`.
    func startClusterTimers(_ cluster: UpstreamCluster) {
        if cluster.config.kind == .strictDNS || cluster.config.kind == .logicalDNS {
            loops[0].execute { [self] in scheduleDNSRefresh(cluster, after: cluster.config.dns.refreshRate) }
        }
        if cluster.config.kind == .originalDestination {
            loops[0].execute { [self] in scheduleCleanup(cluster, every: cluster.config.originalDestination.cleanupInterval) }
        }
        guard let interval = cluster.config.outlierDetection?.interval, interval > 0 else { return }
        loops[0].execute { [self] in scheduleOutlierTick(cluster, every: interval) }
    }

    /// ORIGINAL_DST: unused hosts leave at every `cleanup_interval`.
    private func scheduleCleanup(_ cluster: UpstreamCluster, every interval: Double) {
        loops[0].schedule(after: interval) { [weak self, weak cluster] in
            guard let self, let cluster, runtime.clusters[cluster.config.name] === cluster else { return }
            cluster.sweepOriginalDestinations()
            scheduleCleanup(cluster, every: interval)
        }
    }

    /// The next lookup of a DNS cluster's names, off the loop; after a failure the failure refresh rate applies.
    private func scheduleDNSRefresh(_ cluster: UpstreamCluster, after delay: Double) {
        loops[0].schedule(after: delay) { [weak self, weak cluster] in
            guard let self, let cluster, runtime.clusters[cluster.config.name] === cluster else { return }
            HostResolver.onResolverQueue { [weak self] in
                let succeeded = cluster.resolveHosts()
                let dns = cluster.config.dns
                self?.loops[0].execute { self?.scheduleDNSRefresh(cluster, after: succeeded ? dns.refreshRate : dns.failureRefreshRate ?? dns.refreshRate) }
            }
        }
    }

    func declareStats(of listener: Listener) {
        let prefix = Self.listenerStatPrefix(listener)
        stats.declare(prefix + "downstream_cx_total")
        stats.declare(prefix + "downstream_cx_active", .gauge)
        stats.declare(prefix + "no_filter_chain_match")
        for chain in listener.filterChains + (listener.defaultFilterChain.map { [$0] } ?? []) {
            guard case .httpConnectionManager(let manager) = chain.filter,
                  manager.httpFilters.contains(where: { if case .cors = $0 { true } else { false } }) else { continue }
            stats.declare("http.\(manager.statPrefix).cors.origin_valid")
            stats.declare("http.\(manager.statPrefix).cors.origin_invalid")
        }
    }

    /// Has every loop close its idle connections to clusters an update replaced or removed.
    func retireReplacedPools() {
        for context in contexts {
            context.loop.execute { [runtime] in context.retirePools(keeping: runtime.clusters) }
        }
    }

    private func scheduleOutlierTick(_ cluster: UpstreamCluster, every interval: Double) {
        loops[0].schedule(after: interval) { [weak self, weak cluster] in
            // A cluster that a configuration update replaced or removed stops ticking.
            guard let self, let cluster, runtime.clusters[cluster.config.name] === cluster else { return }
            cluster.tick(now: MonotonicClock.now())
            scheduleOutlierTick(cluster, every: interval)
        }
    }

    /// Stops accepting and stops the loops (open connections close with them).
    public func stop() {
        stopDiscovery()
        listenerSet.close()
        admin?.stop()
        for loop in loops { loop.stop() }
        runtime.accessLogs.close()
    }

    private func accepted(_ fd: Int32, listener: Listener) {
        lock.lock()
        let index = nextLoop % loops.count
        nextLoop += 1
        lock.unlock()
        let context = contexts[index]
        context.loop.execute { [self] in
            let local = Self.address(of: fd, peer: false), remote = Self.address(of: fd, peer: true)
            let tcp = TCPConnection(fd: fd, loop: context.loop)
            ConnectionSetup(tcp: tcp, local: local, remote: remote, listener: listener, server: self, context: context).begin()
        }
    }

    /// The listener a connection to `destination` (`ip:port`, its original destination) is handed off to: the
    /// `bind_to_port: false` listener with that address, else the one on 0.0.0.0 with its port; nil for none.
    func handOffTarget(for destination: String) -> Listener? { listenerSet.handOffTarget(for: destination) }

    /// `ip:port` of a socket's own end or its peer's.
    static func address(of fd: Int32, peer: Bool) -> String {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let result = withUnsafeMutablePointer(to: &storage) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { peer ? getpeername(fd, $0, &length) : getsockname(fd, $0, &length) }
        }
        guard result == 0 else { return "-" }
        var host = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        if storage.ss_family == sa_family_t(AF_INET6) {
            return withUnsafePointer(to: &storage) { pointer in
                pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { address in
                    var raw = address.pointee.sin6_addr
                    inet_ntop(AF_INET6, &raw, &host, socklen_t(host.count))
                    return "[\(String(cString: host))]:\(UInt16(bigEndian: address.pointee.sin6_port))"
                }
            }
        }
        return withUnsafePointer(to: &storage) { pointer in
            pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { address in
                var raw = address.pointee.sin_addr
                inet_ntop(AF_INET, &raw, &host, socklen_t(host.count))
                return "\(String(cString: host)):\(UInt16(bigEndian: address.pointee.sin_port))"
            }
        }
    }
}
