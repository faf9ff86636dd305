
/// `proxy-config cluster --fqdn --port --subset --direction`: each a substring of the cluster's name.
public struct ClusterFilter {
    public var fqdn = ""
    public var port = 0
    public var subset = ""
    public var direction = ""

    public init(fqdn: String = "", port: Int = 0, subset: String = "", direction: String = "") {
        (self.fqdn, self.port, self.subset, self.direction) = (fqdn, port, subset, direction)
    }

    public func accepts(_ cluster: Cluster) -> Bool {
        let name = cluster.name
        if !fqdn.isEmpty && !name.contains(fqdn) { return false }
        if !direction.isEmpty && !name.contains(direction) { return false }
        if !subset.isEmpty && !name.contains(subset) { return false }
        if port != 0 && !name.contains("|\(port)|") { return false }
        return true
    }
}

/// `proxy-config listener --address --port --type`.
public struct ListenerFilter {
    public var address = ""
    public var port = 0
    public var type = ""
    /// MATCH and DESTINATION columns (istioctl's --verbose, on by default) instead of TYPE.
    public var verbose = true

    public init(address: String = "", port: Int = 0, type: String = "", verbose: Bool = true) {
        (self.address, self.port, self.type, self.verbose) = (address, port, type, verbose)
    }

    public func accepts(_ listener: Listener) -> Bool {
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
public struct RouteFilter {
    public var name = ""
    public var verbose = true

    public init(name: String = "", verbose: Bool = true) {
        (self.name, self.verbose) = (name, verbose)
    }

    public func accepts(_ routes: RouteConfiguration) -> Bool { name.isEmpty || routes.name == name }
}

/// `proxy-config endpoint --address --port --cluster --status` (case-insensitive except the port).
public struct EndpointFilter {
    public var address = ""
    public var port = 0
    public var cluster = ""
    public var status = ""

    public init(address: String = "", port: Int = 0, cluster: String = "", status: String = "") {
        (self.address, self.port, self.cluster, self.status) = (address, port, cluster, status)
    }

    public func accepts(_ host: HostStatus, cluster clusterName: String) -> Bool {
        if !address.isEmpty && host.host.lowercased() != address.lowercased() { return false }
        if port != 0 && host.port != port { return false }
        if !cluster.isEmpty && clusterName.lowercased() != cluster.lowercased() { return false }
        if !status.isEmpty && host.healthStatus.lowercased() != status.lowercased() { return false }
        return true
    }

    /// The same filters on a load assignment's endpoint (`--address` is `ip:port` there, as istioctl compares it).
    public func accepts(_ endpoint: LbEndpoint, cluster clusterName: String) -> Bool {
        if !address.isEmpty && !endpoint.addressTexts.contains(where: { $0.lowercased() == address.lowercased() }) { return false }
        if port != 0 && endpoint.port != port { return false }
        if !cluster.isEmpty && clusterName.lowercased() != cluster.lowercased() { return false }
        if !status.isEmpty && endpoint.healthStatus.lowercased() != status.lowercased() { return false }
        return true
    }
}
