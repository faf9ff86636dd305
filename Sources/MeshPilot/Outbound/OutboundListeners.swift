import ConfigValues

/// A sidecar's outbound listeners: `virtualOutbound` (POD_IP:15001, the capture point) and, per service port,
/// `0.0.0.0_PORT` for HTTP (routes over RDS) or `CLUSTERIP_PORT` for TCP, none bound to a port of their own.
struct OutboundListeners {
    typealias J = EnvoyJSON
    let model: MeshModel
    let proxy: MeshWorkload

    /// Listeners and the route configurations their HCMs name.
    func build() -> (listeners: [JSONValue], routes: [JSONValue]) {
        let services = model.visibleServices(for: proxy)
        var httpPorts: [Int: [MeshService]] = [:]
        var listeners: [JSONValue] = [virtualOutbound]
        var tcpListeners: [String: JSONValue] = [:]
        let routes = HTTPRoutes(model: model, proxy: proxy)
        for service in services {
            for port in service.ports where port.proto != .udp {
                if port.proto.isHTTP {
                    httpPorts[port.port, default: []].append(service)
                } else if let ip = service.clusterIP ?? (service.serviceEntry != nil ? "0.0.0.0" : nil) {
                    let name = "\(ip)_\(port.port)"
                    guard tcpListeners[name] == nil else { continue }
                    tcpListeners[name] = tcpListener(name: name, ip: ip, service: service, port: port, routes: routes)
                }
            }
        }
        var routeConfigs: [JSONValue] = []
        for port in httpPorts.keys.sorted() {
            listeners.append(httpListener(port: port))
            routeConfigs.append(routes.routeConfiguration(port: port, services: httpPorts[port] ?? []))
        }
        listeners += tcpListeners.keys.sorted().compactMap { tcpListeners[$0] }
        return (listeners, routeConfigs)
    }

    /// Where unmatched outbound traffic goes: PassthroughCluster, or BlackHoleCluster under REGISTRY_ONLY.
    var fallbackCluster: String { model.registryOnly ? "BlackHoleCluster" : "PassthroughCluster" }

    var virtualOutbound: JSONValue {
        J.object([
            "name": .string("virtualOutbound"),
            "address": J.socketAddress(proxy.ip, 15001),
            "use_original_dst": .bool(true),
            "traffic_direction": .string("OUTBOUND"),
            "listener_filters": .array([J.object([
                "name": .string("envoy.filters.listener.proxy_protocol"),
                "typed_config": J.typed("envoy.extensions.filters.listener.proxy_protocol.v3.ProxyProtocol"),
            ])]),
            "filter_chains": .array([J.object([
                "name": .string(model.registryOnly ? "BlackHoleCluster" : "PassthroughFilterChain"),
                "filters": .array([NetworkFilters.tcpProxy(statPrefix: fallbackCluster, cluster: fallbackCluster, meshConfig: model.meshConfig)]),
            ])]),
        ])
    }

    func httpListener(port: Int) -> JSONValue {
        let name = "0.0.0.0_\(port)"
        let manager = NetworkFilters.httpConnectionManager(
            statPrefix: "outbound_\(name)",
            routes: ("rds", J.object(["config_source": J.configSource, "route_config_name": .string(String(port))])),
            httpFilters: [NetworkFilters.fault, NetworkFilters.cors, NetworkFilters.router], inbound: false, meshConfig: model.meshConfig,
            acceptHTTP10: proxy.acceptsHTTP10)
        return J.object([
            "name": .string(name), "address": J.socketAddress("0.0.0.0", port), "bind_to_port": .bool(false),
            "traffic_direction": .string("OUTBOUND"),
            "filter_chains": .array([J.object(["filters": .array([manager])])]),
        ])
    }

    /// A TCP service port: tcp_proxy to the service's cluster, or to the destinations of a VirtualService `tcp` route.
    func tcpListener(name: String, ip: String, service: MeshService, port: ServicePort, routes: HTTPRoutes) -> JSONValue {
        let cluster = OutboundClusters.name(port: port.port, host: service.hostname)
        var filter = NetworkFilters.tcpProxy(statPrefix: cluster, cluster: cluster, meshConfig: model.meshConfig)
        if let rule = routes.virtualService(for: service), let route = tcpRoute(rule, port: port.port) {
            let destinations = (route["route"]?.array ?? []).map { (cluster: routes.cluster(for: $0["destination"], rule: rule, port: port.port), weight: $0["weight"]?.int ?? 0) }
            if destinations.count == 1 {
                filter = NetworkFilters.tcpProxy(statPrefix: destinations[0].cluster, cluster: destinations[0].cluster, meshConfig: model.meshConfig)
            } else if destinations.count > 1 {
                // Weights Envoy takes; with none left (all zero) the service's own cluster stays, as Envoy refuses an empty list.
                let weights = EnvoyJSON.boundedWeights(destinations.map(\.weight))
                let weighted = zip(destinations, weights).filter { $0.1 > 0 }.map { (cluster: $0.0.cluster, weight: $0.1) }
                if !weighted.isEmpty { filter = NetworkFilters.tcpProxy(statPrefix: cluster, weighted: weighted, meshConfig: model.meshConfig) }
            }
        }
        return J.object([
            "name": .string(name), "address": J.socketAddress(ip, port.port), "bind_to_port": .bool(false),
            "traffic_direction": .string("OUTBOUND"),
            "filter_chains": .array([J.object(["filters": .array([filter])])]),
        ])
    }

    /// The first VirtualService `tcp` route whose matches (port, source labels, source namespace) fit, or that has none.
    private func tcpRoute(_ rule: IstioConfig, port: Int) -> JSONValue? {
        (rule.spec["tcp"]?.array ?? []).first { route in
            let matches = route["match"]?.array ?? []
            return matches.isEmpty || matches.contains { match in
                (match["port"]?.int ?? port) == port
                    && (match["sourceLabels"]?.stringMap ?? [:]).allSatisfy { proxy.labels[$0.key] == $0.value }
                    && (match["sourceNamespace"]?.string ?? proxy.namespace) == proxy.namespace
            }
        }
    }
}

/// The clusters every sidecar has: PassthroughCluster, BlackHoleCluster, InboundPassthroughCluster.
enum FixedClusters {
    typealias J = EnvoyJSON

    static var all: [JSONValue] { [passthrough, blackHole, inboundPassthrough] }

    static let passthrough = J.object([
        "name": .string("PassthroughCluster"), "type": .string("ORIGINAL_DST"), "connect_timeout": .string("10s"),
        "lb_policy": .string("CLUSTER_PROVIDED"),
        "circuit_breakers": ConnectionPool.unlimitedBreakers,
    ])

    static let blackHole = J.object(["name": .string("BlackHoleCluster"), "type": .string("STATIC"), "connect_timeout": .string("10s")])

    static let inboundPassthrough = J.object([
        "name": .string("InboundPassthroughCluster"), "type": .string("ORIGINAL_DST"), "connect_timeout": .string("10s"),
        "lb_policy": .string("CLUSTER_PROVIDED"),
        "circuit_breakers": ConnectionPool.unlimitedBreakers,
    ])
}
