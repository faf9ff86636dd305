import ConfigValues

/// A sidecar's outbound clusters (`outbound|PORT|SUBSET|HOST`) and their ClusterLoadAssignments, with Istio's
/// defaults and the DestinationRule traffic policy applied.
struct OutboundClusters {
    let model: MeshModel
    let proxy: MeshWorkload

    typealias J = EnvoyJSON

    static func name(port: Int, subset: String? = nil, host: String) -> String { "outbound|\(port)|\(subset ?? "")|\(host)" }

    func build() -> (clusters: [JSONValue], assignments: [JSONValue]) {
        var clusters: [JSONValue] = [], assignments: [JSONValue] = []
        for service in model.visibleServices(for: proxy) {
            // A service's clusters depend on the proxy only through its namespace (which DestinationRule applies).
            let built = model.cache.value(for: "clusters|\(proxy.namespace)|\(service.namespace)|\(service.hostname)") { () -> PushCache.Entry in
                let result = build(service)
                return .clusters(result.clusters, result.assignments)
            }
            if case .clusters(let serviceClusters, let serviceAssignments) = built {
                clusters += serviceClusters
                assignments += serviceAssignments
            }
        }
        return (clusters, assignments)
    }

    private func build(_ service: MeshService) -> (clusters: [JSONValue], assignments: [JSONValue]) {
        var clusters: [JSONValue] = [], assignments: [JSONValue] = []
        let rule = model.destinationRule(for: service.hostname, serviceNamespace: service.namespace, proxyNamespace: proxy.namespace)
        for port in service.ports where port.proto != .udp {
            let all = model.endpoints(of: service, port: port.port)
            var subsets: [(name: String?, labels: [String: String])] = [(nil, [:])]
            for subset in rule?.spec["subsets"]?.array ?? [] {
                guard let name = subset["name"]?.string else { continue }
                subsets.append((name, subset["labels"]?.stringMap ?? [:]))
            }
            for subset in subsets {
                let chosen = all.filter { endpoint in subset.labels.allSatisfy { endpoint.labels[$0.key] == $0.value } }
                let name = Self.name(port: port.port, subset: subset.name, host: service.hostname)
                let policy = TrafficPolicy(rule: rule, subset: subset.name, port: port.port)
                clusters.append(cluster(name: name, service: service, port: port, subset: subset.name, rule: rule, policy: policy, endpoints: chosen))
                if service.resolution == .endpoints { assignments.append(Self.loadAssignment(name: name, endpoints: chosen)) }
            }
        }
        return (clusters, assignments)
    }

    func cluster(name: String, service: MeshService, port: ServicePort, subset: String?, rule: IstioConfig?, policy: TrafficPolicy,
                 endpoints: [ServiceEndpoint]) -> JSONValue {
        var cluster = J.object(["name": .string(name)])
        switch service.resolution {
        case .endpoints:
            cluster.set("type", .string("EDS"))
            cluster.set("eds_cluster_config", J.object(["eds_config": J.configSource, "service_name": .string(name)]))
        case .dns:
            cluster.set("type", .string("STRICT_DNS"))
            cluster.set("dns_lookup_family", .string("V4_ONLY"))
            cluster.set("load_assignment", Self.loadAssignment(name: name, endpoints: endpoints))
        case .passthrough:
            cluster.set("type", .string("ORIGINAL_DST"))
        }
        let connectTimeout = TrafficPolicy.seconds(policy.connectionPool?.value(atPath: "tcp.connectTimeout"))
            ?? TrafficPolicy.seconds(model.meshConfig["connectTimeout"]) ?? 10
        cluster.set("connect_timeout", J.duration(connectTimeout))
        LoadBalancing.apply(policy.loadBalancer, to: &cluster, passthrough: service.resolution == .passthrough)
        ConnectionPool.apply(policy.connectionPool, to: &cluster, http2: port.proto.isHTTP2)
        var common = J.object([:])
        if let outlier = policy.outlierDetection {
            cluster.set("outlier_detection", OutlierDetection.envoy(outlier))
            let minimum = outlier["minHealthPercent"]?.int ?? 0
            if (0...100).contains(minimum) { common.set("healthy_panic_threshold", minimum == 0 ? J.object([:]) : J.object(["value": .int(minimum)])) }
        }
        if service.resolution != .passthrough { cluster.set("common_lb_config", common) }
        var istio = J.object([:])
        if let rule { istio.set("config", .string(rule.metadataPath)) }
        istio.set("default_original_port", .int(port.port))
        istio.set("services", .array([J.object(["host": .string(service.hostname), "name": .string(service.name), "namespace": .string(service.namespace)])]))
        if let subset { istio.set("subset", .string(subset)) }
        cluster.set("metadata", J.object(["filter_metadata": J.object(["istio": istio])]))
        UpstreamTLS.apply(policy.tls, to: &cluster, service: service, port: port, subset: subset,
                          serviceAccounts: Set(endpoints.compactMap { endpoint in
                              endpoint.serviceAccount.map { "spiffe://\(model.domain)/ns/\(endpoint.workload?.namespace ?? service.namespace)/sa/\($0)" }
                          }).sorted(), domain: model.domain)
        return cluster
    }

