import ConfigValues
import Foundation

/// istiod's debug answers, from the discovery server's records: `/debug/syncz` (the list proxy-status reads) and
/// `/debug/config_dump?proxyID=` (what was last sent to a proxy, in Envoy's config_dump shape as istiod writes it).
enum DiscoveryDebug {
    /// The short names syncz uses for each type (`cluster_sent`, `listener_acked`, ...).
    static let syncKeys: [(key: String, typeURL: String)] = [
        ("cluster", ProxyResources.clusterType), ("listener", ProxyResources.listenerType), ("route", ProxyResources.routeType),
        ("endpoint", ProxyResources.endpointType),
    ]

    /// Per type, the subscription sent to last stands for the type (Envoy's REST transport has one per RDS
    /// configuration, EDS cluster and secret); the type counts as acknowledged only when every subscription is.
    /// A subscription to resources the proxy's configuration no longer has (the EDS poll of a cluster a
    /// DestinationRule's deletion removed) is left out: the proxy stopped asking, it will never acknowledge it.
    static func typeStates(_ record: ProxyRecord) -> [String: TypeSyncState] {
        var states: [String: TypeSyncState] = [:]
        // A subscription not up to date whose resources are gone is one the proxy stopped polling (Envoy drops a
        // removed cluster's EDS watch without acknowledging its last answer): it does not make the type STALE.
        // An up-to-date one counts even when its resources do not exist (a listener warming for its routes).
        let current = record.subscriptions.filter { key, subscription in
            guard !key.names.isEmpty, let resources = record.resources else { return true }
            if subscription.nonceSent.isEmpty || subscription.nonceSent == subscription.nonceAcked { return true }
            let names = Set(resources.resources(ofType: key.typeURL).map(ProxyResources.name(of:)))
            return key.names.allSatisfy(names.contains)
        }
        let byType = Dictionary(grouping: current, by: { $0.key.typeURL })
        for (typeURL, subscriptions) in byType {
            let values = subscriptions.map(\.value)
            guard let latest = values.max(by: { ($0.sentAt ?? .distantPast) < ($1.sentAt ?? .distantPast) }) else { continue }
            let allAcked = values.allSatisfy { $0.nonceSent.isEmpty || $0.nonceSent == $0.nonceAcked }
            let error = values.compactMap { $0.lastError.isEmpty ? nil : ($0.lastErrorAt ?? .distantPast, $0.lastError) }.max { $0.0 < $1.0 }?.1 ?? ""
            states[typeURL] = TypeSyncState(versionSent: latest.versionSent, nonceSent: latest.nonceSent,
                                            versionAcked: allAcked ? latest.versionAcked : (latest.nonceAcked == latest.nonceSent ? "" : latest.versionAcked),
                                            nonceAcked: allAcked ? latest.nonceAcked : (latest.nonceAcked == latest.nonceSent ? "" : latest.nonceAcked),
                                            lastError: error, sentAt: latest.sentAt)
        }
        return states
    }

    static func syncz(_ records: [ProxyRecord], namespace: String?) -> JSONValue {
        .array(records.filter { namespace == nil || namespace == "" || $0.node.namespace == namespace }.map { record in
            let states = typeStates(record)
            var pairs: [(key: String, value: JSONValue)] = [
                ("cluster_id", .string(record.metadata["CLUSTER_ID"]?.string ?? "Kubernetes")), ("proxy", .string(record.node.proxyID)),
                ("proxy_type", .string(record.node.kind.rawValue)),
            ]
            if let version = record.metadata["ISTIO_VERSION"]?.string { pairs.append(("istio_version", .string(version))) }
            for (key, typeURL) in syncKeys {
                guard let state = states[typeURL] else { continue }
                if !state.nonceSent.isEmpty { pairs.append(("\(key)_sent", .string(state.nonceSent))) }
                if !state.nonceAcked.isEmpty { pairs.append(("\(key)_acked", .string(state.nonceAcked))) }
            }
            let resources = states.keys.sorted().map { typeURL -> (key: String, value: JSONValue) in
                let state = states[typeURL]!
                var status: [(key: String, value: JSONValue)] = []
                if !state.nonceSent.isEmpty { status.append(("sent", .string(state.nonceSent))) }
                if !state.nonceAcked.isEmpty { status.append(("acked", .string(state.nonceAcked))) }
                if let sentAt = state.sentAt { status.append(("sentTime", .string(timestamp(sentAt)))) }
                if !state.lastError.isEmpty { status.append(("lastError", .string(state.lastError))) }
                return (typeURL, .object(status))
            }
            if !resources.isEmpty { pairs.append(("resources", .object(resources))) }
            return .object(pairs)
        })
    }

