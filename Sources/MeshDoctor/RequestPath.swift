import EnvoyConfig
import Manifests

/// The way one request took through the captured proxy, hop by hop: listener, route, cluster, endpoints and their
/// health, pool, TLS, then the destination's Service, pods, sidecar and policy. Each hop records what it checked.
struct RequestPath {
    let line: Evidence.LogLine
    let evidence: Evidence
    var entry: AccessLogEntry { line.entry }

    /// The captured proxy: its namespace and pod labels (from the bootstrap's node metadata).
    var proxyNamespace = ""
    var proxyLabels: [String: String] = [:]
    var proxyIsGateway = false
    /// The captured proxy's workload (node metadata `WORKLOAD_NAME`, as the injector sets it) and whether it takes
    /// HTTP/1.0 (`HTTP10` is "1").
    var proxyWorkloadName = ""
    var proxyTakesHTTP10 = false

    var clusterName: String { entry.upstreamCluster }
    var key: SubsetKey?
    var isInbound: Bool { clusterName.hasPrefix("inbound|") }
    /// The destination host (FQDN) of an outbound request, from the cluster name or the authority.
    var destinationHost = ""
    var port = 0
    var service: MeshObject?
    var servicePort: JSONValue?
    var cluster: Cluster?
    var routeConfiguration: RouteConfiguration?
    var virtualHost: VirtualHost?
    var route: Route?
    var subsetLabels: [String: String] = [:]
    /// The workloads behind the destination (the Service's selector, the subset's labels); for an inbound request,
    /// the captured workload.
    var backends: [MeshWorkload] = []
    var hosts: [HostStatus]?
    var checked: [String] = []

    init(_ line: Evidence.LogLine, evidence: Evidence) {
        self.line = line
        self.evidence = evidence
        identifyProxy()
        findDestination()
        walkListenerAndRoute()
        walkCluster()
        walkDestination()
    }

    // MARK: Facts

    func stat(_ suffix: String, cluster name: String? = nil) -> Int? {
        let name = name ?? clusterName
        return evidence.stats?.number("cluster.\(name);.\(suffix)") ?? evidence.stats?.number("cluster.\(name).\(suffix)")
    }

    /// `cluster.NAME;.suffix: value` as evidence, or nil when the stat is absent.
    func statLine(_ suffix: String, cluster name: String? = nil) -> String? {
        stat(suffix, cluster: name).map { "stats.txt: cluster.\(name ?? clusterName);.\(suffix): \($0)" }
    }

    var destinationRule: MeshObject? { destinationHost.isEmpty ? nil : evidence.objects.destinationRule(host: destinationHost) }
    /// The VirtualServices behind the request: the one the matched route names in its metadata (a gateway's route
    /// too), then those for the destination host, then those for the authority's host.
    var virtualServices: [MeshObject] {
        var found: [MeshObject] = []
        let objects = evidence.objects
        let managedBy = route?.managedBy ?? ""
        if let dot = managedBy.lastIndex(of: ".") {
            let (name, namespace) = (String(managedBy[..<dot]), String(managedBy[managedBy.index(after: dot)...]))
            found += objects.all("VirtualService").filter { $0.name == name && $0.namespace == namespace }
        }
        if !destinationHost.isEmpty { found += objects.virtualServices(host: destinationHost) }
        let authorityHost = MeshObjects.withoutPort(entry.authority)
        if !authorityHost.isEmpty { found += objects.virtualServices(host: MeshObjects.fqdn(authorityHost, namespace: proxyNamespace)) }
        var seen = Set<String>()
        return found.filter { seen.insert("\($0.namespace)/\($0.name)").inserted }
    }

    /// The captured workload, when the objects hold it.
    var proxyWorkload: MeshWorkload? {
        guard !proxyLabels.isEmpty else { return nil }
        return evidence.objects.workloads(namespace: proxyNamespace, matching: proxyLabels.filter { !$0.key.contains("istio.io") }).first
    }

