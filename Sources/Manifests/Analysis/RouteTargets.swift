/// Where a VirtualService sends traffic: every route destination and mirror of its HTTP, TCP and TLS rules.
struct RouteTarget {
    /// The destination object; nil for a route entry that has none.
    var node: YAMLNode?
    /// The node that holds it, for locating a missing destination.
    var container: YAMLNode
    /// Whether it is a mirror (`mirror`, `mirrors[]`) rather than a route destination.
    var isMirror = false

    /// The targets of a VirtualService spec, in order.
    static func all(in spec: YAMLNode?) -> [RouteTarget] {
        var found: [RouteTarget] = []
        for section in ["http", "tcp", "tls"] {
            for route in spec?[section]?.items ?? [] {
                found += (route["route"]?.items ?? []).map { RouteTarget(node: $0["destination"], container: $0) }
                if let mirror = route["mirror"] { found.append(RouteTarget(node: mirror, container: route, isMirror: true)) }
                found += (route["mirrors"]?.items ?? []).compactMap { $0["destination"] }
                    .map { RouteTarget(node: $0, container: route, isMirror: true) }
            }
        }
        return found
    }
}
