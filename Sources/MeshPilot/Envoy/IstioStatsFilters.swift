import ConfigValues

/// Istio's stats filters, as istiod adds them to a sidecar's listeners when the mesh's metrics go to Prometheus
/// (the default): `istio.stats` (`stats.PluginConfig`) before the router of every HTTP connection manager, and
/// as a network filter before every `tcp_proxy`. Inbound listeners set `disable_host_header_fallback`.
/// Upstream Envoy does not have the filter (istio-proxy builds do), so local mode leaves it out when its
/// sidecars are Envoy (`Pilot.emitsIstioStats`).
enum IstioStatsFilters {
    typealias J = EnvoyJSON
    static let name = "istio.stats"

    static func filter(inbound: Bool) -> JSONValue {
        J.object(["name": .string(name),
                  "typed_config": J.typed("stats.PluginConfig", ["disable_host_header_fallback": inbound ? .bool(true) : nil])])
    }

    /// The listeners with the stats filters added to each chain (and default chain).
    static func add(to listeners: [JSONValue]) -> [JSONValue] {
        listeners.map { original in
            var listener = original
            let inbound = listener["traffic_direction"]?.string == "INBOUND"
            if let chains = listener["filter_chains"]?.array { listener["filter_chains"] = .array(chains.map { add(to: $0, inbound: inbound) }) }
            if let chain = listener["default_filter_chain"] { listener["default_filter_chain"] = add(to: chain, inbound: inbound) }
            return listener
        }
    }

    private static func add(to original: JSONValue, inbound: Bool) -> JSONValue {
        var chain = original
        guard var filters = chain["filters"]?.array, var last = filters.last else { return chain }
        if filters.contains(where: { $0["name"]?.string == name }) { return chain }
        switch last["name"]?.string {
        case "envoy.filters.network.tcp_proxy"?:
            filters.insert(filter(inbound: inbound), at: filters.count - 1)
        case "envoy.filters.network.http_connection_manager"?:
            guard var manager = last["typed_config"], var httpFilters = manager["http_filters"]?.array,
                  !httpFilters.contains(where: { $0["name"]?.string == name }),
                  let router = httpFilters.lastIndex(where: { $0["name"]?.string == "envoy.filters.http.router" }) else { return chain }
            httpFilters.insert(filter(inbound: inbound), at: router)
            manager["http_filters"] = .array(httpFilters)
            last["typed_config"] = manager
            filters[filters.count - 1] = last
        default:
            return chain
        }
        chain["filters"] = .array(filters)
        return chain
    }
}