    /// The Service port's targetPort (a number or a name), defaulting to the port.
    var targetPort: String {
        guard let servicePort else { return String(port) }
        if let number = servicePort["targetPort"]?.int { return String(number) }
        return servicePort["targetPort"]?.string ?? String(servicePort["port"]?.int ?? port)
    }

    // MARK: Hops

    private mutating func identifyProxy() {
        guard let bootstrap = try? evidence.configDump?.bootstrap() else { return }
        let metadata = bootstrap.json.field("node")?.field("metadata")
        proxyNamespace = metadata?["NAMESPACE"]?.string ?? ""
        proxyLabels = metadata?["LABELS"]?.stringMap ?? [:]
        proxyWorkloadName = metadata?["WORKLOAD_NAME"]?.string ?? ""
        proxyTakesHTTP10 = metadata?["HTTP10"]?.string == "1"
        proxyIsGateway = bootstrap.nodeID.hasPrefix("router~")
        if proxyNamespace.isEmpty {
            let parts = bootstrap.nodeID.split(separator: "~")
            if parts.count == 4 { proxyNamespace = parts[3].split(separator: ".").first.map(String.init) ?? "" }
        }
    }

    private mutating func findDestination() {
        key = SubsetKey(clusterName)
        let authorityPort = entry.authority.split(separator: ":").last.flatMap { Int($0) }
        if let key, key.direction == "outbound" {
            destinationHost = key.host
            port = key.port
        } else if isInbound {
            port = key?.port ?? 0
        } else if !entry.authority.isEmpty {
            let (name, namespace) = MeshObjects.serviceName(host: entry.authority, namespace: proxyNamespace)
            let bare = MeshObjects.withoutPort(entry.authority)
            destinationHost = evidence.objects.service(host: bare, namespace: proxyNamespace) != nil
                ? "\(name).\(namespace).svc.cluster.local" : bare
            port = authorityPort ?? 80
        }
        if !isInbound, !destinationHost.isEmpty {
            service = evidence.objects.service(host: destinationHost, namespace: proxyNamespace)
            servicePort = service?.spec["ports"]?.array?.first { $0["port"]?.int == port } ?? service?.spec["ports"]?.array?.first
        }
    }

    private mutating func walkListenerAndRoute() {
        let request = "\(entry.method) \(entry.path) (authority \(entry.authority.isEmpty ? "-" : entry.authority))"
        if isInbound {
            checked.append("listener: the request \(request) came in through the inbound side (cluster \(clusterName)); SNI \(entry.requestedServerName.isEmpty ? "none (plaintext)" : entry.requestedServerName)")
            return
        }
        guard let dump = evidence.configDump else {
            checked.append("listener and route: no config_dump.json, so the route of \(request) was not looked up")
            return
        }
        let listeners = (try? dump.listeners()) ?? []
        let listenerName = "0.0.0.0_\(port)"
        if let listener = listeners.first(where: { $0.name == listenerName }) {
            checked.append("listener: \(listener.name) (outbound port \(port)) exists for \(request)")
        } else if port != 0 {
            checked.append("listener: no listener \(listenerName); the request would go through virtualOutbound")
        }
        let configs = (try? dump.routeConfigurations()) ?? []
        let hostOnly = MeshObjects.withoutPort(entry.authority)
        routeConfiguration = configs.first { $0.name == String(port) } ?? configs.first { $0.name.hasSuffix(".\(port)") }
            ?? configs.first { config in config.virtualHosts.contains { $0.domains.contains(entry.authority) || $0.domains.contains(hostOnly) } }
        guard let routeConfiguration else {
            checked.append("route: no route configuration \"\(port)\" in config_dump.json")
            return
        }
        let hosts = routeConfiguration.virtualHosts
        virtualHost = hosts.first { $0.domains.contains(entry.authority) || $0.domains.contains(hostOnly) }
            ?? hosts.first { $0.domains.contains("*") }
        guard let virtualHost else {
            checked.append("route: route configuration \(routeConfiguration.name) has no virtual host for \(entry.authority)")
            return
        }
        route = virtualHost.routes.first { !entry.routeName.isEmpty && $0.name == entry.routeName }
            ?? virtualHost.routes.first { Self.pathMatches($0, entry.path) }
        if let route {
            let target = route.cluster ?? (route.json.field("direct_response") != nil ? "a direct response" : "weighted clusters")
            checked.append("route: route configuration \(routeConfiguration.name), virtual host \(virtualHost.name), route \(route.name.isEmpty ? "(unnamed)" : route.name) (\(route.matchDescription)) -> \(target)"
                + (route.managedBy.isEmpty ? "" : ", from \(route.managedBy)"))
            if destinationHost.isEmpty, let cluster = route.cluster, let key = SubsetKey(cluster) { destinationHost = key.host }
        } else {
            checked.append("route: virtual host \(virtualHost.name) has no route matching \(entry.path) (routes: \(virtualHost.routes.map { $0.matchDescription }.joined(separator: ", ")))")
        }
    }

