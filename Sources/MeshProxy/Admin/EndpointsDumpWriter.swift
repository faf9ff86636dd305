import ConfigValues

/// `config_dump?include_eds`'s `static_endpoint_configs` as Envoy makes them: from each cluster's hosts now (a DNS
/// cluster's resolved addresses with their `hostname`), grouped by priority and locality, with the assignment
/// policy's `overprovisioning_factor`; ejected hosts say `UNHEALTHY`.
enum EndpointsDumpWriter {
    static func staticEndpointConfig(_ cluster: UpstreamCluster) -> JSONValue {
        let config = cluster.config
        let dns = config.kind == .strictDNS || config.kind == .logicalDNS
        var groups: [(priority: Int, locality: LocalityKey, weight: Int, hosts: [JSONValue])] = []
        let present = cluster.presentHosts.sorted { $0.endpoint.priority < $1.endpoint.priority }
        for (index, endpoint) in present {
            var inner: [(key: String, value: JSONValue)] = [("address", ConfigDumpWriter.socketAddress(endpoint.address)), ("health_check_config", .object([]))]
            if !endpoint.hostname.isEmpty { inner.append(("hostname", .string(endpoint.hostname))) }
            var host: [(key: String, value: JSONValue)] = [("endpoint", .object(inner)),
                                                           ("health_status", .string(cluster.isEjected(index) ? "UNHEALTHY" : "HEALTHY"))]
            if !endpoint.transportSocketMetadata.isEmpty {
                let match = endpoint.transportSocketMetadata.keys.sorted().map { (key: $0, value: JSONValue.string(endpoint.transportSocketMetadata[$0]!)) }
                host.append(("metadata", .object([("filter_metadata", .object([("envoy.transport_socket_match", .object(match))]))])))
            } else if dns {
                host.append(("metadata", .object([])))
            }
            host.append(("load_balancing_weight", .int(endpoint.weight)))
            let key = LocalityKey(endpoint)
            if let group = groups.firstIndex(where: { $0.priority == endpoint.priority && $0.locality == key }) {
                groups[group].hosts.append(.object(host))
            } else {
                groups.append((endpoint.priority, key, endpoint.localityWeight, [.object(host)]))
            }
        }
        let endpoints = groups.map { group -> JSONValue in
            var locality: [(key: String, value: JSONValue)] = []
            if !group.locality.region.isEmpty { locality.append(("region", .string(group.locality.region))) }
            if !group.locality.zone.isEmpty { locality.append(("zone", .string(group.locality.zone))) }
            if !group.locality.subZone.isEmpty { locality.append(("sub_zone", .string(group.locality.subZone))) }
            var fields: [(key: String, value: JSONValue)] = [("locality", .object(locality)), ("lb_endpoints", .array(group.hosts)),
                                                             ("load_balancing_weight", .int(group.weight))]
            if group.priority > 0 { fields.append(("priority", .int(group.priority))) }
            return .object(fields)
        }
        return .object([("endpoint_config", .object([
            ("@type", .string("type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment")),
            ("cluster_name", .string(config.name)), ("endpoints", .array(endpoints)),
            ("policy", .object([("overprovisioning_factor", .int(config.assignmentPolicy.overprovisioningFactor))])),
        ]))])
    }
}