    /// An EDS ClusterLoadAssignment: endpoints grouped by locality, with Istio's endpoint metadata.
    static func loadAssignment(name: String, endpoints: [ServiceEndpoint]) -> JSONValue {
        var groups: [(locality: Locality, endpoints: [ServiceEndpoint])] = []
        for endpoint in endpoints {
            if let index = groups.firstIndex(where: { $0.locality == endpoint.locality }) { groups[index].endpoints.append(endpoint) }
            else { groups.append((endpoint.locality, [endpoint])) }
        }
        let localities = groups.map { group -> JSONValue in
            var entry = J.object([:])
            if !group.locality.isEmpty {
                entry.set("locality", J.object(["region": group.locality.region.isEmpty ? nil : .string(group.locality.region),
                                                "zone": group.locality.zone.isEmpty ? nil : .string(group.locality.zone),
                                                "sub_zone": group.locality.subZone.isEmpty ? nil : .string(group.locality.subZone)]))
            }
            let weights = EnvoyJSON.boundedWeights(group.endpoints.map { min(max($0.weight, 1), EnvoyJSON.unlimited) })
            entry.set("lb_endpoints", .array(zip(group.endpoints, weights).map { endpoint, weight in
                var metadata = J.object([:])
                if endpoint.tlsMode == "istio" { metadata.set("envoy.transport_socket_match", J.object(["tlsMode": .string("istio")])) }
                if let workload = endpoint.workloadMetadata ?? endpoint.workload?.workloadMetadata {
                    metadata.set("istio", J.object(["workload": .string(workload)]))
                }
                return J.object(["endpoint": J.object(["address": J.socketAddress(endpoint.address, endpoint.port)]),
                                 "metadata": J.object(["filter_metadata": metadata]),
                                 "load_balancing_weight": .int(weight)])
            }))
            entry.set("load_balancing_weight", .int(min(weights.reduce(0, +), EnvoyJSON.unlimited)))
            return entry
        }
        return J.object(["cluster_name": .string(name), "endpoints": .array(localities)])
    }
}

/// DestinationRule `loadBalancer` -> `lb_policy` (and ring hash / maglev settings).
enum LoadBalancing {
    static func apply(_ settings: JSONValue?, to cluster: inout JSONValue, passthrough: Bool) {
        if passthrough { cluster.set("lb_policy", .string("CLUSTER_PROVIDED")); return }
        if let hash = settings?["consistentHash"] {
            if let maglev = hash["maglev"] {
                cluster.set("lb_policy", .string("MAGLEV"))
                if let size = EnvoyJSON.uint32(maglev["tableSize"]?.int) { cluster.set("maglev_lb_config", EnvoyJSON.object(["table_size": .int(size)])) }
            } else {
                cluster.set("lb_policy", .string("RING_HASH"))
                let minimum = EnvoyJSON.uint32(hash.value(atPath: "ringHash.minimumRingSize")?.int ?? hash["minimumRingSize"]?.int) ?? 1024
                cluster.set("ring_hash_lb_config", EnvoyJSON.object(["minimum_ring_size": .int(minimum)]))
            }
            return
        }
        switch settings?["simple"]?.string {
        case "ROUND_ROBIN"?: cluster.set("lb_policy", .string("ROUND_ROBIN"))
        case "RANDOM"?: cluster.set("lb_policy", .string("RANDOM"))
        default: cluster.set("lb_policy", .string("LEAST_REQUEST"))
        }
    }

    /// The route `hash_policy` a consistent-hash DestinationRule asks for, nil for other policies.
    static func hashPolicy(_ settings: JSONValue?) -> JSONValue? {
        guard let hash = settings?["consistentHash"] else { return nil }
        if let header = hash["httpHeaderName"]?.string { return EnvoyJSON.object(["header": EnvoyJSON.object(["header_name": .string(header)])]) }
        if let cookie = hash["httpCookie"] {
            return EnvoyJSON.object(["cookie": EnvoyJSON.object(["name": cookie["name"], "path": cookie["path"],
                                                                 "ttl": TrafficPolicy.seconds(cookie["ttl"]).map(EnvoyJSON.duration)])])
        }
        if hash["useSourceIp"]?.bool == true { return EnvoyJSON.object(["connection_properties": EnvoyJSON.object(["source_ip": .bool(true)])]) }
        if let name = hash["httpQueryParameterName"]?.string { return EnvoyJSON.object(["query_parameter": EnvoyJSON.object(["name": .string(name)])]) }
        return nil
    }
}

