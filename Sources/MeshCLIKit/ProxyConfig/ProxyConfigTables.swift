import EnvoyConfig
import Foundation
import Manifests

/// The `-o short` tables of `proxy-config`, in istioctl's columns and order. With `kinds` (what `proxy-config all`
/// prints) each row's name is prefixed with its kind: `cluster/`, `listener/`, `route/`, `secret/`, `endpoint/`.
struct ProxyConfigTables {
    var kinds = false

    // MARK: Bootstrap

    func bootstrap(_ dump: ConfigDump) throws -> String {
        let bootstrap = try dump.bootstrap()
        var table = ColumnWriter(padding: 1)
        if !bootstrap.istioVersion.isEmpty { table.append(["Istio Version:", bootstrap.istioVersion]) }
        if !bootstrap.istioProxyVersion.isEmpty { table.append(["Istio Proxy Version:", bootstrap.istioProxyVersion]) }
        table.append(["Envoy Version:", bootstrap.envoyVersion])
        return table.render()
    }

    // MARK: Clusters

    /// Clusters by host, subset, port and direction.
    static func sortedClusters(_ dump: ConfigDump) throws -> [Cluster] {
        let clusters = try dump.clusters()
        guard !clusters.isEmpty else { throw CommandFailure("no clusters found") }
        return clusters.enumerated().sorted { a, b in
            if SubsetKey.areInOrder(a.element.name, b.element.name) { return true }
            if SubsetKey.areInOrder(b.element.name, a.element.name) { return false }
            return a.offset < b.offset
        }.map(\.element)
    }

    func clusters(_ dump: ConfigDump, _ filter: ClusterFilter) throws -> String {
        var table = ColumnWriter(padding: 5)
        table.append((kinds ? ["NAME"] : []) + ["SERVICE FQDN", "PORT", "SUBSET", "DIRECTION", "TYPE", "DESTINATION RULE"])
        for cluster in try Self.sortedClusters(dump) where filter.accepts(cluster) {
            if let key = cluster.subsetKey {
                table.append((kinds ? ["cluster/" + cluster.name] : [])
                             + [key.host, String(key.port), key.subset.isEmpty ? "-" : key.subset, key.direction, cluster.discoveryType, cluster.managedBy])
            } else if kinds && !cluster.name.isEmpty {
                // istioctl shows the prefixed name in the FQDN column too.
                let name = "cluster/" + cluster.name
                table.append([name, name, "-", "-", "-", cluster.discoveryType, cluster.managedBy])
            } else {
                table.append([cluster.name, "-", "-", "-", cluster.discoveryType, cluster.managedBy])
            }
        }
        return table.render()
    }

    // MARK: Listeners

    static func sortedListeners(_ dump: ConfigDump) throws -> [Listener] {
        let listeners = try dump.listeners()
        guard !listeners.isEmpty else { throw CommandFailure("no listeners found") }
        return listeners
    }

    /// istioctl's listener order: by port, address, then type, else as in the dump; `internalByName` orders two
    /// internal listeners by name (the waypoint view).
    static func inListenerOrder(_ listeners: [Listener], internalByName: Bool = false) -> [Listener] {
        listeners.enumerated().sorted { a, b in
            let x = a.element, y = b.element
            if internalByName && x.isInternal && y.isInternal { return x.name < y.name }
            if x.address.port != y.address.port { return x.address.port < y.address.port }
            if x.address.host != y.address.host { return x.address.host < y.address.host }
            if x.protocolType != y.protocolType { return x.protocolType < y.protocolType }
            return a.offset < b.offset
        }.map(\.element)
    }

