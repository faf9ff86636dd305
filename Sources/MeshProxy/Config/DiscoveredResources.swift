import ConfigValues
import Foundation

/// The xDS types the proxy subscribes to, with the names its stats and messages use.
public enum DiscoveryType: String, Sendable, CaseIterable {
    case listeners = "type.googleapis.com/envoy.config.listener.v3.Listener"
    case clusters = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
    case routes = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration"
    case endpoints = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"
    case secrets = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret"

    public var typeURL: String { rawValue }
    /// LDS, CDS, RDS, EDS, SDS.
    public var shortName: String {
        switch self {
        case .listeners: return "LDS"
        case .clusters: return "CDS"
        case .routes: return "RDS"
        case .endpoints: return "EDS"
        case .secrets: return "SDS"
        }
    }
    /// The path of `POST /v3/discovery:NAME`.
    public var restPath: String {
        switch self {
        case .listeners: return "/v3/discovery:listeners"
        case .clusters: return "/v3/discovery:clusters"
        case .routes: return "/v3/discovery:routes"
        case .endpoints: return "/v3/discovery:endpoints"
        case .secrets: return "/v3/discovery:secrets"
        }
    }
    var resourceTypeName: String { String(rawValue.split(separator: "/").last!) }
}

/// A resource's version and when it arrived, for `/config_dump`.
public struct DiscoveredVersion: Sendable, Equatable {
    public var version: String
    public var lastUpdated: Date
}

/// What the running configuration took from xDS, for `/config_dump`: versions of the dynamic resources (static ones
/// have none), the resources still warming, and the endpoint assignments of EDS clusters.
public struct DiscoveredState: Sendable {
    public var listeners: [String: DiscoveredVersion] = [:]
    public var clusters: [String: DiscoveredVersion] = [:]
    public var routes: [String: DiscoveredVersion] = [:]
    public var secrets: [String: DiscoveredVersion] = [:]
    /// ClusterLoadAssignments by cluster name, as received.
    public var endpointAssignments: [String: (version: DiscoveredVersion, source: JSONValue)] = [:]
    /// Listeners waiting for their route configuration, clusters for their endpoints.
    public var warmingListeners: [Listener] = []
    public var warmingClusters: [Cluster] = []
    public init() {}
}

/// The last accepted resources of each xDS type, and how they join the bootstrap into a running configuration.
/// Each type's set is replaced whole by an accepted response (state of the world); a response that does not read
/// leaves the set as it was.
struct DiscoveredResources {
    struct Received<T> {
        var items: [T] = []
        var version = ""
        var updated: [String: Date] = [:]
        /// When each resource first arrived (warming is measured from it).
        var firstSeen: [String: Date] = [:]
        /// Each resource's JSON as last received, to tell changed resources from unchanged ones.
        var sources: [String: JSONValue] = [:]
    }

    var listeners = Received<Listener>()
    var clusters = Received<Cluster>()
    var routes = Received<RouteConfiguration>()
    var endpoints = Received<(name: String, endpoints: [ClusterEndpoint], policy: LoadAssignmentPolicy, source: JSONValue)>()
    var secrets = Received<(info: SecretInfo, material: TLSSecret)>()