    /// Whether a route's path match takes the path (prefix, exact path, or anything else taken as a match).
    static func pathMatches(_ route: Route, _ path: String) -> Bool {
        let bare = path.split(separator: "?", maxSplits: 1).first.map(String.init) ?? path
        if let prefix = route.match.field("prefix")?.string { return bare.hasPrefix(prefix) }
        if let exact = route.match.field("path")?.string { return bare == exact }
        return route.match.field("safe_regex") != nil
    }

    private mutating func walkCluster() {
        guard !clusterName.isEmpty else {
            checked.append("cluster: the log names no upstream cluster (the request never left the proxy)")
            return
        }
        cluster = (try? evidence.configDump?.clusters())?.first { $0.name == clusterName }
        if let cluster {
            var facts = ["\(cluster.discoveryType)"]
            if let thresholds = cluster.json.field("circuit_breakers")?.items("thresholds").first {
                let limits = ["max_connections", "max_pending_requests", "max_requests"].compactMap { name in
                    thresholds.field(name)?.wrappedInteger.map { "\(name) \($0)" }
                }
                if !limits.isEmpty { facts.append("circuit breakers " + limits.joined(separator: ", ")) }
            }
            if cluster.json.field("outlier_detection") != nil { facts.append("outlier detection on") }
            facts.append("TLS: \(tlsDescription)")
            checked.append("cluster: \(clusterName) exists (\(facts.joined(separator: "; ")))")
        } else if evidence.configDump != nil {
            checked.append("cluster: \(clusterName) is not among the proxy's clusters")
        }
        hosts = evidence.clusterStatuses?.clusters.first { $0.name == clusterName }?.hosts
        var health: [String] = []
        if let hosts {
            let ejected = hosts.filter(\.failedOutlierCheck).count
            health.append("/clusters: \(hosts.count) host(s)\(hosts.isEmpty ? "" : " (\(hosts.map { "\($0.endpoint) \($0.healthStatus)\($0.failedOutlierCheck ? " failed_outlier_check" : "")" }.joined(separator: ", ")))"), \(ejected) ejected")
        }
        for name in ["membership_total", "membership_healthy"] {
            if let value = stat(name) { health.append("\(name) \(value)") }
        }
        if !health.isEmpty { checked.append("endpoints: " + health.joined(separator: ", ")) }
        let pool = ["upstream_rq_pending_overflow", "upstream_cx_overflow", "upstream_rq_retry_overflow", "upstream_cx_connect_fail",
                    "upstream_cx_destroy_remote_with_active_rq", "upstream_rq_timeout", "outlier_detection.ejections_active"]
            .compactMap { name in stat(name).map { "\(name) \($0)" } }
        if !pool.isEmpty { checked.append("pool and outlier state: " + pool.joined(separator: ", ")) }
    }