    func listeners(_ dump: ConfigDump, _ filter: ListenerFilter) throws -> String {
        let listeners = Self.inListenerOrder(try Self.sortedListeners(dump).filter(filter.accepts))
        var table = ColumnWriter(padding: 1)
        table.append((kinds ? ["NAME"] : []) + ["ADDRESSES", "PORT"] + (filter.verbose ? ["MATCH", "DESTINATION"] : ["TYPE"]))
        for listener in listeners {
            let addresses = ([listener.address.host] + listener.additionalAddresses).joined(separator: ",")
            let lead = (kinds ? ["listener/" + listener.name] : []) + [addresses, String(listener.address.port)]
            guard filter.verbose else {
                table.append(lead + [listener.protocolType])
                continue
            }
            let chains = listener.filterChains.map { (match: ListenerDescriptions.match($0.match), destination: ListenerDescriptions.destination($0.filters)) }
            for chain in chains.enumerated().sorted(by: { a, b in
                a.element.destination != b.element.destination ? a.element.destination > b.element.destination : a.offset < b.offset
            }).map(\.element) {
                table.append(lead + [chain.match, chain.destination])
            }
        }
        return table.render()
    }

    // MARK: Routes

    static func sortedRoutes(_ dump: ConfigDump) throws -> [RouteConfiguration] {
        let routes = try dump.routeConfigurations()
        guard !routes.isEmpty else { throw CommandFailure("no routes found") }
        // Numeric names (RDS per port: "80", "9080") in numeric order; istioctl leaves the others where they are.
        return routes.enumerated().sorted { a, b in
            if let x = Int(a.element.name), let y = Int(b.element.name), x != y { return x < y }
            return a.offset < b.offset
        }.map(\.element)
    }

    func routes(_ dump: ConfigDump, _ filter: RouteFilter) throws -> String {
        var table = ColumnWriter(padding: 5)
        table.append(filter.verbose ? ["NAME", "VHOST NAME", "DOMAINS", "MATCH", "VIRTUAL SERVICE"] : ["NAME", "VIRTUAL HOSTS"])
        for routes in try Self.sortedRoutes(dump) where filter.accepts(routes) {
            let name = kinds ? "route/" + routes.name : routes.name
            guard filter.verbose else {
                table.append([name, String(routes.virtualHosts.count)])
                continue
            }
            for host in routes.virtualHosts {
                for route in host.routes where route.cluster != "PassthroughCluster" {
                    table.append([name, host.name, VirtualHost.describeDomains(host.domains), route.matchDescription, route.managedBy])
                }
                if host.routes.isEmpty {
                    table.append([name, host.name, VirtualHost.describeDomains(host.domains), "/*", "404"])
                }
            }
        }
        return table.render()
    }

    // MARK: Secrets

    func secrets(_ dump: ConfigDump, now: Int64 = Int64(Date().timeIntervalSince1970)) throws -> String {
        let secrets = try dump.secrets()
        guard !secrets.isEmpty else { return "No active or warming secrets found.\n" }
        var rows: [(name: String, type: String, state: String, valid: Bool, serial: String, notAfter: String, notBefore: String, domain: String)] = []
        for secret in secrets {
            for certificate in secret.certificates {
                let facts = certificate.pem.flatMap { try? CertificateFacts(pem: $0) }
                rows.append((secret.name, facts.map { $0.isCA ? "CA" : "Cert Chain" } ?? "", secret.state.rawValue, facts?.isValid(at: now) ?? false,
                             facts?.serialNumber ?? "", facts.map { CertificateFacts.timestamp($0.notAfter) } ?? "",
                             facts.map { CertificateFacts.timestamp($0.notBefore) } ?? "",
                             certificate.trustDomain.isEmpty ? (facts?.trustDomain ?? "") : certificate.trustDomain))
            }
        }
        let withDomains = rows.allSatisfy { !$0.domain.isEmpty }
        var table = ColumnWriter(padding: 5)
        table.append(["RESOURCE NAME", "TYPE", "STATUS", "VALID CERT", "SERIAL NUMBER", "NOT AFTER", "NOT BEFORE"] + (withDomains ? ["TRUST DOMAIN"] : []))
        for row in rows {
            table.append([kinds ? "secret/" + row.name : row.name, row.type, row.state, String(row.valid), row.serial, row.notAfter, row.notBefore]
                         + (withDomains ? [row.domain] : []))
        }
        return table.render()
    }

    // MARK: Endpoints

