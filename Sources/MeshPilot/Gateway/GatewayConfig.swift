import ConfigValues

/// A router proxy (an ingress gateway pod): one listener per Gateway server port, HTTP routes from the
/// VirtualServices bound to its Gateways (route configurations `http.PORT`, `https.PORT.SERVER.GATEWAY.NAMESPACE`),
/// TLS termination with the server's `credentialName` over SDS, and the same outbound clusters a sidecar has.
/// A server port that is a port of a Service selecting the gateway pod is listened on at that port's target port,
/// as istiod translates it (Gateway port 80 on `istio-ingressgateway`, whose port 80 targets 8080, listens on 8080).
struct GatewayConfig {
    typealias J = EnvoyJSON
    let model: MeshModel
    let proxy: MeshWorkload

    /// Gateways whose selector matches the pod (from any namespace, as Istio's default allows).
    var gateways: [IstioConfig] {
        model.gateways.filter { gateway in
            let selector = gateway.spec["selector"]?.stringMap ?? [:]
            return !selector.isEmpty && selector.allSatisfy { proxy.labels[$0.key] == $0.value }
        }.sorted { ($0.namespace, $0.name) < ($1.namespace, $1.name) }
    }

    struct Server {
        var gateway: IstioConfig
        var index: Int
        var spec: JSONValue
        /// The port the proxy listens on: the server's port, or the target port it resolves to.
        var listenPort: Int
        var port: Int { spec.value(atPath: "port.number")?.int ?? 0 }
        var proto: PortProtocol { PortProtocol(name: spec.value(atPath: "port.protocol")?.string ?? "HTTP") }
        var hosts: [String] { (spec["hosts"]?.array ?? []).compactMap(\.string) }
        var isTLS: Bool { spec["tls"] != nil && proto != .http }
        var name: String { spec.value(atPath: "port.name")?.string ?? "\(index)" }
        var routeName: String { isTLS ? "https.\(port).\(name).\(gateway.name).\(gateway.namespace)" : "http.\(listenPort)" }
    }

    /// istiod's port translation for gateways selected by labels: the target port of the first Service port (of the
    /// Services selecting the pod) numbered like the server's, else the server's own port.
    func listenPort(for serverPort: Int) -> Int {
        for service in model.services(selecting: proxy) {
            guard let port = service.port(serverPort) else { continue }
            if let target = proxy.port(named: port.targetPort), MeshService.validPorts.contains(target) { return target }
        }
        return serverPort
    }

    /// The gateway proxy's ProxyConfig `connectionSettings`, as istiod resolves them.
    var connectionSettings: ConnectionSettings { ConnectionSettings(for: proxy, meshConfig: model.meshConfig, router: true) }

    func build() -> (listeners: [JSONValue], routes: [JSONValue]) {
        let connectionSettings = self.connectionSettings
        let servers = gateways.flatMap { gateway in
            (gateway.spec["servers"]?.array ?? []).enumerated().map { index, spec in
                Server(gateway: gateway, index: index, spec: spec, listenPort: listenPort(for: spec.value(atPath: "port.number")?.int ?? 0))
            }
        }
        var listeners: [JSONValue] = [], routes: [JSONValue] = [], seenRoutes = Set<String>()
        for port in Set(servers.map(\.listenPort)).sorted() where port > 0 {
            let here = servers.filter { $0.listenPort == port }
            var chains: [JSONValue] = []
            for server in here where server.proto.isHTTP || server.isTLS && server.spec.value(atPath: "tls.mode")?.string != "PASSTHROUGH" {
                if seenRoutes.insert(server.routeName).inserted { routes.append(routeConfiguration(server, all: here)) }
                if !server.isTLS && chains.contains(where: { $0["transport_socket"] == nil }) { continue }
                chains.append(chain(server))
            }
            guard !chains.isEmpty else { continue }
            var listener = J.object(["name": .string("0.0.0.0_\(port)"), "address": J.socketAddress(proxy.ip, port), "traffic_direction": .string("OUTBOUND")])
            if let limit = connectionSettings.listenerBufferLimit { listener.set("per_connection_buffer_limit_bytes", .number(String(limit))) }
            if chains.contains(where: { $0["transport_socket"] != nil }) {
                listener.set("listener_filters", .array([J.object(["name": .string("envoy.filters.listener.tls_inspector"),
                                                                    "typed_config": J.typed("envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector")])]))
            }
            listener.set("filter_chains", .array(chains))
            listeners.append(listener)
        }
        return (listeners, routes)
    }

