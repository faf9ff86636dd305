import ConfigValues
import Foundation
import MeshNet

/// The proxy's side of xDS: a `TypeSubscription` per type the configuration takes from a REST management server
/// (LDS and CDS from `dynamic_resources`, RDS, EDS and SDS for the names the listeners and clusters ask for), the
/// resources accepted so far, and the step that turns an accepted response into a new running configuration.
/// Loop thread only (the proxy's first loop).
final class DiscoveryClient {
    private unowned let proxy: ProxyServer
    private let bootstrap: ProxyConfiguration
    private let loop: EventLoop
    private var resources = DiscoveredResources()
    private var subscriptions: [DiscoveryType: TypeSubscription] = [:]
    private var warmingTimer: EventLoop.TimerID?
    private var stopped = false

    init(proxy: ProxyServer, bootstrap: ProxyConfiguration, loop: EventLoop) {
        self.proxy = proxy
        self.bootstrap = bootstrap
        self.loop = loop
    }

    /// Whether the bootstrap takes anything from a REST source.
    static func isNeeded(_ bootstrap: ProxyConfiguration) -> Bool {
        bootstrap.dynamicSources.listeners != nil || bootstrap.dynamicSources.clusters != nil
            || !DiscoveredResources().routeNames(bootstrap: bootstrap).isEmpty || !DiscoveredResources().endpointNames(bootstrap: bootstrap).isEmpty
    }

    func start() {
        if let source = bootstrap.dynamicSources.clusters { subscribe(.clusters, source: source, names: []) }
        if let source = bootstrap.dynamicSources.listeners { subscribe(.listeners, source: source, names: []) }
        followNames()
    }

    func stop() {
        stopped = true
        for subscription in subscriptions.values { subscription.stop() }
        subscriptions = [:]
        if let warmingTimer { loop.cancel(warmingTimer) }
    }

    /// The management server's address: the first endpoint of the static cluster the source names.
    private func server(for source: APIConfigSource) -> (host: String, port: Int)? {
        guard let endpoint = bootstrap.cluster(named: source.clusterName)?.endpoints.first else { return nil }
        return (endpoint.address.host, endpoint.address.port)
    }

    private func subscribe(_ type: DiscoveryType, source: APIConfigSource, names: [String]) {
        guard !stopped, subscriptions[type] == nil else { return }
        guard let server = server(for: source) else {
            proxy.log.warning("\(type.shortName): cluster \(source.clusterName) has no endpoint to reach the management server")
            return
        }
        declareStats(type)
        let node = DiscoveryRequest.Node(id: bootstrap.node.id, cluster: bootstrap.node.cluster, metadata: bootstrap.node.metadata)
        let subscription = TypeSubscription(type: type, source: source, server: server, node: node, names: names, loop: loop, log: proxy.log) {
            [unowned self] response in apply(response, type: type)
        }
        if let prefix = Self.statPrefix(type) {
            let stats = proxy.stats
            subscription.onFailure = { stats.increment(prefix + "update_failure") }
        }
        subscriptions[type] = subscription
        subscription.start()
    }

    /// Subscribes RDS, EDS and SDS to the names the configuration now needs (the first REST source found serves).
    private func followNames() {
        let routeNames = resources.routeNames(bootstrap: bootstrap)
        let endpointNames = resources.endpointNames(bootstrap: bootstrap)
        let secretNames = resources.secretNames(bootstrap: bootstrap)
        let anySource = bootstrap.dynamicSources.listeners ?? bootstrap.dynamicSources.clusters
        for (type, names) in [(DiscoveryType.routes, routeNames), (.endpoints, endpointNames), (.secrets, secretNames)] {
            if let subscription = subscriptions[type] {
                subscription.update(names: names)
            } else if !names.isEmpty, let source = restSource(for: type) ?? anySource {
                subscribe(type, source: source, names: names)
            }
        }
    }

    /// The REST source a listener's RDS or a cluster's EDS names.
    private func restSource(for type: DiscoveryType) -> APIConfigSource? {
        switch type {
        case .routes:
            for listener in bootstrap.listeners + resources.listeners.items {
                for chain in listener.filterChains {
                    if case .httpConnectionManager(let manager) = chain.filter, case .rds(_, .api(let api)) = manager.routes { return api }
                }
            }
        case .endpoints:
            for cluster in bootstrap.clusters + resources.clusters.items { if case .api(let api)? = cluster.eds?.source { return api } }
        default: break
        }
        return nil
    }