    /// Load assignments from a config dump with `?include_eds`, filtered, in cluster order.
    static func loadAssignments(_ dump: ConfigDump, _ filter: EndpointFilter) -> [LoadAssignment] {
        dump.loadAssignments().compactMap { assignment in assignment.filtered { filter.accepts($0, cluster: assignment.clusterName) } }
            .enumerated().sorted { a, b in
                if SubsetKey.areInOrder(a.element.clusterName, b.element.clusterName) { return true }
                if SubsetKey.areInOrder(b.element.clusterName, a.element.clusterName) { return false }
                return a.offset < b.offset
            }.map(\.element)
    }

    /// The endpoints of the config dump's load assignments (`proxy-config eds`, and the last table of `all`).
    func loadAssignmentEndpoints(_ dump: ConfigDump, _ filter: EndpointFilter) -> String {
        var table = ColumnWriter(padding: 5)
        table.append(["NAME", "STATUS", "LOCALITY", "CLUSTER"])
        for assignment in Self.loadAssignments(dump, filter) {
            for group in assignment.localities {
                for endpoint in group.endpoints {
                    let address = endpoint.addressTexts.joined(separator: ",")
                    table.append([kinds ? "endpoint/" + address : address, endpoint.healthStatus, group.locality, assignment.clusterName])
                }
            }
        }
        return table.render()
    }

    /// The hosts of `/clusters?format=json` (`proxy-config endpoint`), by address, port and cluster.
    func hostEndpoints(_ statuses: ClusterStatuses, _ filter: EndpointFilter) -> String {
        var rows: [(host: HostStatus, cluster: String)] = []
        for cluster in statuses.clusters {
            for host in cluster.hosts where filter.accepts(host, cluster: cluster.name) { rows.append((host, cluster.name)) }
        }
        rows.sort { a, b in
            if a.host.host != b.host.host { return a.host.host < b.host.host }
            if a.host.port != b.host.port { return a.host.port < b.host.port }
            return a.cluster < b.cluster
        }
        var table = ColumnWriter(padding: 5)
        table.append(["ENDPOINT", "STATUS", "OUTLIER CHECK", "CLUSTER"])
        for row in rows { table.append([row.host.endpoint, row.host.healthStatus, row.host.failedOutlierCheck ? "FAILED" : "OK", row.cluster]) }
        return table.render()
    }

    // MARK: Extension configurations

    func extensionConfigs(_ dump: ConfigDump) throws -> String {
        let configs = try dump.extensionConfigs().map { config in
            (name: config.field("name")?.string ?? "", type: config.field("typed_config")?.typeURL ?? "")
        }.sorted { $0.type != $1.type ? $0.type < $1.type : $0.name < $1.name }
        var table = ColumnWriter(padding: 5)
        table.append(["ECDS NAME", "TYPE"])
        for config in configs {
            table.append([config.name, config.type.hasPrefix("type.googleapis.com/") ? String(config.type.dropFirst("type.googleapis.com/".count)) : config.type])
        }
        return table.render()
    }

    // MARK: All

    /// Bootstrap, clusters, listeners, routes, secrets and endpoints, each table after a blank line; with
    /// `headers` each under a `------ CLUSTER INFO ------` title.
    func all(_ dump: ConfigDump, clusters clusterFilter: ClusterFilter, listeners listenerFilter: ListenerFilter,
             routes routeFilter: RouteFilter, endpoints endpointFilter: EndpointFilter, headers: Bool) throws -> String {
        func title(_ text: String) -> String { headers ? "------ \(text) ------\n\n" : "" }
        var text = title("BOOTSTRAP INFO") + (try bootstrap(dump)) + "\n"
        text += title("CLUSTER INFO") + (try clusters(dump, clusterFilter)) + "\n"
        text += title("LISTENER INFO") + (try listeners(dump, listenerFilter)) + "\n"
        text += title("ROUTE INFO") + (try routes(dump, routeFilter)) + "\n"
        text += title("SECRET INFO") + (try secrets(dump)) + "\n"
        text += title("ENDPOINTS INFO") + loadAssignmentEndpoints(dump, endpointFilter)
        return text
    }
}
