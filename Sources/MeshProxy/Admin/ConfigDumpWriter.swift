import ConfigValues
import Foundation

/// `/config_dump`: the running configuration in Envoy's admin shape (Bootstrap, Clusters, Listeners,
/// ScopedRoutes, Routes, Secrets, and Endpoints with `include_eds`), filtered by `resource`, `mask` and `name_regex`.
struct ConfigDumpWriter {
    let proxy: ProxyServer

    struct QueryError: Error { let message: String }

    func dump(query: [String: String]) throws(QueryError) -> JSONValue {
        let configuration = proxy.store.current
        let updated = JSONValue.string(AccessLogFormat.timestamp(proxy.runtime.startedAt))
        var bootstrap = configuration.bootstrapSource
        var inline: [JSONValue] = []
        for listener in configuration.listeners {
            for chain in listener.filterChains {
                if case .httpConnectionManager(let manager) = chain.filter, case .inline(let routes) = manager.routes,
                   !inline.contains(where: { $0["route_config"]?["name"] == routes.source["name"] && routes.source["name"] != nil }) {
                    inline.append(.object([("route_config", typed(routes.source, "envoy.config.route.v3.RouteConfiguration")), ("last_updated", updated)]))
                }
            }
        }
        let discovered = configuration.discovered
        func stamp(_ version: DiscoveredVersion?) -> JSONValue { version.map { .string(AccessLogFormat.timestamp($0.lastUpdated)) } ?? updated }
        let dynamicRoutes = configuration.dynamicRoutes.keys.sorted().map { name -> JSONValue in
            let routes = configuration.dynamicRoutes[name]!
            return .object([("version_info", .string(discovered.routes[name]?.version ?? routes.version ?? "")),
                            ("route_config", typed(routes.source, "envoy.config.route.v3.RouteConfiguration")), ("last_updated", stamp(discovered.routes[name]))])
        }
        let secrets = configuration.secrets.map { secret -> JSONValue in
            var body: [(key: String, value: JSONValue)] = [("@type", .string("type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret")), ("name", .string(secret.name))]
            if secret.hasCertificate { body.append(("tls_certificate", .object([("private_key", .object([("inline_string", .string("[redacted]"))]))]))) }
            if secret.hasValidationContext { body.append(("validation_context", .object([]))) }
            return .object([("name", .string(secret.name)), ("version_info", .string(discovered.secrets[secret.name]?.version ?? secret.version ?? "")),
                            ("last_updated", stamp(discovered.secrets[secret.name])), ("secret", .object(body))])
        }
        var clusterDump: [(key: String, value: JSONValue)] = [("static_clusters", .array(configuration.clusters.filter { discovered.clusters[$0.name] == nil }.map {
            .object([("cluster", typed($0.source, "envoy.config.cluster.v3.Cluster")), ("last_updated", updated)])
        }))]
        let activeClusters = configuration.clusters.compactMap { cluster in discovered.clusters[cluster.name].map { (cluster, $0) } }
        if !activeClusters.isEmpty {
            clusterDump.insert(("version_info", .string(activeClusters[0].1.version)), at: 0)
            clusterDump.append(("dynamic_active_clusters", .array(activeClusters.map { cluster, version in
                .object([("version_info", .string(version.version)), ("cluster", typed(cluster.source, "envoy.config.cluster.v3.Cluster")), ("last_updated", stamp(version))])
            })))
        }
        if !discovered.warmingClusters.isEmpty {
            clusterDump.append(("dynamic_warming_clusters", .array(discovered.warmingClusters.map {
                .object([("cluster", typed($0.source, "envoy.config.cluster.v3.Cluster")), ("last_updated", updated)])
            })))
        }
        var listenerDump: [(key: String, value: JSONValue)] = [("static_listeners", .array(configuration.listeners.filter { discovered.listeners[$0.name ?? ""] == nil }.map {
            .object([("listener", typed($0.source, "envoy.config.listener.v3.Listener")), ("last_updated", updated)])
        }))]
        var dynamicListeners: [JSONValue] = configuration.listeners.compactMap { listener in
            guard let name = listener.name, let version = discovered.listeners[name] else { return nil }
            return .object([("name", .string(name)), ("active_state", .object([("version_info", .string(version.version)),
                                                                                ("listener", typed(listener.source, "envoy.config.listener.v3.Listener")),
                                                                                ("last_updated", stamp(version))]))])
        }
        for listener in discovered.warmingListeners {
            dynamicListeners.append(.object([("name", .string(listener.name ?? "")), ("warming_state", .object([
                ("listener", typed(listener.source, "envoy.config.listener.v3.Listener")), ("last_updated", updated)]))]))
        }
        if let first = discovered.listeners.values.first { listenerDump.insert(("version_info", .string(first.version)), at: 0) }
        if !dynamicListeners.isEmpty { listenerDump.append(("dynamic_listeners", .array(dynamicListeners))) }
        var configs: [(type: String, value: JSONValue)] = [
            ("envoy.admin.v3.BootstrapConfigDump", .object([("bootstrap", bootstrap), ("last_updated", updated)])),
            ("envoy.admin.v3.ClustersConfigDump", .object(clusterDump)),
            ("envoy.admin.v3.ListenersConfigDump", .object(listenerDump)),
            ("envoy.admin.v3.ScopedRoutesConfigDump", .object([])),
            ("envoy.admin.v3.RoutesConfigDump", .object([("static_route_configs", .array(inline)), ("dynamic_route_configs", .array(dynamicRoutes))])),
            ("envoy.admin.v3.SecretsConfigDump", .object([("dynamic_active_secrets", .array(secrets))])),
        ]
        if query["include_eds"] != nil {
            // Static clusters' assignments as Envoy shows them: from their hosts now (EDS ones are dynamic below).
            let running = proxy.runtime.clusters
            var endpoints: [(key: String, value: JSONValue)] = [("static_endpoint_configs", .array(configuration.clusters.compactMap { cluster in
                guard cluster.eds == nil, cluster.kind != .originalDestination, let state = running[cluster.name] else { return nil }
                return EndpointsDumpWriter.staticEndpointConfig(state)
            }))]
            if !discovered.endpointAssignments.isEmpty {
                endpoints.append(("dynamic_endpoint_configs", .array(discovered.endpointAssignments.keys.sorted().map { name in
                    let assignment = discovered.endpointAssignments[name]!
                    return .object([("version_info", .string(assignment.version.version)),
                                    ("endpoint_config", typed(assignment.source, "envoy.config.endpoint.v3.ClusterLoadAssignment")),
                                    ("last_updated", stamp(assignment.version))])
                })))
            }
            configs.append(("envoy.admin.v3.EndpointsConfigDump", .object(endpoints)))
        }
        if let resource = query["resource"], !resource.isEmpty {
            var found: [JSONValue] = []
            for (type, value) in configs {
                guard let items = value[resource]?.array else { continue }
                // Envoy names each item's message type when it lists one resource (`EndpointsConfigDump.StaticEndpointConfig`).
                let itemType = Self.resourceItemTypes[resource].map { "type.googleapis.com/\(type).\($0)" }
                found += items.map { item in
                    guard let itemType, case .object(let fields) = item, !fields.contains(where: { $0.key == "@type" }) else { return item }
                    return .object([("@type", .string(itemType))] + fields)
                }
            }
            guard configs.contains(where: { $0.value[resource] != nil }) else { throw QueryError(message: "\(resource) not found in config dump") }
            return .object([("configs", .array(try filtered(found, query: query)))])
        }
        var result: [JSONValue] = []
        for (type, value) in configs {
            var entry: [(key: String, value: JSONValue)] = [("@type", .string("type.googleapis.com/\(type)"))]
            for (key, field) in value.object ?? [] {
                guard let mask = query["mask"] else { entry.append((key, field)); continue }
                let paths = mask.split(separator: ",").map(String.init)
                if paths.contains(key) { entry.append((key, field)) }
            }
            if query["mask"] != nil && entry.count == 1 && !(value.object ?? []).isEmpty { continue }
            if let items = entry.last?.value.array, query["name_regex"] != nil, entry.count > 1 {
                entry[entry.count - 1].value = .array(try filtered(items, query: query))
            }
            result.append(.object(entry))
        }
        return .object([("configs", .array(result))])
    }