    /// Reads a response of `type` and, when every resource reads, takes it as the new set; the error names the
    /// resource and field otherwise.
    mutating func accept(_ response: DiscoveryResponse, type: DiscoveryType, now: Date) throws(ProxyConfigError) {
        let label = "\(type.shortName) response version \"\(response.versionInfo)\""
        switch type {
        case .listeners:
            let items = try Self.read(response, type: type, label: label) { reader throws(ProxyConfigError) -> (String, Listener) in
                let listener = try Listener.read(reader)
                guard let name = listener.name, !name.isEmpty else { throw reader.error("is required for a listener from LDS", path: [.key("name")]) }
                return (name, listener)
            }
            listeners = Self.received(items, previous: listeners, version: response.versionInfo, now: now)
        case .clusters:
            let items = try Self.read(response, type: type, label: label) { reader throws(ProxyConfigError) -> (String, Cluster) in
                let cluster = try Cluster.read(reader)
                return (cluster.name, cluster)
            }
            clusters = Self.received(items, previous: clusters, version: response.versionInfo, now: now)
        case .routes:
            let items = try Self.read(response, type: type, label: label) { reader throws(ProxyConfigError) -> (String, RouteConfiguration) in
                let config = try RouteConfiguration.read(reader, version: response.versionInfo)
                return (config.name, config)
            }
            routes = Self.received(items, previous: routes, version: response.versionInfo, now: now)
        case .endpoints:
            let items = try Self.read(response, type: type, label: label) { reader throws(ProxyConfigError) in
                guard let name = reader.node["cluster_name"]?.scalarText, !name.isEmpty else {
                    throw reader.error("is required", path: [.key("cluster_name")])
                }
                let (endpoints, policy) = try Cluster.readAssignment(reader)
                return (name, (name: name, endpoints: endpoints, policy: policy, source: JSONValue(yaml: reader.node)))
            }
            endpoints = Self.received(items, previous: endpoints, version: response.versionInfo, now: now)
        case .secrets:
            let items = try Self.read(response, type: type, label: label) { reader throws(ProxyConfigError) -> (String, (info: SecretInfo, material: TLSSecret)) in
                let (info, material) = try ProxyConfiguration.readSecret(reader, version: response.versionInfo)
                return (info.name, (info, material))
            }
            secrets = Self.received(items, previous: secrets, version: response.versionInfo, now: now)
        }
    }

    /// Each resource read strictly by `body`, which gives its name; two resources with one name are an error.
    private static func read<T>(_ response: DiscoveryResponse, type: DiscoveryType, label: String,
                                _ body: (ConfigReader) throws(ProxyConfigError) -> (String, T)) throws(ProxyConfigError) -> [(String, T, JSONValue)] {
        var result: [(String, T, JSONValue)] = []
        var names = Set<String>()
        for (index, resource) in response.resources.enumerated() {
            let reader = try ConfigReader.mapping(resource.yamlNode, file: label, path: [.key("resources"), .index(index)])
            let found = try reader.typeName()
            guard found == type.resourceTypeName else { throw reader.error("\(found) is not a \(type.resourceTypeName)", path: [.key("@type")]) }
            reader.ignore("@type")
            let (name, item) = try body(reader)
            try reader.finish()
            guard names.insert(name).inserted else { throw reader.error("a second resource named \(name)", path: [.key("name")]) }
            var source = resource
            source["@type"] = nil
            result.append((name, item, source))
        }
        return result
    }

    private static func received<T>(_ items: [(String, T, JSONValue)], previous: Received<T>, version: String, now: Date) -> Received<T> {
        var next = Received<T>()
        next.version = version
        for (name, item, source) in items {
            next.items.append(item)
            next.sources[name] = source
            next.firstSeen[name] = previous.firstSeen[name] ?? now
            // A resource that did not change keeps the time it last changed.
            next.updated[name] = previous.sources[name] == source ? (previous.updated[name] ?? now) : now
        }
        return next
    }

    // MARK: Composing

