import ConfigValues
import Foundation

/// Everything the proxy runs: an Envoy v3 bootstrap with the route configurations and secrets its file-based
/// RDS and SDS sources name. An immutable value: a later update builds a new one and swaps it in through
/// `ProxyConfigStore`, and each request keeps the one it started with.
public struct ProxyConfiguration: Sendable {
    public var node: NodeInfo
    public var admin: AdminConfig?
    public var listeners: [Listener]
    public var clusters: [Cluster]
    /// Route configurations from RDS files, by name.
    public var dynamicRoutes: [String: RouteConfiguration]
    public var secrets: [SecretInfo]
    /// The secrets' material by name (static, file-based SDS, and later SDS over xDS): TLS connections look their
    /// secrets up here by name when they start, so a new certificate applies to the next connection.
    public var tlsSecrets: [String: TLSSecret] = [:]
    /// The bootstrap as written, for `/config_dump`.
    public var bootstrapSource: JSONValue
    /// Where the bootstrap came from.
    public var file: String
    /// The bootstrap's `dynamic_resources` (none for a static bootstrap).
    public var dynamicSources = DynamicResourceSources()
    /// What came over xDS: each dynamic resource's version and time, the warming ones, the endpoint assignments.
    public var discovered = DiscoveredState()

    public func cluster(named name: String) -> Cluster? { clusters.first { $0.name == name } }

    /// The route configuration a connection manager uses.
    public func routes(for manager: HTTPConnectionManagerConfig) -> RouteConfiguration? {
        switch manager.routes {
        case .inline(let config): return config
        case .rds(let name, _): return dynamicRoutes[name]
        }
    }
}

public struct NodeInfo: Sendable {
    public var id: String
    public var cluster: String
    public var metadata: JSONValue
}

public struct AdminConfig: Sendable {
    public var address: SocketAddress
}

/// An SDS secret's name and kind; the certificate and key bytes are not kept (nor ever printed).
public struct SecretInfo: Sendable, Equatable {
    public var name: String
    public var version: String?
    public var hasCertificate: Bool
    public var hasValidationContext: Bool
}

/// The swap point for configuration updates: readers take the current value (a reference to an immutable
/// snapshot), an update replaces it whole. Safe from any thread.
public final class ProxyConfigStore: @unchecked Sendable {
    private let lock = NSLock()
    private var value: ProxyConfiguration
    private var generation = 0

    public init(_ configuration: ProxyConfiguration) { value = configuration }

    public var current: ProxyConfiguration {
        lock.lock(); defer { lock.unlock() }
        return value
    }

    /// The route configuration `manager` uses now: what a request reads, without a copy of the whole
    /// configuration (~1k instructions a request in callgrind).
    func routes(for manager: HTTPConnectionManagerConfig) -> RouteConfiguration? {
        switch manager.routes {
        case .inline(let config): return config
        case .rds(let name, _):
            lock.lock(); defer { lock.unlock() }
            return value.dynamicRoutes[name]
        }
    }

    /// `routes(for:)` for a stream, which holds its connection manager's configuration behind one reference (passing
    /// the configuration itself copied it, every string and list in it retained, per request).
    func routes(for manager: SharedConnectionManager) -> RouteConfiguration? {
        switch manager.config.routes {
        case .inline(let config): return config
        case .rds(let name, _):
            lock.lock(); defer { lock.unlock() }
            return value.dynamicRoutes[name]
        }
    }

    /// Replaces the configuration; requests already under way keep the one they took.
    public func replace(with configuration: ProxyConfiguration) {
        lock.lock(); defer { lock.unlock() }
        value = configuration
        generation += 1
    }
}

extension ProxyConfiguration {
    /// Reads a bootstrap file (YAML or JSON) and the RDS/SDS files it names.
    public static func load(file: String) throws(ProxyConfigError) -> ProxyConfiguration {
        let root = try readDocument(file)
        return try read(root, file: file)
    }

