import ConfigValues

/// A cluster's load assignment (`envoy.config.endpoint.v3.ClusterLoadAssignment`) from `/config_dump?include_eds`.
public struct LoadAssignment: Sendable {
    public var json: JSONValue

    public init(json: JSONValue) { self.json = json }

    public var clusterName: String { json.text("cluster_name") }

    /// Locality groups, each with its endpoints.
    public var localities: [LocalityEndpoints] { json.items("endpoints").map(LocalityEndpoints.init) }

    /// The assignment keeping only the endpoints `keep` accepts; nil when none is left.
    public func filtered(_ keep: (LbEndpoint) -> Bool) -> LoadAssignment? {
        var count = 0
        let groups: [JSONValue] = json.items("endpoints").map { group in
            var group = group
            let key = group["lb_endpoints"] != nil ? "lb_endpoints" : "lbEndpoints"
            let kept = group.items("lb_endpoints").filter { keep(LbEndpoint(json: $0)) }
            count += kept.count
            group[key] = .array(kept)
            return group
        }
        guard count > 0 else { return nil }
        var copy = self
        copy.json["endpoints"] = .array(groups)
        return copy
    }
}

public struct LocalityEndpoints: Sendable {
    public let json: JSONValue

    public init(json: JSONValue) { self.json = json }

    public var endpoints: [LbEndpoint] { json.items("lb_endpoints").map(LbEndpoint.init) }

    /// `region/zone/subzone`, stopping at the first empty part after the region.
    public var locality: String {
        guard let locality = json.field("locality") else { return "" }
        var text = locality.text("region")
        for part in [locality.text("zone"), locality.text("sub_zone")] {
            guard !part.isEmpty else { break }
            text += "/" + part
        }
        return text
    }
}

public struct LbEndpoint: Sendable {
    public let json: JSONValue

    public init(json: JSONValue) { self.json = json }

    /// HEALTHY, UNHEALTHY, DRAINING...; proto3 JSON leaves UNKNOWN out.
    public var healthStatus: String { json.field("health_status")?.string ?? "UNKNOWN" }

    var addresses: [SocketOrPipe] {
        let endpoint = json.field("endpoint")
        return [SocketOrPipe(endpoint?.field("address"))] + (endpoint?.items("additional_addresses") ?? []).map { SocketOrPipe($0.field("address")) }
    }

    /// `ip:port`, a pipe path or `envoy://listener/id` for each address, the main one first.
    public var addressTexts: [String] {
        addresses.map { address in
            if address.isSocket { return "\(address.host):\(address.port)" }
            if let path = address.pipePath { return path }
            return address.internalAddress ?? "unknown"
        }
    }

    public var port: Int { addresses.first?.port ?? 0 }
}