    /// How the cluster talks to its endpoints: Istio mTLS always, mTLS by endpoint label (auto mTLS), or plaintext.
    var tlsDescription: String {
        guard let cluster else { return "unknown (no config dump)" }
        if let socket = cluster.json.field("transport_socket"), socket.text("name").contains("tls") {
            let sni = socket.field("typed_config")?.text("sni") ?? ""
            return "always TLS\(sni.isEmpty ? "" : " (SNI \(sni))")"
        }
        if !cluster.json.items("transport_socket_matches").isEmpty { return "Istio mTLS to endpoints labelled tlsMode=istio, plaintext to others (auto mTLS)" }
        return "plaintext"
    }

    /// Whether the cluster always originates TLS (a DestinationRule tls mode ISTIO_MUTUAL, MUTUAL or SIMPLE).
    var alwaysTLS: Bool {
        cluster?.json.field("transport_socket").map { $0.text("name").contains("tls") } ?? false
    }

    /// Whether the cluster sends plaintext to every endpoint (DestinationRule tls mode DISABLE).
    var plaintextOnly: Bool {
        guard let cluster else { return false }
        return cluster.json.field("transport_socket") == nil && cluster.json.items("transport_socket_matches").isEmpty
    }

    private mutating func walkDestination() {
        let objects = evidence.objects
        if isInbound {
            if let workload = proxyWorkload {
                backends = [workload]
                let pa = objects.peerAuthentication(for: workload)
                checked.append("destination: the captured workload \(workload.object.reference); PeerAuthentication mode \(pa.mode)\(pa.object.map { " (\($0.reference))" } ?? " (default)")")
                let policies = objects.authorizationPolicies(for: workload.podLabels, namespace: workload.object.namespace)
                if !policies.isEmpty { checked.append("policy: AuthorizationPolicies for it: \(policies.map(\.reference).joined(separator: ", "))") }
                checked.append("app: container ports \(workload.containerPorts.map { "\($0.number)" }.joined(separator: ", ")); the inbound cluster connects to port \(port)")
            }
            return
        }
        guard !destinationHost.isEmpty, key?.host != nil || service != nil else { return }
        guard let service else {
            if !destinationHost.hasSuffix(".svc.cluster.local") {
                checked.append("destination: \(destinationHost) is not a Service of the evidence; ServiceEntries for it: \(objects.serviceEntries(host: destinationHost).map(\.reference).joined(separator: ", ").orNone)")
            } else {
                checked.append("destination: no Service for \(destinationHost) in the objects")
            }
            return
        }
        if let subset = key?.subset, !subset.isEmpty, let rule = destinationRule {
            subsetLabels = rule.spec["subsets"]?.array?.first { $0["name"]?.string == subset }?["labels"]?.stringMap ?? [:]
        }
        backends = objects.workloads(selectedBy: service).filter { workload in subsetLabels.allSatisfy { workload.podLabels[$0.key] == $0.value } }
        let selector = LabelSelector.text(service.spec["selector"]?.stringMap ?? [:])
        checked.append("destination: \(service.reference) port \(port) -> targetPort \(targetPort); selector \(selector.orNone)\(subsetLabels.isEmpty ? "" : " and subset labels \(LabelSelector.text(subsetLabels))") picks \(backends.isEmpty ? "no workload" : backends.map { "\($0.object.kind) \($0.object.name) (\($0.replicas) replica(s))" }.joined(separator: ", "))")
        for workload in backends {
            let sidecar = objects.whyNoSidecar(workload).map { "no sidecar: \($0)" } ?? "sidecar: yes"
            let pa = objects.peerAuthentication(for: workload)
            checked.append("destination pods of \(workload.object.kind) \(workload.object.namespace)/\(workload.object.name): \(sidecar); PeerAuthentication \(pa.mode); container ports \(workload.containerPorts.map { $0.name.isEmpty ? "\($0.number)" : "\($0.number) (\($0.name))" }.joined(separator: ", ").orNone)")
        }
        if let rule = destinationRule { checked.append("traffic policy: \(rule.reference) applies to \(destinationHost)") }
    }
}

extension String {
    var orNone: String { isEmpty ? "none" : self }
}