    /// Takes a response: nil when it was applied, else the rejection's message (the running configuration stays).
    private func apply(_ response: DiscoveryResponse, type: DiscoveryType) -> String? {
        let stats = proxy.stats, prefixes = statPrefixes(type, response: response)
        for prefix in prefixes { stats.increment(prefix + "update_attempt") }
        var next = resources
        do { try next.accept(response, type: type, now: Date()) } catch {
            for prefix in prefixes { stats.increment(prefix + "update_rejected") }
            return error.description
        }
        resources = next
        recompose()
        for prefix in prefixes {
            stats.increment(prefix + "update_success")
            stats.set(prefix + "version", to: Self.versionHash(response.versionInfo))
        }
        followNames()
        return nil
    }

    /// Where Envoy counts a response's updates: LDS and CDS once (`listener_manager.lds.`, `cluster_manager.cds.`);
    /// RDS per connection manager and route configuration (`http.PREFIX.rds.NAME.`), EDS per cluster
    /// (`cluster.NAME.`), SDS per secret (`sds.NAME.`).
    private func statPrefixes(_ type: DiscoveryType, response: DiscoveryResponse) -> [String] {
        let names = response.resources.compactMap { $0["name"]?.string ?? $0["cluster_name"]?.string }
        switch type {
        case .listeners, .clusters: return [Self.statPrefix(type)].compactMap { $0 }
        case .routes:
            var prefixes: [String] = []
            for listener in proxy.store.current.listeners + resources.listeners.items {
                for chain in listener.filterChains {
                    guard case .httpConnectionManager(let manager) = chain.filter, case .rds(let name, .api) = manager.routes, names.contains(name) else { continue }
                    let prefix = "http.\(manager.statPrefix).rds.\(name)."
                    if !prefixes.contains(prefix) { prefixes.append(prefix) }
                }
            }
            return prefixes
        case .endpoints:
            return (proxy.store.current.clusters + resources.clusters.items).filter { cluster in cluster.eds.map { names.contains($0.serviceName) } ?? false }
                .map { "cluster.\($0.name)." }
        case .secrets: return names.map { "sds.\($0)." }
        }
    }

    /// Builds the running configuration from the bootstrap and what has been accepted, and installs it.
    private func recompose() {
        let configuration = resources.compose(bootstrap: bootstrap, previous: proxy.store.current, now: Date())
        proxy.install(configuration)
        if let warmingTimer { loop.cancel(warmingTimer); self.warmingTimer = nil }
        if DiscoveredResources.hasWarming(configuration) {
            // Warming ends when what it waits for arrives (a new response recomposes) or when its time is up.
            warmingTimer = loop.schedule(after: 1) { [weak self] in
                self?.warmingTimer = nil
                self?.recompose()
            }
        }
    }

    private func declareStats(_ type: DiscoveryType) {
        guard let prefix = Self.statPrefix(type) else { return }
        for name in ["update_attempt", "update_success", "update_rejected", "update_failure"] { proxy.stats.declare(prefix + name) }
        proxy.stats.declare(prefix + "version", .gauge)
    }

    /// The one place LDS and CDS count their updates (Envoy's names); nil for the types counted per resource.
    static func statPrefix(_ type: DiscoveryType) -> String? {
        switch type {
        case .listeners: return "listener_manager.lds."
        case .clusters: return "cluster_manager.cds."
        default: return nil
        }
    }

    /// The `version` gauge: a hash of the version text, as Envoy keeps it (53 bits, so it prints exactly).
    static func versionHash(_ version: String) -> Int {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in version.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return Int(hash & ((1 << 53) - 1))
    }
}

extension ProxyServer {
    /// Starts polling the management server when the bootstrap has REST sources.
    func startDiscovery() {
        let bootstrap = store.current
        guard DiscoveryClient.isNeeded(bootstrap) else { return }
        let client = DiscoveryClient(proxy: self, bootstrap: bootstrap, loop: loops[0])
        setDiscovery(client)
        loops[0].execute { client.start() }
    }

    func stopDiscovery() {
        guard let client = discovery else { return }
        setDiscovery(nil)
        if loops[0].inLoop { client.stop() } else { loops[0].execute { client.stop() } }
    }

    /// Puts a new configuration in service: clusters first (unchanged ones keep their state), then the store's
    /// value (new streams take it; streams under way keep theirs), then the listening sockets.
    func install(_ configuration: ProxyConfiguration) {
        let fresh = runtime.updateClusters(to: configuration)
        for cluster in fresh { startClusterTimers(cluster) }
        retireReplacedPools()
        for listener in configuration.listeners { declareStats(of: listener) }
        store.replace(with: configuration)
        let log = self.log, drains = runtime.drains
        listenerSet.update(to: configuration.listeners) { changes in
            for listener in changes.removedListeners { drains.drain(listener: Self.listenerStatPrefix(listener)) }
            if !changes.added.isEmpty || !changes.removed.isEmpty {
                log.info("listeners added: \(changes.added.joined(separator: ", ")); stopped: \(changes.removed.joined(separator: ", "))")
            }
        }
    }
}