    /// What was last sent to the proxy, as dynamic resources of an Envoy config dump (private keys redacted).
    static func configDump(_ record: ProxyRecord, includeEndpoints: Bool) -> JSONValue {
        func sent(_ typeURL: String) -> [(version: String, resource: JSONValue)] {
            var seen = Set<String>(), result: [(String, JSONValue)] = []
            for (key, subscription) in record.subscriptions.sorted(by: { $0.key.names.joined() < $1.key.names.joined() }) where key.typeURL == typeURL {
                for resource in subscription.sentResources {
                    if seen.insert(ProxyResources.name(of: resource)).inserted { result.append((subscription.versionSent, typed(resource, typeURL))) }
                }
            }
            return result
        }
        let clusters = sent(ProxyResources.clusterType), listeners = sent(ProxyResources.listenerType)
        var configs: [JSONValue] = [
            .object([("@type", .string("type.googleapis.com/envoy.admin.v3.BootstrapConfigDump")), ("bootstrap", .object([]))]),
            .object([("@type", .string("type.googleapis.com/envoy.admin.v3.ClustersConfigDump")),
                     ("version_info", .string(clusters.first?.version ?? "")),
                     ("dynamic_active_clusters", .array(clusters.map { .object([("version_info", .string($0.version)), ("cluster", $0.resource)]) }))]),
        ]
        if includeEndpoints {
            configs.append(.object([("@type", .string("type.googleapis.com/envoy.admin.v3.EndpointsConfigDump")),
                                    ("dynamic_endpoint_configs", .array(sent(ProxyResources.endpointType).map {
                                        .object([("version_info", .string($0.version)), ("endpoint_config", $0.resource)])
                                    }))]))
        }
        configs += [
            .object([("@type", .string("type.googleapis.com/envoy.admin.v3.ListenersConfigDump")),
                     ("version_info", .string(listeners.first?.version ?? "")),
                     ("dynamic_listeners", .array(listeners.map {
                         .object([("name", $0.resource["name"] ?? .string("")),
                                  ("active_state", .object([("version_info", .string($0.version)), ("listener", $0.resource)]))])
                     }))]),
            .object([("@type", .string("type.googleapis.com/envoy.admin.v3.ScopedRoutesConfigDump"))]),
            .object([("@type", .string("type.googleapis.com/envoy.admin.v3.RoutesConfigDump")),
                     ("dynamic_route_configs", .array(sent(ProxyResources.routeType).map {
                         .object([("version_info", .string($0.version)), ("route_config", $0.resource)])
                     }))]),
            .object([("@type", .string("type.googleapis.com/envoy.admin.v3.SecretsConfigDump")),
                     ("dynamic_active_secrets", .array(sent(ProxyResources.secretType).map {
                         .object([("name", $0.resource["name"] ?? .string("")), ("version_info", .string($0.version)), ("secret", redacted($0.resource))])
                     }))]),
        ]
        return .object([("configs", .array(configs))])
    }

    static func typed(_ resource: JSONValue, _ typeURL: String) -> JSONValue {
        guard case .object(var pairs) = resource else { return resource }
        pairs.removeAll { $0.key == "@type" }
        return .object([("@type", .string(typeURL))] + pairs)
    }

    /// A secret with its private key replaced by `[redacted]`, as Envoy's config_dump shows it.
    static func redacted(_ secret: JSONValue) -> JSONValue {
        var secret = secret
        if var certificate = secret["tls_certificate"], certificate["private_key"] != nil {
            certificate["private_key"] = .object([("inline_string", .string("[redacted]"))])
            secret["tls_certificate"] = certificate
        }
        return secret
    }

    static func timestamp(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: date)
    }
}
