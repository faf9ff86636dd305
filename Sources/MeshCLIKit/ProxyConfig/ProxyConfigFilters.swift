import EnvoyConfig

/// `proxy-config cluster --fqdn --port --subset --direction`: each a substring of the cluster's name.
struct ClusterFilter {
    var fqdn = ""
    var port = 0
    var subset = ""
    var direction = ""

    func accepts(_ cluster: Cluster) -> Bool {
        let name = cluster.name
        if !fqdn.isEmpty && !name.contains(fqdn) { return false }
        if !direction.isEmpty && !name.contains(direction) { return false }
        if !subset.isEmpty && !name.contains(subset) { return false }
        if port != 0 && !name.contains("|\(port)|") { return false }
        return true
    }
}

/// `proxy-config listener --address --port --type`.
struct ListenerFilter {
    var address = ""
    var port = 0
    var type = ""
    /// MATCH and DESTINATION columns (istioctl's --verbose, on by default) instead of TYPE.
    var verbose = true

    func accepts(_ listener: Listener) -> Bool {
        if !address.isEmpty {
            let addresses = listener.additionalAddresses + [listener.address.host]
            if !addresses.contains(where: { $0.lowercased() == address.lowercased() }) { return false }
        }
        if port != 0 && listener.address.port != port { return false }
        if !type.isEmpty && listener.protocolType.lowercased() != type.lowercased() { return false }
        return true
    }
}

/// `proxy-config route --name`.
struct RouteFilter {
    var name = ""
    var verbose = true

    func accepts(_ routes: RouteConfiguration) -> Bool { name.isEmpty || routes.name == name }
}

/// `proxy-config endpoint --address --port --cluster --status` (case-insensitive except the port).
struct EndpointFilter {
    var address = ""
    var port = 0
    var cluster = ""
    var status = ""

    func accepts(_ host: HostStatus, cluster clusterName: String) -> Bool {
        if !address.isEmpty && host.host.lowercased() != address.lowercased() { return false }
        if port != 0 && host.port != port { return false }
        if !cluster.isEmpty && clusterName.lowercased() != cluster.lowercased() { return false }
        if !status.isEmpty && host.healthStatus.lowercased() != status.lowercased() { return false }
        return true
    }

    /// The same filters on a load assignment's endpoint (`--address` is `ip:port` there, as istioctl compares it).
    func accepts(_ endpoint: LbEndpoint, cluster clusterName: String) -> Bool {
        if !address.isEmpty && !endpoint.addressTexts.contains(where: { $0.lowercased() == address.lowercased() }) { return false }
        if port != 0 && endpoint.port != port { return false }
        if !cluster.isEmpty && clusterName.lowercased() != cluster.lowercased() { return false }
        if !status.isEmpty && endpoint.healthStatus.lowercased() != status.lowercased() { return false }
        return true
    }
}
