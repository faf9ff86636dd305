import ConfigValues

/// An Envoy listener (`envoy.config.listener.v3.Listener`); all of its fields stay in `json`.
public struct Listener: Sendable {
    public let json: JSONValue

    public init(json: JSONValue) { self.json = json }

    /// "" for a listener Envoy was given without a name.
    public var name: String { json.text("name") }

    public var address: SocketOrPipe { SocketOrPipe(json.field("address")) }

    /// The addresses of `additional_addresses`.
    public var additionalAddresses: [String] {
        json.items("additional_addresses").map { SocketOrPipe($0.field("address")).host }
    }

    /// The filter chains, then the default filter chain.
    public var filterChains: [FilterChain] {
        var chains = json.items("filter_chains").map(FilterChain.init)
        if let fallback = json.field("default_filter_chain") { chains.append(FilterChain(json: fallback)) }
        return chains
    }

    public var isInternal: Bool { json.field("internal_listener") != nil }

    /// HTTP, TCP, HTTP+TCP or UNKNOWN, from the chains' network filters (a TCP proxy to the black hole does not count).
    public var protocolType: String {
        var http = 0, tcp = 0
        for chain in filterChains {
            for filter in chain.filters {
                if filter.name == Filter.httpConnectionManager { http += 1 }
                if filter.name == Filter.tcpProxy && !filter.isBlackHole { tcp += 1 }
            }
        }
        switch (http > 0, tcp > 0) {
        case (true, false): return "HTTP"
        case (true, true): return "HTTP+TCP"
        case (false, true): return "TCP"
        case (false, false): return "UNKNOWN"
        }
    }
}

/// A socket address (`address` + `port_value`), a pipe path, or an Envoy internal address.
public struct SocketOrPipe: Sendable {
    public let json: JSONValue?

    public init(_ json: JSONValue?) { self.json = json }

    /// The IP or host of a socket address, the path of a pipe.
    public var host: String {
        if let socket = json?.field("socket_address") { return socket.text("address") }
        if let pipe = json?.field("pipe") { return pipe.text("path") }
        return ""
    }

    /// The port of a socket address, 0 otherwise.
    public var port: Int { json?.field("socket_address")?.field("port_value")?.integer ?? 0 }

    public var isSocket: Bool { json?.field("socket_address") != nil }
    public var pipePath: String? { json?.field("pipe")?.text("path") }

    /// `envoy://listener/endpoint-id` for an Envoy internal address.
    public var internalAddress: String? {
        guard let internalAddress = json?.field("envoy_internal_address") else { return nil }
        guard let listener = internalAddress.field("server_listener_name")?.string else { return nil }
        return "envoy://\(listener)/\(internalAddress.text("endpoint_id"))"
    }
}

/// One filter chain: its match and its network filters.
public struct FilterChain: Sendable {
    public let json: JSONValue

    public init(json: JSONValue) { self.json = json }

    public var name: String { json.text("name") }
    public var filters: [Filter] { json.items("filters").map(Filter.init) }
    public var match: JSONValue { json.field("filter_chain_match") ?? .object([]) }
}

/// A network filter with its typed configuration.
public struct Filter: Sendable {
    public static let httpConnectionManager = "envoy.filters.network.http_connection_manager"
    public static let tcpProxy = "envoy.filters.network.tcp_proxy"

    public let json: JSONValue

    public init(json: JSONValue) { self.json = json }

    public var name: String { json.text("name") }
    public var typedConfig: JSONValue? { json.field("typed_config") }

    /// A TCP proxy whose configuration mentions the black hole cluster.
    public var isBlackHole: Bool { typedConfig.map { $0.serialized.contains("BlackHoleCluster") } ?? false }

    /// The HTTP connection manager's inline route configuration.
    public var inlineRoutes: RouteConfiguration? { typedConfig?.field("route_config").map(RouteConfiguration.init) }

    /// The name of the route configuration the HTTP connection manager reads over RDS.
    public var rdsRouteName: String? { typedConfig?.field("rds")?.field("route_config_name")?.string }

    /// The cluster a TCP proxy sends to ("" with weighted clusters).
    public var tcpCluster: String { typedConfig?.text("cluster") ?? "" }
}
