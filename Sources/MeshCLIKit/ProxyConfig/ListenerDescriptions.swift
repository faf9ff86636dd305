import EnvoyConfig
import Manifests

/// The short texts istioctl's listener and route tables show for a filter chain match, a chain's destination and a
/// virtual host's domains.
enum ListenerDescriptions {
    /// Known ALPN lists and their names.
    static let applicationProtocolNames: [(name: String, protocols: [String])] = [
        ("App: HTTP TLS", ["http/1.0", "http/1.1", "h2c", "istio-http/1.0", "istio-http/1.1", "istio-h2"]),
        ("App: Istio HTTP Plain", ["istio", "istio-http/1.0", "istio-http/1.1", "istio-h2"]),
        ("App: TCP TLS", ["istio-peer-exchange", "istio"]),
        ("App: HTTP", ["http/1.0", "http/1.1", "h2c"]),
    ]

    /// `SNI: a,b; Trans: tls; App: HTTP; Addr: 10.0.0.0/8:80`, or `ALL` for a chain that matches everything.
    static func match(_ match: JSONValue) -> String {
        var parts: [String] = []
        let serverNames = match.field("server_names")?.array?.compactMap(\.string) ?? []
        if !serverNames.isEmpty { parts.append("SNI: " + serverNames.joined(separator: ",")) }
        if let transport = match.field("transport_protocol")?.string, !transport.isEmpty { parts.append("Trans: " + transport) }
        let protocols = match.field("application_protocols")?.array?.compactMap(\.string) ?? []
        if !protocols.isEmpty {
            parts.append(applicationProtocolNames.first { $0.protocols == protocols }?.name ?? "App: " + protocols.joined(separator: ","))
        }
        let port = match.field("destination_port")?.wrappedInteger.map { ":\($0)" } ?? ""
        let prefixes = match.field("prefix_ranges")?.array ?? []
        if !prefixes.isEmpty {
            let ranges = prefixes.map { "\($0.field("address_prefix")?.string ?? "")/\($0.field("prefix_len")?.wrappedInteger ?? 0)" }
            parts.append("Addr: " + ranges.joined(separator: ",") + port)
        } else if !port.isEmpty {
            parts.append("Addr: *" + port)
        }
        return parts.isEmpty ? "ALL" : parts.joined(separator: "; ")
    }

    /// Where a chain sends traffic: `Route: 9080` (RDS), `Inline Route: ...`, `Cluster: name`, a `...Cluster` name,
    /// or `Non-HTTP/Non-TCP`.
    static func destination(_ filters: [Filter]) -> String {
        for filter in filters {
            if filter.name == Filter.httpConnectionManager {
                if let routes = filter.inlineRoutes { return inlineRoutes(routes) }
                if let name = filter.rdsRouteName, !name.isEmpty { return "Route: " + name }
                return "HTTP"
            }
            if filter.name == Filter.tcpProxy && !filter.isBlackHole {
                let cluster = filter.tcpCluster
                return cluster.contains("Cluster") ? cluster : "Cluster: " + cluster
            }
        }
        return "Non-HTTP/Non-TCP"
    }

    /// An inline route configuration: its one catch-all cluster, or `Inline Route: domains matches; ...`.
    static func inlineRoutes(_ routes: RouteConfiguration) -> String {
        let hosts = routes.virtualHosts
        if hosts.count == 1, hosts[0].domains == ["*"], hosts[0].routes.count == 1,
           hosts[0].routes[0].match.field("prefix")?.string == "/", let cluster = hosts[0].routes[0].cluster {
            return cluster.contains("Cluster") ? cluster : "Cluster: " + cluster
        }
        let described = hosts.map { host -> String in
            let matches = host.routes.map(\.matchDescription).joined(separator: ", ")
            let domains = host.domains == ["*"] ? "" : host.domains.joined(separator: "/")
            return domains.isEmpty ? matches : "\(domains) \(matches)"
        }
        return "Inline Route: " + described.joined(separator: "; ")
    }
}