    private func chain(_ server: Server) -> JSONValue {
        let manager = NetworkFilters.httpConnectionManager(
            statPrefix: "outbound_0.0.0.0_\(server.listenPort)",
            routes: ("rds", J.object(["config_source": J.configSource, "route_config_name": .string(server.routeName)])),
            httpFilters: [NetworkFilters.fault, NetworkFilters.cors, NetworkFilters.router], inbound: false, meshConfig: model.meshConfig,
            acceptHTTP10: proxy.acceptsHTTP10, http2Options: connectionSettings.http2ProtocolOptions)
        var chain = J.object([:])
        if server.isTLS {
            let names = server.hosts.map { $0.split(separator: "/").last.map(String.init) ?? $0 }.filter { $0 != "*" }
            if !names.isEmpty { chain.set("filter_chain_match", J.object(["server_names": J.strings(names)])) }
            let tls = server.spec["tls"]
            var common = J.object(["alpn_protocols": J.strings(["h2", "http/1.1"]), "tls_params": UpstreamTLS.tlsParams])
            if let credential = tls?["credentialName"]?.string {
                common.set("tls_certificate_sds_secret_configs", .array([J.sdsSecret("kubernetes://\(credential)")]))
            } else if let certificate = tls?["serverCertificate"]?.string, let key = tls?["privateKey"]?.string {
                common.set("tls_certificates", .array([J.object(["certificate_chain": J.object(["filename": .string(certificate)]),
                                                                  "private_key": J.object(["filename": .string(key)])])]))
            }
            let mutual = tls?["mode"]?.string == "MUTUAL"
            if mutual, let credential = tls?["credentialName"]?.string {
                common.set("combined_validation_context", J.object(["default_validation_context": J.object([:]),
                                                                    "validation_context_sds_secret_config": J.sdsSecret("kubernetes://\(credential)-cacert")]))
            }
            chain.set("transport_socket", J.object(["name": .string("envoy.transport_sockets.tls"),
                                                    "typed_config": J.typed("envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext", [
                                                        "require_client_certificate": .bool(mutual), "common_tls_context": common,
                                                    ])]))
        }
        chain.set("filters", .array([manager]))
        return chain
    }

    /// Virtual hosts for the VirtualServices bound to the server's Gateway whose hosts the server admits.
    private func routeConfiguration(_ server: Server, all: [Server]) -> JSONValue {
        let sameRoute = all.filter { $0.routeName == server.routeName }
        var hosts: [JSONValue] = []
        var seen = Set<String>()
        for member in sameRoute {
            let gatewayName = "\(member.gateway.namespace)/\(member.gateway.name)"
            let routes = HTTPRoutes(model: model, proxy: proxy, gateway: gatewayName)
            for rule in routes.virtualServices {
                let translated = routes.routes(of: rule, port: member.port)
                guard !translated.isEmpty else { continue }
                for host in (rule.spec["hosts"]?.array ?? []).compactMap(\.string) where admits(member, host: host, namespace: rule.namespace) {
                    guard seen.insert(host).inserted else { continue }
                    let domains = host == "*" ? ["*"] : [host, "\(host):\(member.port)"]
                    hosts.append(J.object(["name": .string("\(host):\(member.port)"), "domains": J.strings(domains), "routes": .array(translated),
                                           "include_request_attempt_count": .bool(true)]))
                }
            }
        }
        return J.object(["name": .string(server.routeName), "virtual_hosts": .array(hosts), "validate_clusters": .bool(false),
                         "ignore_port_in_host_matching": .bool(true)])
    }

    /// A server host (`ns/host`, `*/host`, `./host`, or a bare host) admits a VirtualService host from `namespace`.
    private func admits(_ server: Server, host: String, namespace: String) -> Bool {
        server.hosts.contains { entry in
            let parts = entry.split(separator: "/", maxSplits: 1).map(String.init)
            let (scope, pattern) = parts.count == 2 ? (parts[0], parts[1]) : ("*", parts[0])
            let namespaceOK = scope == "*" || (scope == "." ? namespace == server.gateway.namespace : scope == namespace)
            return namespaceOK && (HostMatch.matches(pattern: pattern, host: host) || HostMatch.matches(pattern: host, host: pattern))
        }
    }
}