    /// Keeps the entries whose resource name matches `name_regex`.
    private func filtered(_ items: [JSONValue], query: [String: String]) throws(QueryError) -> [JSONValue] {
        guard let pattern = query["name_regex"], !pattern.isEmpty else { return items }
        guard let regex = RegexPattern(pattern) else { throw QueryError(message: "Error while parsing name_regex from \(pattern)") }
        return items.filter { item in
            let name = item["name"]?.string ?? item["cluster"]?["name"]?.string ?? item["listener"]?["name"]?.string
                ?? item["route_config"]?["name"]?.string ?? item["endpoint_config"]?["cluster_name"]?.string ?? ""
            return regex.matchesWhole(name)
        }
    }

    private func typed(_ value: JSONValue, _ type: String) -> JSONValue {
        guard case .object(var pairs) = value else { return value }
        pairs.removeAll { $0.key == "@type" }
        return .object([("@type", .string("type.googleapis.com/\(type)"))] + pairs)
    }

    /// The message type of one item of each config dump list, as `?resource=` answers name it.
    static let resourceItemTypes = [
        "static_clusters": "StaticCluster", "dynamic_active_clusters": "DynamicCluster", "dynamic_warming_clusters": "DynamicCluster",
        "static_listeners": "StaticListener", "dynamic_listeners": "DynamicListener",
        "static_route_configs": "StaticRouteConfig", "dynamic_route_configs": "DynamicRouteConfig",
        "static_endpoint_configs": "StaticEndpointConfig", "dynamic_endpoint_configs": "DynamicEndpointConfig",
        "dynamic_active_secrets": "DynamicSecret", "static_secrets": "StaticSecret",
    ]

    static func socketAddress(_ address: SocketAddress) -> JSONValue {
        .object([("socket_address", .object([("address", .string(address.host)), ("port_value", .int(address.port))]))])
    }
}
