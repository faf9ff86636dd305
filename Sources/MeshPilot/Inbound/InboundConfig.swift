import ConfigValues

/// One port the sidecar accepts traffic on for its workload: the pod port, its protocol, the services behind it.
struct InboundPort {
    var port: Int
    var proto: PortProtocol
    var services: [MeshService]
}

/// PeerAuthentication's mTLS mode for one inbound port: workload `portLevelMtls` > workload > namespace > mesh
/// (root namespace), UNSET inheriting, PERMISSIVE by default.
enum MutualTLSMode: String {
    case permissive = "PERMISSIVE", strict = "STRICT", disable = "DISABLE"

    static func resolve(model: MeshModel, workload: MeshWorkload, port: Int) -> MutualTLSMode {
        let policies = model.peerAuthentications
        let mesh = policies.first { $0.namespace == MeshModel.rootNamespace && $0.selector == nil }
        let namespace = policies.first { $0.namespace == workload.namespace && $0.selector == nil && workload.namespace != MeshModel.rootNamespace }
        let selected = policies.first { $0.namespace == workload.namespace && $0.selector != nil && $0.selects(workload) }
        var mode = MutualTLSMode.permissive
        for policy in [mesh, namespace, selected].compactMap({ $0 }) {
            if let value = policy.spec.value(atPath: "mtls.mode")?.string.flatMap(MutualTLSMode.init(rawValue:)) { mode = value }
        }
        if let selected, let portLevel = selected.spec["portLevelMtls"]?[String(port)]?["mode"]?.string.flatMap(MutualTLSMode.init(rawValue:)) {
            mode = portLevel
        }
        return mode
    }
}

/// A sidecar's inbound side: `virtualInbound` (POD_IP:15006 plus POD_IP:P for each inbound port, local mode's stand-in
/// for iptables), its filter chains per port and mTLS mode, and the `inbound|P||` clusters to the app at 127.11.x.y.
struct InboundConfig {
    typealias J = EnvoyJSON
    static let mutualTLSALPN = ["istio-peer-exchange", "istio", "istio-http/1.0", "istio-http/1.1", "istio-h2"]
    static let plaintextHTTPALPN = ["http/1.1", "h2c"]

    let model: MeshModel
    let proxy: MeshWorkload
    /// HTTP filters put before the router on inbound HCMs (AuthorizationPolicy's RBAC, when h/policy provides it).
    var extraHTTPFilters: (InboundPort) -> [JSONValue] = { _ in [] }
    /// Network filters put before tcp_proxy on inbound TCP chains (network RBAC).
    var extraNetworkFilters: (InboundPort) -> [JSONValue] = { _ in [] }

    init(model: MeshModel, proxy: MeshWorkload) {
        self.model = model
        self.proxy = proxy
    }

    /// The ports of the services selecting the workload, resolved to pod ports, in order.
    var ports: [InboundPort] {
        var found: [Int: InboundPort] = [:]
        for service in model.services(selecting: proxy) {
            for servicePort in service.ports where servicePort.proto != .udp {
                guard let port = proxy.port(named: servicePort.targetPort) ?? Optional(servicePort.port), MeshService.validPorts.contains(port) else { continue }
                if found[port] == nil { found[port] = InboundPort(port: port, proto: servicePort.proto, services: []) }
                found[port]?.services.append(service)
            }
        }
        return found.keys.sorted().compactMap { found[$0] }
    }

    static func clusterName(_ port: Int) -> String { "inbound|\(port)||" }

    func build() -> (listener: JSONValue, clusters: [JSONValue]) {
        let inbound = ports
        var chains: [JSONValue] = [J.object([
            "name": .string("virtualInbound-blackhole"),
            "filter_chain_match": J.object(["destination_port": .int(15006)]),
            "filters": .array([NetworkFilters.tcpProxy(statPrefix: "BlackHoleCluster", cluster: "BlackHoleCluster", meshConfig: model.meshConfig)]),
        ])]
        for port in inbound { chains += filterChains(port) }
        chains.append(J.object([
            "name": .string("virtualInbound-catchall-tcp"),
            "filter_chain_match": J.object(["transport_protocol": .string("raw_buffer")]),
            "filters": .array([NetworkFilters.tcpProxy(statPrefix: "InboundPassthroughCluster", cluster: "InboundPassthroughCluster", meshConfig: model.meshConfig)]),
        ]))
        var listener = J.object([
            "name": .string("virtualInbound"),
            "address": J.socketAddress(proxy.ip, 15006),
        ])
        if !inbound.isEmpty { listener.set("additional_addresses", .array(inbound.map { J.object(["address": J.socketAddress(proxy.ip, $0.port)]) })) }
        listener.set("traffic_direction", .string("INBOUND"))
        listener.set("continue_on_listener_filters_timeout", .bool(true))
        listener.set("listener_filters_timeout", .string("0s"))
        listener.set("listener_filters", .array([
            J.object(["name": .string("envoy.filters.listener.tls_inspector"),
                      "typed_config": J.typed("envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector")]),
            J.object(["name": .string("envoy.filters.listener.http_inspector"),
                      "typed_config": J.typed("envoy.extensions.filters.listener.http_inspector.v3.HttpInspector")]),
        ]))
        listener.set("filter_chains", .array(chains))
        return (listener, inbound.map(cluster))
    }