    static func readDocument(_ file: String) throws(ProxyConfigError) -> YAMLNode {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw ProxyConfigError(file: file, location: .none, path: "", problem: "cannot read the file (check the path and its permissions)")
        }
        let documents: [YAMLDocument]
        do {
            documents = try YAMLParser.parse(String(decoding: data, as: UTF8.self), file: file)
        } catch {
            throw ProxyConfigError(file: file, location: error.location, path: "", problem: "not valid YAML or JSON: \(error.reason)")
        }
        guard documents.count == 1 else {
            throw ProxyConfigError(file: file, location: .none, path: "", problem: "must hold exactly one document, not \(documents.count)")
        }
        return documents[0].root
    }

    static func read(_ root: YAMLNode, file: String) throws(ProxyConfigError) -> ProxyConfiguration {
        let reader = try ConfigReader.mapping(root, file: file, path: [])
        let node = try reader.object("node") { node throws(ProxyConfigError) -> NodeInfo in
            node.ignore("locality", "user_agent_name", "extensions", "client_features")
            return NodeInfo(id: try node.string("id") ?? "", cluster: try node.string("cluster") ?? "", metadata: node.json("metadata") ?? .object([]))
        } ?? NodeInfo(id: "", cluster: "", metadata: .object([]))
        let admin = try reader.object("admin") { admin throws(ProxyConfigError) -> AdminConfig in
            admin.ignore("profile_path", "access_log_path", "access_log")
            return AdminConfig(address: try SocketAddress.read(admin))
        }
        var listeners: [Listener] = [], clusters: [Cluster] = [], staticSecrets: [TLSSecret] = []
        _ = try reader.object("static_resources") { resources throws(ProxyConfigError) in
            listeners = try resources.list("listeners") { listener throws(ProxyConfigError) in try Listener.read(listener) }
            clusters = try resources.list("clusters") { cluster throws(ProxyConfigError) in try Cluster.read(cluster) }
            staticSecrets = try resources.list("secrets") { secret throws(ProxyConfigError) in try TLSSecret.read(secret) }
        }
        let sources = try reader.object("dynamic_resources") { dynamic throws(ProxyConfigError) in try DynamicResourceSources.read(dynamic) }
        // Istio's bootstrap sets these for Envoy's own workings; the proxy has no runtime layers or stats sinks.
        reader.ignore("layered_runtime", "stats_config", "stats_flush_interval", "cluster_manager")
        try reader.finish()
        var names = Set<String>()
        for (index, cluster) in clusters.enumerated() where !names.insert(cluster.name).inserted {
            throw ProxyConfigError(file: file, location: root["static_resources"]?["clusters"]?[index]?.location ?? .none,
                                   path: "static_resources.clusters[\(index)].name", problem: "a second cluster named \(cluster.name)")
        }
        for listener in listeners {
            for chain in listener.filterChains + [listener.defaultFilterChain].compactMap({ $0 }) {
                if case .httpConnectionManager(let manager) = chain.filter, case .inline(let routes) = manager.routes {
                    try routes.checkClusters(inline: true) { names.contains($0) }
                }
            }
        }
        var routes: [String: RouteConfiguration] = [:]
        var secrets: [SecretInfo] = []
        var material: [String: TLSSecret] = [:]
        for secret in staticSecrets where material[secret.name] == nil {
            material[secret.name] = secret
            secrets.append(SecretInfo(name: secret.name, version: nil, hasCertificate: secret.identity != nil, hasValidationContext: !secret.trustedAuthorities.isEmpty))
        }
        var secretFiles: [String] = []
        for listener in listeners {
            for chain in listener.filterChains {
                if case .httpConnectionManager(let manager) = chain.filter, case .rds(let name, .file(let path)) = manager.routes, routes[name] == nil {
                    let config = try readRouteFile(path, name: name)
                    try config.checkClusters(inline: false) { names.contains($0) }
                    routes[name] = config
                }
            }
        }
        for path in sdsPaths(root) where !secretFiles.contains(path) { secretFiles.append(path) }
        for path in secretFiles {
            for (secret, value) in try readSecretFile(path) where !secrets.contains(where: { $0.name == secret.name }) {
                secrets.append(secret)
                material[secret.name] = value
            }
        }
        for listener in listeners {
            for chain in listener.filterChains + [listener.defaultFilterChain].compactMap({ $0 }) {
                chain.tls?.inlineSecrets.forEach { material[$0.key] = $0.value }
            }
        }
        for cluster in clusters {
            for tls in [cluster.tls] + cluster.transportSocketMatches.map(\.tls) { tls?.inlineSecrets.forEach { material[$0.key] = $0.value } }
        }
        var configuration = ProxyConfiguration(node: node, admin: admin, listeners: listeners, clusters: clusters, dynamicRoutes: routes,
                                               secrets: secrets, bootstrapSource: JSONValue(yaml: root), file: file)
        configuration.tlsSecrets = material
        configuration.dynamicSources = sources ?? DynamicResourceSources()
        try configuration.checkManagementClusters()
        return configuration
    }

    /// Every REST source must name a static cluster: the management server is reached before any CDS answer.
    func checkManagementClusters() throws(ProxyConfigError) {
        var sources = [dynamicSources.listeners, dynamicSources.clusters].compactMap { $0 }
        for listener in listeners {
            for chain in listener.filterChains {
                if case .httpConnectionManager(let manager) = chain.filter, case .rds(_, .api(let api)) = manager.routes { sources.append(api) }
            }
        }
        for cluster in clusters { if case .api(let api)? = cluster.eds?.source { sources.append(api) } }
        for source in sources where cluster(named: source.clusterName)?.eds != nil || cluster(named: source.clusterName) == nil {
            throw ProxyConfigError(file: source.file, location: source.location, path: source.path + ".cluster_names[0]",
                                   problem: "\(source.clusterName) is not a static cluster of this bootstrap (name the STATIC cluster that reaches the management server)")
        }
    }

    /// Every `path_config_source.path` under an `sds_config` in the document.
    static func sdsPaths(_ node: YAMLNode) -> [String] {
        var found: [String] = []
        func walk(_ node: YAMLNode) {
            if let pairs = node.pairs {
                for pair in pairs {
                    if pair.key.scalarText == "sds_config", let path = pair.value["path_config_source"]?["path"]?.scalarText { found.append(path) }
                    walk(pair.value)
                }
            } else if let items = node.items {
                items.forEach(walk)
            }
        }
        walk(node)
        return found
    }

    /// Reads an RDS DiscoveryResponse file and takes the route configuration named `name`.
    static func readRouteFile(_ path: String, name: String) throws(ProxyConfigError) -> RouteConfiguration {
        let (root, configs) = try readDiscoveryResponse(path, type: "envoy.config.route.v3.RouteConfiguration", what: "a route configuration") {
            resource, version throws(ProxyConfigError) in try RouteConfiguration.read(resource, version: version)
        }
        guard let config = configs.first(where: { $0.name == name }) else {
            throw ProxyConfigError(file: path, location: root.location, path: "resources", problem: "has no route configuration named \"\(name)\"")
        }
        return config
    }

    /// Reads an SDS DiscoveryResponse file: the secrets' names and kinds, and their material.
    static func readSecretFile(_ path: String) throws(ProxyConfigError) -> [(SecretInfo, TLSSecret)] {
        try readDiscoveryResponse(path, type: "envoy.extensions.transport_sockets.tls.v3.Secret", what: "a secret") {
            resource, version throws(ProxyConfigError) -> (SecretInfo, TLSSecret) in try readSecret(resource, version: version)
        }.resources
    }

    /// One `Secret` resource: its name and kinds, and its material.
    static func readSecret(_ resource: ConfigReader, version: String?) throws(ProxyConfigError) -> (SecretInfo, TLSSecret) {
        let hasCertificate = resource.has("tls_certificate"), hasValidation = resource.has("validation_context")
        let secret = try TLSSecret.read(resource)
        return (SecretInfo(name: secret.name, version: version, hasCertificate: hasCertificate, hasValidationContext: hasValidation), secret)
    }

    /// Reads a DiscoveryResponse file (`version_info`, `resources` of one `@type`), each resource by `body`.
    static func readDiscoveryResponse<T>(_ path: String, type: String, what: String,
                                         _ body: (ConfigReader, String?) throws(ProxyConfigError) -> T) throws(ProxyConfigError) -> (root: YAMLNode, resources: [T]) {
        let root = try readDocument(path)
        let reader = try ConfigReader.mapping(root, file: path, path: [])
        let version = try reader.string("version_info")
        reader.ignore("type_url", "nonce")
        let resources = try reader.list("resources") { resource throws(ProxyConfigError) -> T in
            let found = try resource.typeName()
            guard found == type else { throw resource.error("\(found) is not \(what)") }
            return try body(resource, version)
        }
        try reader.finish()
        return (root, resources)
    }
}
