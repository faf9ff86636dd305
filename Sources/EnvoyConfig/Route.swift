import ConfigValues

/// A route configuration (`envoy.config.route.v3.RouteConfiguration`): virtual hosts and their routes.
public struct RouteConfiguration: Sendable {
    public let json: JSONValue

    public init(json: JSONValue) { self.json = json }

    public var name: String { json.text("name") }
    public var virtualHosts: [VirtualHost] { json.items("virtual_hosts").map(VirtualHost.init) }
}

public struct VirtualHost: Sendable {
    public let json: JSONValue

    public init(json: JSONValue) { self.json = json }

    public var name: String { json.text("name") }
    public var domains: [String] { json.items("domains").compactMap(\.string) }
    public var routes: [Route] { json.items("routes").map(Route.init) }

    /// The DOMAINS column: one domain as it is; otherwise those without a port (IPv6 in brackets kept), short
    /// Kubernetes names preferred over their `.svc` and `.svc.cluster.local` forms, at most two and "+ N more...".
    public static func describeDomains(_ domains: [String]) -> String {
        if domains.count <= 1 { return domains.first ?? "" }
        let withoutPort = domains.filter { domain in
            let colons = domain.filter { $0 == ":" }.count
            return colons == 0 || (colons > 2 && domain.hasSuffix("]"))
        }
        let present = Set(withoutPort)
        let kept = withoutPort.filter { domain in
            for suffix in [".svc.cluster.local", ".svc"] where domain.hasSuffix(suffix) {
                if present.contains(String(domain.dropLast(suffix.count))) { return false }
            }
            return true
        }
        if kept.count > 2 { return kept.prefix(2).joined(separator: ", ") + " + \(kept.count - 2) more..." }
        return kept.joined(separator: ", ")
    }
}

public struct Route: Sendable {
    public let json: JSONValue

    public init(json: JSONValue) { self.json = json }

    public var name: String { json.text("name") }
    public var match: JSONValue { json.field("match") ?? .object([]) }

    /// The single cluster of a `route` action; nil for weighted clusters, redirects and direct responses.
    public var cluster: String? { json.field("route")?.field("cluster")?.string }

    /// The VirtualService that made it (`reviews.default`), from Istio's metadata.
    public var managedBy: String { IstioConfigPath.describe(json.field("metadata")) }

    /// The match in short: `/prefix*`, `PathPrefix:/p`, an exact path, `regex ...`, joined by spaces.
    public var matchDescription: String {
        var conditions: [String] = []
        if let prefix = match.field("prefix")?.string, !prefix.isEmpty { conditions.append(prefix + "*") }
        if let prefix = match.field("path_separated_prefix")?.string, !prefix.isEmpty { conditions.append("PathPrefix:" + prefix) }
        if let path = match.field("path")?.string, !path.isEmpty { conditions.append(path) }
        if let regex = match.field("safe_regex") { conditions.append("regex " + regex.text("regex")) }
        return conditions.joined(separator: " ")
    }
}

extension ConfigDump {
    /// The Istio object (`/apis/networking.istio.io/v1alpha3/namespaces/NS/virtual-service/NAME`) behind the route that
    /// sends a Service's port traffic, read from the RDS route configurations named for the port (or `http.`/`https.`
    /// gateway routes); "" when no route names it.
    public func virtualServicePath(service: String, namespace: String, port: Int) -> String {
        guard let dump = section("envoy.admin.v3.RoutesConfigDump") else { return "" }
        let host = "\(service).\(namespace).svc.cluster.local"
        for entry in dump.items("dynamic_route_configs") {
            guard let routes = entry.field("route_config").map(RouteConfiguration.init),
                  routes.name == String(port) || routes.name.hasPrefix("http.") || routes.name.hasPrefix("https.") else { continue }
            for virtualHost in routes.virtualHosts {
                let named = virtualHost.domains.contains { $0 == host || $0.hasPrefix(host + ":") }
                for route in virtualHost.routes {
                    let cluster = route.cluster ?? route.json.field("route")?.field("weighted_clusters")?.items("clusters").first?.text("name") ?? ""
                    guard named || SubsetKey(cluster).map({ $0.host == host && $0.port == port }) == true else { continue }
                    return route.json.field("metadata")?.field("filter_metadata")?["istio"]?["config"]?.string ?? ""
                }
            }
        }
        return ""
    }

    /// The path of the DestinationRule Istio applied to the outbound cluster of `service`'s `port`
    /// (`outbound|9080||productpage.default.svc.cluster.local`), from the cluster's `filter_metadata.istio.config`;
    /// "" when no cluster of the dump carries one (or the dump has no clusters).
    public func destinationRulePath(service: String, namespace: String, port: Int) -> String {
        guard let dump = section("envoy.admin.v3.ClustersConfigDump") else { return "" }
        let host = "\(service).\(namespace).svc.cluster.local"
        for entry in dump.items("dynamic_active_clusters") {
            guard let cluster = entry.field("cluster").map(Cluster.init),
                  let key = cluster.subsetKey, key.direction == "outbound", key.port == port, key.host == host else { continue }
            return cluster.json.field("metadata")?.field("filter_metadata")?["istio"]?["config"]?.string ?? ""
        }
        return ""
    }

    /// `(name, namespace)` of an Istio object path of `kind` (`virtual-service`, `destination-rule`):
    /// `/apis/networking.istio.io/v1/namespaces/default/virtual-service/reviews` (also `networking` and v1alpha3).
    public static func objectReference(_ path: String, kind: String) -> (name: String, namespace: String)? {
        let pieces = path.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard pieces.count == 8, pieces[0].isEmpty, pieces[1] == "apis", ["networking", "networking.istio.io"].contains(pieces[2]),
              pieces[3].hasPrefix("v1"), pieces[4] == "namespaces", pieces[6] == kind, !pieces[5].isEmpty, !pieces[7].isEmpty else { return nil }
        return (pieces[7], pieces[5])
    }
}