/// DestinationRule `connectionPool` -> circuit breakers and HTTP protocol options (Istio's mapping; unset limits
/// are Istio's "unlimited", UINT32_MAX).
enum ConnectionPool {
    /// Circuit breakers with every limit at Istio's "unlimited".
    static var unlimitedBreakers: JSONValue { breakers(nil) }

    static func breakers(_ pool: JSONValue?) -> JSONValue {
        // A limit Envoy cannot take (negative, over UINT32_MAX) is left at Istio's default rather than sent to be refused.
        let limit = { (path: String) -> JSONValue in .int(EnvoyJSON.uint32(pool?.value(atPath: path)?.int) ?? EnvoyJSON.unlimited) }
        return EnvoyJSON.object(["thresholds": .array([EnvoyJSON.object([
            "max_connections": limit("tcp.maxConnections"), "max_pending_requests": limit("http.http1MaxPendingRequests"),
            "max_requests": limit("http.http2MaxRequests"), "max_retries": limit("http.maxRetries"), "track_remaining": .bool(true),
        ])])])
    }

    static func apply(_ pool: JSONValue?, to cluster: inout JSONValue, http2: Bool) {
        cluster.set("circuit_breakers", breakers(pool))
        var common = EnvoyJSON.object([:])
        if let idle = TrafficPolicy.seconds(pool?.value(atPath: "http.idleTimeout")) { common.set("idle_timeout", EnvoyJSON.duration(idle)) }
        if let perConnection = EnvoyJSON.uint32(pool?.value(atPath: "http.maxRequestsPerConnection")?.int), perConnection > 0 {
            common.set("max_requests_per_connection", .int(perConnection))
        }
        if let duration = TrafficPolicy.seconds(pool?.value(atPath: "tcp.maxConnectionDuration")) { common.set("max_connection_duration", EnvoyJSON.duration(duration)) }
        var options = EnvoyJSON.object([:])
        if common.object?.isEmpty == false { options.set("common_http_protocol_options", common) }
        if http2 { options.set("explicit_http_config", EnvoyJSON.object(["http2_protocol_options": EnvoyJSON.object([:])])) }
        if options.object?.isEmpty == false {
            // Envoy requires the upstream protocol once the options exist.
            if !http2 { options.set("explicit_http_config", EnvoyJSON.object(["http_protocol_options": EnvoyJSON.object([:])])) }
            var typed = EnvoyJSON.typed("envoy.extensions.upstreams.http.v3.HttpProtocolOptions")
            for pair in options.object ?? [] { typed.set(pair.key, pair.value) }
            cluster.set("typed_extension_protocol_options", EnvoyJSON.object(["envoy.extensions.upstreams.http.v3.HttpProtocolOptions": typed]))
        }
    }
}

/// DestinationRule `outlierDetection` -> Envoy's `outlier_detection` (Istio's field mapping: success-rate ejection off).
enum OutlierDetection {
    static func envoy(_ settings: JSONValue) -> JSONValue {
        var out = EnvoyJSON.object([:])
        if let value = EnvoyJSON.uint32(settings["consecutive5xxErrors"]?.int) {
            out.set("consecutive_5xx", .int(value))
            out.set("enforcing_consecutive_5xx", .int(value > 0 ? 100 : 0))
        }
        if let value = EnvoyJSON.uint32(settings["consecutiveGatewayErrors"]?.int ?? settings["consecutiveErrors"]?.int) {
            out.set("consecutive_gateway_failure", .int(value))
            out.set("enforcing_consecutive_gateway_failure", .int(value > 0 ? 100 : 0))
        }
        if let interval = TrafficPolicy.seconds(settings["interval"]) { out.set("interval", EnvoyJSON.duration(interval)) }
        if let base = TrafficPolicy.seconds(settings["baseEjectionTime"]) { out.set("base_ejection_time", EnvoyJSON.duration(base)) }
        if let percent = settings["maxEjectionPercent"]?.int, (0...100).contains(percent) { out.set("max_ejection_percent", .int(percent)) }
        if let split = settings["splitExternalLocalOriginErrors"]?.bool {
            out.set("split_external_local_origin_errors", .bool(split))
            if let failures = EnvoyJSON.uint32(settings["consecutiveLocalOriginFailures"]?.int) {
                out.set("consecutive_local_origin_failure", .int(failures))
                out.set("enforcing_local_origin_success_rate", .int(0))
                out.set("enforcing_consecutive_local_origin_failure", .int(100))
            }
        }
        out.set("enforcing_success_rate", .int(0))
        return out
    }
}