    /// The chains for one port: a plaintext chain unless STRICT, and an mTLS chain (Istio's ALPNs, client
    /// certificate required) unless DISABLE.
    func filterChains(_ port: InboundPort) -> [JSONValue] {
        let mode = MutualTLSMode.resolve(model: model, workload: proxy, port: port.port)
        let name = "0.0.0.0_\(port.port)"
        var chains: [JSONValue] = []
        if mode != .strict {
            var match = J.object(["destination_port": .int(port.port), "transport_protocol": .string("raw_buffer")])
            if port.proto.isHTTP { match.set("application_protocols", J.strings(Self.plaintextHTTPALPN)) }
            chains.append(J.object(["name": .string(name), "filter_chain_match": match, "filters": .array(filters(port))]))
        }
        if mode != .disable {
            var match = J.object(["destination_port": .int(port.port), "transport_protocol": .string("tls")])
            if mode == .permissive { match.set("application_protocols", J.strings(Self.mutualTLSALPN)) }
            chains.append(J.object(["name": .string(name), "filter_chain_match": match, "transport_socket": downstreamTLS(port),
                                    "filters": .array(filters(port))]))
        }
        return chains
    }

    private func downstreamTLS(_ port: InboundPort) -> JSONValue {
        J.object(["name": .string("envoy.transport_sockets.tls"),
                  "typed_config": J.typed("envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext", [
                      "require_client_certificate": .bool(true),
                      "common_tls_context": J.object([
                          "alpn_protocols": J.strings(port.proto.isHTTP ? ["h2", "http/1.1"] : UpstreamTLS.meshALPN),
                          "tls_params": UpstreamTLS.tlsParams,
                          "tls_certificate_sds_secret_configs": .array([J.sdsSecret("default")]),
                          "combined_validation_context": J.object([
                              "default_validation_context": J.object(["match_typed_subject_alt_names": .array([J.object([
                                  "san_type": .string("URI"), "matcher": J.object(["prefix": .string("spiffe://\(model.domain)/")]),
                              ])])]),
                              "validation_context_sds_secret_config": J.sdsSecret("ROOTCA"),
                          ]),
                      ]),
                  ])])
    }

    private func filters(_ port: InboundPort) -> [JSONValue] {
        let cluster = Self.clusterName(port.port)
        guard port.proto.isHTTP else {
            return extraNetworkFilters(port) + [NetworkFilters.tcpProxy(statPrefix: cluster, cluster: cluster, meshConfig: model.meshConfig)]
        }
        let host = port.services.first.map { "\($0.hostname):\(port.port)" } ?? "\(port.port)"
        let route = J.object([
            "name": .string(cluster), "validate_clusters": .bool(false),
            "virtual_hosts": .array([J.object([
                "name": .string("inbound|http|\(port.port)"), "domains": J.strings(["*"]),
                "routes": .array([J.object([
                    "name": .string("default"), "match": J.object(["prefix": .string("/")]),
                    "decorator": J.object(["operation": .string("\(host)/*")]),
                    "route": J.object(["cluster": .string(cluster), "timeout": .string("0s"),
                                       "max_stream_duration": J.object(["max_stream_duration": .string("0s"), "grpc_timeout_header_max": .string("0s")])]),
                ])]),
            ])]),
        ])
        // AuthorizationPolicy: RBAC http filters go here, before the router (extraHTTPFilters).
        let httpFilters = extraHTTPFilters(port) + [NetworkFilters.fault, NetworkFilters.router]
        return [NetworkFilters.httpConnectionManager(statPrefix: "inbound_0.0.0.0_\(port.port)", routes: ("route_config", route),
                                                     httpFilters: httpFilters, inbound: true, meshConfig: model.meshConfig,
                                                     acceptHTTP10: proxy.acceptsHTTP10)]
    }

    /// `inbound|P||`: STATIC to the app's own address (127.11.x.y:P in local mode); HTTP/2 to the app for a grpc or
    /// http2 port, as Istio's inbound clusters speak it there.
    func cluster(_ port: InboundPort) -> JSONValue {
        let name = Self.clusterName(port.port)
        var cluster = J.object([
            "name": .string(name), "type": .string("STATIC"), "connect_timeout": .string("10s"),
            "circuit_breakers": ConnectionPool.unlimitedBreakers,
            "common_lb_config": J.object([:]),
            "metadata": J.object(["filter_metadata": J.object(["istio": J.object(["services": .array(port.services.map {
                J.object(["host": .string($0.hostname), "name": .string($0.name), "namespace": .string($0.namespace)])
            })])])]),
            "load_assignment": J.object(["cluster_name": .string(name), "endpoints": .array([J.object([
                "lb_endpoints": .array([J.object(["endpoint": J.object(["address": J.socketAddress(proxy.applicationIP, port.port)])])]),
            ])])]),
        ])
        if port.proto.isHTTP2 {
            var typed = J.typed("envoy.extensions.upstreams.http.v3.HttpProtocolOptions")
            typed.set("explicit_http_config", J.object(["http2_protocol_options": J.object([:])]))
            cluster.set("typed_extension_protocol_options", J.object(["envoy.extensions.upstreams.http.v3.HttpProtocolOptions": typed]))
        }
        return cluster
    }
}