    /// The bootstrap's static resources with the discovered ones. A new listener whose route configuration has not
    /// arrived, and a new EDS cluster whose endpoints have not, stay warming (out of service) until they arrive or
    /// their source's initial fetch timeout passes; a changed one that warms leaves its previous version serving.
    func compose(bootstrap: ProxyConfiguration, previous: ProxyConfiguration, now: Date) -> ProxyConfiguration {
        var configuration = bootstrap
        var state = DiscoveredState()
        let routeNames = Dictionary(routes.items.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        for (name, config) in routeNames { configuration.dynamicRoutes[name] = config; state.routes[name] = DiscoveredVersion(version: routes.version, lastUpdated: routes.updated[name] ?? now) }

        let assignments = Dictionary(endpoints.items.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        for (name, assignment) in assignments {
            state.endpointAssignments[name] = (DiscoveredVersion(version: endpoints.version, lastUpdated: endpoints.updated[name] ?? now), assignment.source)
        }
        for var cluster in clusters.items where bootstrap.cluster(named: cluster.name) == nil {
            if let eds = cluster.eds, case .api(let api) = eds.source {
                if let assignment = assignments[eds.serviceName] {
                    cluster.endpoints = assignment.endpoints
                    cluster.assignmentPolicy = assignment.policy
                } else if now.timeIntervalSince(clusters.firstSeen[cluster.name] ?? now) < api.initialFetchTimeout {
                    state.warmingClusters.append(cluster)
                    if let serving = previous.cluster(named: cluster.name), previous.discovered.clusters[cluster.name] != nil {
                        configuration.clusters.append(serving)
                        state.clusters[cluster.name] = previous.discovered.clusters[cluster.name]
                    }
                    continue
                }
            }
            configuration.clusters.append(cluster)
            state.clusters[cluster.name] = DiscoveredVersion(version: clusters.version, lastUpdated: clusters.updated[cluster.name] ?? now)
        }

        let staticNames = Set(bootstrap.listeners.compactMap(\.name))
        for listener in listeners.items {
            let name = listener.name ?? ""
            guard !staticNames.contains(name) else { continue }
            if let waiting = waitingRoute(listener, known: routeNames), now.timeIntervalSince(listeners.firstSeen[name] ?? now) < waiting.initialFetchTimeout {
                state.warmingListeners.append(listener)
                if let serving = previous.listeners.first(where: { $0.name == name }), previous.discovered.listeners[name] != nil {
                    configuration.listeners.append(serving)
                    state.listeners[name] = previous.discovered.listeners[name]
                }
                continue
            }
            configuration.listeners.append(listener)
            state.listeners[name] = DiscoveredVersion(version: listeners.version, lastUpdated: listeners.updated[name] ?? now)
        }

        var secretList = bootstrap.secrets
        for (secret, material) in secrets.items where !secretList.contains(where: { $0.name == secret.name }) {
            secretList.append(secret)
            configuration.tlsSecrets[secret.name] = material
            state.secrets[secret.name] = DiscoveredVersion(version: secrets.version, lastUpdated: secrets.updated[secret.name] ?? now)
        }
        configuration.secrets = secretList
        configuration.discovered = state
        return configuration
    }

    /// The REST source of a route configuration the listener needs and does not have yet.
    private func waitingRoute(_ listener: Listener, known: [String: RouteConfiguration]) -> APIConfigSource? {
        for chain in listener.filterChains {
            if case .httpConnectionManager(let manager) = chain.filter, case .rds(let name, .api(let api)) = manager.routes, known[name] == nil { return api }
        }
        return nil
    }

    /// Whether anything waits for a timeout (so the owner composes again when it passes).
    static func hasWarming(_ configuration: ProxyConfiguration) -> Bool {
        !configuration.discovered.warmingListeners.isEmpty || !configuration.discovered.warmingClusters.isEmpty
    }

    // MARK: What to subscribe to

    /// Route configuration names the listeners ask RDS for (static and discovered, warming ones included).
    func routeNames(bootstrap: ProxyConfiguration) -> [String] {
        var names = Set<String>()
        for listener in bootstrap.listeners + listeners.items {
            for chain in listener.filterChains {
                if case .httpConnectionManager(let manager) = chain.filter, case .rds(let name, .api) = manager.routes { names.insert(name) }
            }
        }
        return names.sorted()
    }

    /// Assignment names the EDS clusters ask for.
    func endpointNames(bootstrap: ProxyConfiguration) -> [String] {
        var names = Set<String>()
        for cluster in bootstrap.clusters + clusters.items {
            if let eds = cluster.eds, case .api = eds.source { names.insert(eds.serviceName) }
        }
        return names.sorted()
    }

    /// Secret names the TLS contexts of the discovered listeners and clusters name.
    func secretNames(bootstrap: ProxyConfiguration) -> [String] {
        var names = Set<String>()
        func add(_ tls: TLSContextConfig?) {
            guard let tls else { return }
            names.formUnion(tls.certificateSecrets.filter { tls.inlineSecrets[$0] == nil })
            if let validation = tls.validationSecret, tls.inlineSecrets[validation] == nil { names.insert(validation) }
        }
        for listener in listeners.items {
            for chain in listener.filterChains + [listener.defaultFilterChain].compactMap({ $0 }) { add(chain.tls) }
        }
        for cluster in clusters.items { add(cluster.tls); cluster.transportSocketMatches.forEach { add($0.tls) } }
        return names.sorted()
    }
}
