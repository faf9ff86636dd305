import ConfigValues

/// One proxy's configuration in Envoy's v3 JSON (field names as Envoy's proto JSON mapping writes them), by xDS type.
public struct ProxyResources: Sendable {
    public static let listenerType = "type.googleapis.com/envoy.config.listener.v3.Listener"
    public static let clusterType = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
    public static let routeType = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration"
    public static let endpointType = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"
    public static let secretType = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret"

    public var listeners: [JSONValue]
    public var clusters: [JSONValue]
    public var routes: [JSONValue]
    /// ClusterLoadAssignments of the EDS clusters.
    public var endpoints: [JSONValue]
    /// `default` (the workload's certificate and key) and `ROOTCA`, as Istio's SDS names them.
    public var secrets: [JSONValue]

    public init(listeners: [JSONValue] = [], clusters: [JSONValue] = [], routes: [JSONValue] = [], endpoints: [JSONValue] = [], secrets: [JSONValue] = []) {
        self.listeners = listeners
        self.clusters = clusters
        self.routes = routes
        self.endpoints = endpoints
        self.secrets = secrets
    }

    /// The resources of one xDS type URL (empty for a type the pilot does not serve).
    public func resources(ofType typeURL: String) -> [JSONValue] {
        switch typeURL {
        case Self.listenerType: return listeners
        case Self.clusterType: return clusters
        case Self.routeType: return routes
        case Self.endpointType: return endpoints
        case Self.secretType: return secrets
        default: return []
        }
    }
}

extension ProxyResources {
    /// An xDS resource's name: `name`, or `cluster_name` for a ClusterLoadAssignment ("" when it has neither).
    static func name(of resource: JSONValue) -> String {
        resource["name"]?.string ?? resource["cluster_name"]?.string ?? ""
    }

    /// The same with one resource per name in each type, the first kept: objects that clash (a Service listing a
    /// port twice, two subsets with one name, two services on one port) must not make a proxy refuse the whole set.
    func withUniqueNames() -> ProxyResources {
        func unique(_ resources: [JSONValue]) -> [JSONValue] {
            var seen = Set<String>()
            return resources.filter { seen.insert(Self.name(of: $0)).inserted }
        }
        return ProxyResources(listeners: unique(listeners), clusters: unique(clusters), routes: unique(routes), endpoints: unique(endpoints), secrets: unique(secrets))
    }
}
