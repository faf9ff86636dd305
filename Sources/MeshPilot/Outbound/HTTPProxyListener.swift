import ConfigValues

/// The sidecar's HTTP proxy port, when the mesh config sets `proxyHttpPort` (local mode sets 15080): a listener
/// `127.0.0.1_PORT` (bound to the pod IP in local mode) whose connection manager takes absolute-form requests
/// (`GET http://host:port/path`, what a client with `HTTP_PROXY` sends) and routes them by their authority over the
/// route configuration `http_proxy`: every visible HTTP service port, with the VirtualService routes that apply.
/// Unlike istiod's, the names there carry the port (`host:port`, and the bare name for port 80) and the port is
/// used to match, so `http://svc:8080/` reaches port 8080 of a service that has several.
struct HTTPProxyListener {
    typealias J = EnvoyJSON
    let model: MeshModel
    let proxy: MeshWorkload

    static let routeName = "http_proxy"

    /// The port from the mesh config, nil when it is not set (no listener).
    var port: Int? {
        guard let port = model.meshConfig["proxyHttpPort"]?.int, MeshService.validPorts.contains(port) else { return nil }
        return port
    }

    func build() -> (listener: JSONValue, routes: JSONValue)? {
        guard let port else { return nil }
        let name = "127.0.0.1_\(port)"
        var manager = NetworkFilters.httpConnectionManager(
            statPrefix: "outbound_\(name)",
            routes: ("rds", J.object(["config_source": J.configSource, "route_config_name": .string(Self.routeName)])),
            httpFilters: [NetworkFilters.fault, NetworkFilters.cors, NetworkFilters.router], inbound: false, meshConfig: model.meshConfig)
        if var typed = manager["typed_config"] {
            var options = J.object(["allow_absolute_url": .bool(true)])
            if proxy.acceptsHTTP10 { options.set("accept_http_10", .bool(true)) }
            typed.set("http_protocol_options", options)
            manager.set("typed_config", typed)
        }
        let listener = J.object([
            "name": .string(name), "address": J.socketAddress(proxy.ip, port), "traffic_direction": .string("OUTBOUND"),
            "filter_chains": .array([J.object(["filters": .array([manager])])]),
        ])
        return (listener, routeConfiguration())
    }

    func routeConfiguration() -> JSONValue {
        let routes = HTTPRoutes(model: model, proxy: proxy)
        var hosts: [JSONValue] = [], taken = Set<String>()
        for service in model.visibleServices(for: proxy) {
            for port in service.ports where port.proto.isHTTP {
                let names = routes.domains(service: service, port: port.port).filter { $0.hasSuffix(":\(port.port)") || (port.port == 80 && !$0.contains(":")) }
                let domains = names.filter { taken.insert($0).inserted }
                guard !domains.isEmpty else { continue }
                let translated: [JSONValue]
                if let rule = routes.virtualService(for: service) {
                    translated = routes.routes(of: rule, port: port.port)
                } else {
                    translated = [routes.defaultRoute(cluster: OutboundClusters.name(port: port.port, host: service.hostname),
                                                      operation: "\(service.hostname):\(port.port)/*", service: service, port: port.port)]
                }
                hosts.append(J.object(["name": .string("\(service.hostname):\(port.port)"), "domains": J.strings(domains), "routes": .array(translated),
                                       "include_request_attempt_count": .bool(true)]))
            }
        }
        hosts.append(model.registryOnly ? routes.blockAll : routes.allowAny)
        return J.object(["name": .string(Self.routeName), "virtual_hosts": .array(hosts), "validate_clusters": .bool(false),
                         "ignore_port_in_host_matching": .bool(false)])
    }
}
