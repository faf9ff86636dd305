import ConfigValues

/// An upstream cluster (`envoy.config.cluster.v3.Cluster`): STATIC with a `load_assignment`, EDS (its endpoints come
/// from a ClusterLoadAssignment the management server sends), ORIGINAL_DST (Istio's PassthroughCluster: each
/// connection goes where the client meant it to), or STRICT_DNS/LOGICAL_DNS (endpoints name hosts looked up when
/// connecting: a ServiceEntry with `resolution: DNS`).
public struct Cluster: Sendable {
    public enum Kind: String, Sendable {
        case `static` = "STATIC", eds = "EDS", originalDestination = "ORIGINAL_DST", strictDNS = "STRICT_DNS", logicalDNS = "LOGICAL_DNS"
    }

    public enum LoadBalancing: String, Sendable, CaseIterable {
        case roundRobin = "ROUND_ROBIN", leastRequest = "LEAST_REQUEST", random = "RANDOM", ringHash = "RING_HASH", maglev = "MAGLEV"
    }

    public var name: String
    public var connectTimeout: Double
    public var loadBalancing: LoadBalancing
    public var thresholds: CircuitBreakerThresholds
    public var outlierDetection: OutlierDetectionConfig?
    /// Below this fraction of healthy hosts, all hosts are used (0 turns panic mode off). Default 50%.
    public var healthyPanicThreshold: Double
    public var endpoints: [ClusterEndpoint]
    public var tls: TLSContextConfig?
    /// `transport_socket_matches`: the first whose `match` the endpoint's `envoy.transport_socket_match` metadata
    /// holds picks its transport socket (Istio's auto mTLS: `tlsMode: istio`); none: `tls`.
    public var transportSocketMatches: [TransportSocketMatch] = []
    public var kind: Kind = .static
    public var maxRequestsPerConnection: Int?
    /// Set when the cluster asks for HTTP/2 to its hosts (`http2_protocol_options`, Istio's grpc/http2 ports):
    /// h2c with prior knowledge, or HTTP/2 inside the cluster's TLS.
    public var wantsHTTP2Upstream = false
    /// `http2_protocol_options.max_concurrent_streams`: streams one upstream connection carries at once (Envoy's
    /// default 2147483647; the host's own SETTINGS limit applies too). More requests open another connection.
    public var http2MaxConcurrentStreams = 2_147_483_647
    public var ringSize: (minimum: Int, maximum: Int)
    public var maglevTableSize: Int
    public var source: JSONValue
    /// Set for `type: EDS`: the assignment's name and where it comes from.
    public var eds: EDSClusterConfig? = nil
    /// `metadata.filter_metadata.istio.services[0]`: the Istio service behind the cluster (Istio's stats label
    /// `destination_service` with it).
    public var istioService: IstioService? = nil
    /// `common_http_protocol_options.idle_timeout`: an upstream connection with no request this long closes (0: never;
    /// Envoy's default is 1 hour).
    public var connectionIdleTimeout: Double = 3600
    /// `common_http_protocol_options.max_connection_duration`: a connection this old closes once its request is done.
    public var maxConnectionDuration: Double? = nil
    /// `common_lb_config.locality_weighted_lb_config`: requests go to localities by their `load_balancing_weight`.
    public var localityWeighted = false
    /// The load assignment's `policy` (from `load_assignment`, or EDS for an EDS cluster).
    public var assignmentPolicy = LoadAssignmentPolicy()
    /// STRICT_DNS/LOGICAL_DNS: how the endpoints' names are looked up and re-looked up.
    public var dns = DNSSettings()
    /// ORIGINAL_DST: where a request's destination comes from, and how long an unused host stays.
    public var originalDestination = OriginalDestinationSettings()
    /// `per_connection_buffer_limit_bytes`: what the proxy queues per upstream connection.
    public var bufferLimit: ConnectionBufferLimit?
}

/// An ORIGINAL_DST cluster's `original_dst_lb_config` and `cleanup_interval`.
public struct OriginalDestinationSettings: Sendable, Equatable {
    /// `use_http_header`: an HTTP request's `httpHeaderName` header (`IP:PORT`) names its destination; without
    /// the header the downstream connection's original destination is used.
    public var useHTTPHeader = false
    /// `http_header_name`, lowercased (Envoy's default `x-envoy-original-dst-host`).
    public var httpHeaderName = "x-envoy-original-dst-host"
    /// `upstream_port_override`: this port instead of the destination's.
    public var portOverride: Int?
    /// `cleanup_interval`: a host no request used for this long leaves the cluster (Envoy's default 5 s).
    public var cleanupInterval = 5.0
    public init() {}

    /// Where a request goes: the header's `IP:PORT` when the header is used and present, else `downstreamLocal`
    /// (`IP:PORT`, the connection's original destination); nil when the address is not an IP and port.
    public func destination(headers: [(name: String, value: String)], downstreamLocal: String?) -> SocketAddress? {
        var text = downstreamLocal
        if useHTTPHeader, let value = headers.first(where: { $0.name.lowercased() == httpHeaderName })?.value {
            text = value.trimmingCharacters(in: .whitespaces)
        }
        guard let text, let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (1...65535).contains(port) else { return nil }
        var host = Substring(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = host.dropFirst().dropLast() } else if host.contains(":") { return nil }
        guard CIDRRange.isAddress(String(host)) else { return nil }
        return SocketAddress(host: String(host), port: portOverride ?? port)
    }
}

/// A ClusterLoadAssignment's `policy`: how priority levels and localities count their health.
public struct LoadAssignmentPolicy: Sendable, Equatable {
    /// `overprovisioning_factor` in percent (Envoy's default 140: a level at 72% healthy still counts as whole).
    public var overprovisioningFactor = 140
    /// `weighted_priority_health`: a level's health is its healthy hosts' share of its weight, not of its count.
    public var weightedPriorityHealth = false
    /// `drop_overloads` (Envoy takes one): this share of the cluster's requests is answered 503 at once.
    public var dropOverload: (category: String, fraction: Double)?
    public init() {}

    public static func == (a: LoadAssignmentPolicy, b: LoadAssignmentPolicy) -> Bool {
        a.overprovisioningFactor == b.overprovisioningFactor && a.weightedPriorityHealth == b.weightedPriorityHealth
            && a.dropOverload?.category == b.dropOverload?.category && a.dropOverload?.fraction == b.dropOverload?.fraction
    }

    static func read(_ reader: ConfigReader) throws(ProxyConfigError) -> LoadAssignmentPolicy {
        var policy = LoadAssignmentPolicy()
        if let factor = try reader.integer("overprovisioning_factor") {
            guard factor > 0 else { throw reader.error("must be above 0 (140 is Envoy's default)", at: reader.field("overprovisioning_factor"), path: [.key("overprovisioning_factor")]) }
            policy.overprovisioningFactor = factor
        }
        policy.weightedPriorityHealth = try reader.bool("weighted_priority_health") ?? false
        _ = try reader.duration("endpoint_stale_after")  // EDS staleness is not tracked: endpoints stay until replaced
        let drops = try reader.list("drop_overloads") { drop throws(ProxyConfigError) -> (category: String, fraction: Double) in
            (try drop.requiredString("category"), try drop.fractionalPercent("drop_percentage") ?? 0)
        }
        guard drops.count <= 1 else { throw reader.error("takes one entry, as Envoy does (it has \(drops.count))", path: [.key("drop_overloads")]) }
        policy.dropOverload = drops.first
        return policy
    }
}

/// A DNS cluster's `dns_refresh_rate`, `dns_failure_refresh_rate` and `dns_lookup_family`.
public struct DNSSettings: Sendable, Equatable {
    /// Seconds between lookups (Envoy's default 5s).
    public var refreshRate = 5.0
    /// Seconds before the next lookup after a failed one (`dns_failure_refresh_rate.base_interval`; default: `refreshRate`).
    public var failureRefreshRate: Double? = nil
    public var lookupFamily = DNSLookupFamily.auto
    public init() {}
}

/// A Kubernetes or ServiceEntry service as istiod names it in cluster metadata.
public struct IstioService: Sendable, Equatable {
    public var host: String
    public var name: String
    public var namespace: String
}

/// `eds_cluster_config`: the ClusterLoadAssignment a cluster takes its endpoints from.
public struct EDSClusterConfig: Sendable, Equatable {
    /// `service_name`, else the cluster's name.
    public var serviceName: String
    public var source: ConfigSource
}

/// One of a cluster's `transport_socket_matches`.
public struct TransportSocketMatch: Sendable, Equatable {
    public var name: String
    /// Metadata keys and values an endpoint must carry (empty: every endpoint).
    public var criteria: [String: String]
    /// nil: plaintext (`raw_buffer`).
    public var tls: TLSContextConfig?
}

public struct ClusterEndpoint: Sendable, Equatable {
    /// The name a DNS cluster looked up to find this host (`/clusters`' `hostname`); empty otherwise.
    public var hostname = ""
    /// The endpoint's `filter_metadata["envoy.transport_socket_match"]` (string values).
    public var transportSocketMetadata: [String: String] = [:]
    public var address: SocketAddress
    public var weight: Int
    public var region: String
    public var zone: String
    public var subZone: String
    public var priority: Int
    /// The `load_balancing_weight` of the endpoint's locality (its `locality_lb_endpoints`); 0 when unset, which
    /// under `locality_weighted_lb_config` means the locality takes no traffic.
    public var localityWeight = 0
}

/// The default-priority limits; Envoy's defaults are 1024 connections, pending and requests, and 3 retries.
public struct CircuitBreakerThresholds: Sendable, Equatable {
    public var maxConnections = 1024
    public var maxPendingRequests = 1024
    public var maxRequests = 1024
    public var maxRetries = 3
    public init() {}
}

public struct OutlierDetectionConfig: Sendable, Equatable {
    public var consecutive5xx = 5
    public var consecutiveGatewayFailure = 5
    public var interval = 10.0
    public var baseEjectionTime = 30.0
    public var maxEjectionTime = 300.0
    public var maxEjectionPercent = 10
    public var enforcingConsecutive5xx = 100
    public var enforcingConsecutiveGatewayFailure = 0
    public var splitExternalLocalOriginErrors = false
    /// Split mode: local-origin failures in a row that eject, and the enforcing percent (Envoy's 5 and 100).
    public var consecutiveLocalOriginFailure = 5
    public var enforcingConsecutiveLocalOriginFailure = 100
    /// Split mode: success rate and failure percentage of the attempts to reach a host (Envoy's 100 and 0).
    public var enforcingLocalOriginSuccessRate = 100
    public var enforcingFailurePercentageLocalOrigin = 0
    /// Success-rate ejection: hosts with this many requests in an interval are judged, when at least
    /// `successRateMinimumHosts` of them are; below mean - stdevFactor/1000 x stdev is an outlier.
    public var successRateMinimumHosts = 5
    public var successRateRequestVolume = 100
    public var successRateStdevFactor = 1900
    public var enforcingSuccessRate = 100
    /// Failure-percentage ejection: a judged host failing at least `failurePercentageThreshold` percent.
    public var failurePercentageThreshold = 85
    public var failurePercentageMinimumHosts = 5
    public var failurePercentageRequestVolume = 50
    public var enforcingFailurePercentage = 0
    /// `always_eject_one_host`: one ejection is allowed whatever `max_ejection_percent` says.
    public var alwaysEjectOneHost = false
    public init() {}
}

extension Cluster {
    static func read(_ reader: ConfigReader) throws(ProxyConfigError) -> Cluster {
        let name = try reader.requiredString("name")
        let kind = try reader.enumeration("type", allowed: ["STATIC", "EDS", "ORIGINAL_DST", "STRICT_DNS", "LOGICAL_DNS"]).flatMap(Kind.init(rawValue:)) ?? .static
        var eds: EDSClusterConfig?
        if kind == .eds {
            eds = try reader.object("eds_cluster_config") { config throws(ProxyConfigError) -> EDSClusterConfig in
                let serviceName = try config.string("service_name")
                guard let source = try config.object("eds_config", { source throws(ProxyConfigError) in try ConfigSource.read(source) }) else {
                    throw config.error("needs an eds_config", path: [.key("eds_config")])
                }
                return EDSClusterConfig(serviceName: serviceName.flatMap { $0.isEmpty ? nil : $0 } ?? name, source: source)
            }
            guard eds != nil else { throw reader.error("type EDS needs an eds_cluster_config", path: [.key("eds_cluster_config")]) }
            if reader.has("load_assignment") { throw reader.error("an EDS cluster takes its endpoints from EDS, not a load_assignment", path: [.key("load_assignment")]) }
        } else if reader.has("eds_cluster_config") {
            throw reader.error("eds_cluster_config needs type: EDS", path: [.key("eds_cluster_config")])
        }
        // Other metadata is for other filters; only Istio's service is used.
        let service = reader.field("metadata")?["filter_metadata"]?["istio"]?["services"]?[0].flatMap { service -> IstioService? in
            guard let host = service["host"]?.string else { return nil }
            return IstioService(host: host, name: service["name"]?.string ?? String(host.prefix { $0 != "." }), namespace: service["namespace"]?.string ?? "unknown")
        }
        let bufferLimit = try ConnectionBufferLimit.read(reader)
        reader.ignore("metadata", "alt_stat_name", "filters", "upstream_connection_options", "dns_jitter")
        var originalDestination = OriginalDestinationSettings()
        if let cleanup = try reader.duration("cleanup_interval") {
            guard cleanup > 0 else { throw reader.error("must be above 0", at: reader.field("cleanup_interval"), path: [.key("cleanup_interval")]) }
            originalDestination.cleanupInterval = cleanup
        }
        _ = try reader.object("original_dst_lb_config") { config throws(ProxyConfigError) in
            guard kind == .originalDestination else { throw config.error("needs type: ORIGINAL_DST") }
            originalDestination.useHTTPHeader = try config.bool("use_http_header") ?? false
            if let name = try config.string("http_header_name"), !name.isEmpty {
                guard HeaderName.isValid(name) else { throw config.error("\(name) is not a valid header name", at: config.field("http_header_name"), path: [.key("http_header_name")]) }
                originalDestination.httpHeaderName = name.lowercased()
            }
            if let port = try config.integer("upstream_port_override", maximum: 65535) {
                guard port > 0 else { throw config.error("must be a port from 1 to 65535", at: config.field("upstream_port_override"), path: [.key("upstream_port_override")]) }
                originalDestination.portOverride = port
            }
            if config.has("metadata_key") { throw config.error("metadata_key (the destination from metadata) is not supported", path: [.key("metadata_key")]) }
        }
        let dns = try readDNSSettings(reader)
        let connectTimeout = try reader.duration("connect_timeout") ?? 5
        let policyNames = LoadBalancing.allCases.map(\.rawValue) + (kind == .originalDestination ? ["CLUSTER_PROVIDED"] : [])
        let policy = try reader.enumeration("lb_policy", allowed: policyNames).flatMap(LoadBalancing.init(rawValue:)) ?? .roundRobin
        var thresholds = CircuitBreakerThresholds()
        _ = try reader.object("circuit_breakers") { breakers throws(ProxyConfigError) in
            let all = try breakers.list("thresholds") { threshold throws(ProxyConfigError) -> (String, CircuitBreakerThresholds) in
                let priority = try threshold.enumeration("priority", allowed: ["DEFAULT", "HIGH"]) ?? "DEFAULT"
                var values = CircuitBreakerThresholds()
                values.maxConnections = try threshold.integer("max_connections") ?? values.maxConnections
                values.maxPendingRequests = try threshold.integer("max_pending_requests") ?? values.maxPendingRequests
                values.maxRequests = try threshold.integer("max_requests") ?? values.maxRequests
                values.maxRetries = try threshold.integer("max_retries") ?? values.maxRetries
                _ = try threshold.bool("track_remaining")
                if threshold.has("retry_budget") { throw threshold.error("retry budgets are not supported", path: [.key("retry_budget")]) }
                return (priority, values)
            }
            if let chosen = all.first(where: { $0.0 == "DEFAULT" }) { thresholds = chosen.1 }
        }
        let outlier = try reader.object("outlier_detection") { detection throws(ProxyConfigError) -> OutlierDetectionConfig in
            var config = OutlierDetectionConfig()
            config.consecutive5xx = try detection.integer("consecutive_5xx") ?? config.consecutive5xx
            config.consecutiveGatewayFailure = try detection.integer("consecutive_gateway_failure") ?? config.consecutiveGatewayFailure
            config.interval = try detection.duration("interval") ?? config.interval
            config.baseEjectionTime = try detection.duration("base_ejection_time") ?? config.baseEjectionTime
            config.maxEjectionTime = try detection.duration("max_ejection_time") ?? max(config.maxEjectionTime, config.baseEjectionTime)
            config.maxEjectionPercent = try detection.integer("max_ejection_percent", maximum: 100) ?? config.maxEjectionPercent
            config.enforcingConsecutive5xx = try detection.integer("enforcing_consecutive_5xx", maximum: 100) ?? 100
            config.enforcingConsecutiveGatewayFailure = try detection.integer("enforcing_consecutive_gateway_failure", maximum: 100) ?? 0
            config.splitExternalLocalOriginErrors = try detection.bool("split_external_local_origin_errors") ?? false
            config.successRateMinimumHosts = try detection.integer("success_rate_minimum_hosts") ?? config.successRateMinimumHosts
            config.successRateRequestVolume = try detection.integer("success_rate_request_volume") ?? config.successRateRequestVolume
            config.successRateStdevFactor = try detection.integer("success_rate_stdev_factor") ?? config.successRateStdevFactor
            config.enforcingSuccessRate = try detection.integer("enforcing_success_rate", maximum: 100) ?? config.enforcingSuccessRate
            config.failurePercentageThreshold = try detection.integer("failure_percentage_threshold", maximum: 100) ?? config.failurePercentageThreshold
            config.failurePercentageMinimumHosts = try detection.integer("failure_percentage_minimum_hosts") ?? config.failurePercentageMinimumHosts
            config.failurePercentageRequestVolume = try detection.integer("failure_percentage_request_volume") ?? config.failurePercentageRequestVolume
            config.enforcingFailurePercentage = try detection.integer("enforcing_failure_percentage", maximum: 100) ?? config.enforcingFailurePercentage
            config.alwaysEjectOneHost = try detection.bool("always_eject_one_host") ?? false
            config.consecutiveLocalOriginFailure = try detection.integer("consecutive_local_origin_failure") ?? config.consecutiveLocalOriginFailure
            config.enforcingConsecutiveLocalOriginFailure = try detection.integer("enforcing_consecutive_local_origin_failure", maximum: 100)
                ?? config.enforcingConsecutiveLocalOriginFailure
            config.enforcingLocalOriginSuccessRate = try detection.integer("enforcing_local_origin_success_rate", maximum: 100) ?? config.enforcingLocalOriginSuccessRate
            config.enforcingFailurePercentageLocalOrigin = try detection.integer("enforcing_failure_percentage_local_origin", maximum: 100)
                ?? config.enforcingFailurePercentageLocalOrigin
            detection.ignore("max_ejection_time_jitter")
            return config
        }
        var panic = 0.5, localityWeighted = false
        _ = try reader.object("common_lb_config") { common throws(ProxyConfigError) in
            if let threshold = try common.percent("healthy_panic_threshold") { panic = threshold }
            localityWeighted = try common.object("locality_weighted_lb_config") { _ throws(ProxyConfigError) in true } ?? false
        }
        let tls = try reader.object("transport_socket") { socket throws(ProxyConfigError) in try TLSContextConfig.readTransportSocket(socket, downstream: false) } ?? nil
        let socketMatches = try reader.list("transport_socket_matches") { match throws(ProxyConfigError) -> TransportSocketMatch in
            let name = try match.requiredString("name")
            var criteria: [String: String] = [:]
            for pair in match.field("match")?.pairs ?? [] {
                guard let key = pair.key.scalarText, let value = pair.value.scalarText else {
                    throw match.error("must map metadata keys to string values", path: [.key("match")])
                }
                criteria[key] = value
            }
            match.ignore("match")
            guard match.has("transport_socket") else { throw match.error("needs a transport_socket", path: [.key("transport_socket")]) }
            let tls = try match.object("transport_socket") { socket throws(ProxyConfigError) in try TLSContextConfig.readTransportSocket(socket, downstream: false) } ?? nil
            return TransportSocketMatch(name: name, criteria: criteria, tls: tls)
        }
        var maxRequests = try reader.integer("max_requests_per_connection")
        var idleTimeout = 3600.0, maxDuration: Double?
        var wantsHTTP2 = false
        var maxStreams = 2_147_483_647
        func readHTTP2Options(_ options: ConfigReader) throws(ProxyConfigError) {
            wantsHTTP2 = true
            if let value = try options.integer("max_concurrent_streams", maximum: 2_147_483_647) { maxStreams = max(1, value) }
            options.ignore("initial_stream_window_size", "initial_connection_window_size", "hpack_table_size", "allow_connect",
                           "connection_keepalive", "max_outbound_frames", "max_inbound_priority_frames_per_stream",
                           "override_stream_error_on_invalid_http_message", "stream_error_on_invalid_http_messaging")
        }
        // The deprecated field on the cluster itself, as older bootstraps write it.
        _ = try reader.object("http2_protocol_options") { options throws(ProxyConfigError) in try readHTTP2Options(options) }
        _ = try reader.object("typed_extension_protocol_options") { options throws(ProxyConfigError) in
            for pair in options.node.pairs ?? [] {
                let key = pair.key.scalarText ?? ""
                _ = try options.object(key) { typed throws(ProxyConfigError) in
                    guard try typed.typeName() == "envoy.extensions.upstreams.http.v3.HttpProtocolOptions" else { throw typed.error("\(key) is not supported") }
                    _ = try typed.object("common_http_protocol_options") { common throws(ProxyConfigError) in
                        if let value = try common.integer("max_requests_per_connection") { maxRequests = value }
                        if let value = try common.duration("idle_timeout") { idleTimeout = value }
                        maxDuration = try common.duration("max_connection_duration")
                    }
                    _ = try typed.object("explicit_http_config") { explicit throws(ProxyConfigError) in
                        _ = try explicit.object("http2_protocol_options") { options throws(ProxyConfigError) in try readHTTP2Options(options) }
                        explicit.ignore("http_protocol_options")
                    }
                }
            }
        }
        var ring = (minimum: 1024, maximum: 8 * 1024 * 1024)
        _ = try reader.object("ring_hash_lb_config") { config throws(ProxyConfigError) in
            ring.minimum = try config.integer("minimum_ring_size", maximum: 8 * 1024 * 1024) ?? ring.minimum
            ring.maximum = try config.integer("maximum_ring_size", maximum: 8 * 1024 * 1024) ?? ring.maximum
            _ = try config.enumeration("hash_function", allowed: ["XX_HASH"])
        }
        var maglevSize = 65537
        _ = try reader.object("maglev_lb_config") { config throws(ProxyConfigError) in
            maglevSize = try config.integer("table_size", maximum: 5_000_011) ?? maglevSize
            // Envoy requires a prime; 0 and 1 would also leave the table's skip step without a modulus.
            guard maglevSize >= 2, (2...max(2, Int(Double(maglevSize).squareRoot()))).allSatisfy({ $0 == maglevSize || maglevSize % $0 != 0 }) else {
                throw config.error("must be a prime number such as 65537 (Envoy's default)", at: config.field("table_size"), path: [.key("table_size")])
            }
        }
        let (endpoints, assignmentPolicy) = try reader.object("load_assignment") { assignment throws(ProxyConfigError) in try readAssignment(assignment) }
            ?? ([], LoadAssignmentPolicy())
        if kind == .static || kind == .eds, let named = endpoints.first(where: { !CIDRRange.isAddress($0.address.host) }) {
            throw reader.error("endpoint \(named.address) names a host; a \(kind.rawValue) cluster takes IP addresses (use type STRICT_DNS or LOGICAL_DNS to look names up)",
                               path: [.key("load_assignment")])
        }
        if kind == .logicalDNS && endpoints.count != 1 {
            throw reader.error("a LOGICAL_DNS cluster takes exactly one endpoint (it has \(endpoints.count))", path: [.key("load_assignment")])
        }
        if kind == .originalDestination && !endpoints.isEmpty {
            throw reader.error("an ORIGINAL_DST cluster takes no load_assignment endpoints", path: [.key("load_assignment")])
        }
        return Cluster(name: name, connectTimeout: connectTimeout, loadBalancing: policy, thresholds: thresholds, outlierDetection: outlier,
                       healthyPanicThreshold: panic, endpoints: endpoints, tls: tls, transportSocketMatches: socketMatches, kind: kind,
                       maxRequestsPerConnection: maxRequests, wantsHTTP2Upstream: wantsHTTP2, http2MaxConcurrentStreams: maxStreams, ringSize: ring, maglevTableSize: maglevSize,
                       source: JSONValue(yaml: reader.node), eds: eds, istioService: service,
                       connectionIdleTimeout: idleTimeout, maxConnectionDuration: maxDuration.flatMap { $0 > 0 ? $0 : nil },
                       localityWeighted: localityWeighted, assignmentPolicy: assignmentPolicy, dns: dns, originalDestination: originalDestination,
                       bufferLimit: bufferLimit)
    }

    /// `dns_refresh_rate` (at least 1ms, as Envoy requires), `dns_failure_refresh_rate`, `dns_lookup_family`;
    /// `respect_dns_ttl` is accepted but the system resolver gives no TTLs, so the refresh rate always applies.
    static func readDNSSettings(_ reader: ConfigReader) throws(ProxyConfigError) -> DNSSettings {
        var dns = DNSSettings()
        if let rate = try reader.duration("dns_refresh_rate") {
            guard rate >= 0.001 else { throw reader.error("must be at least 1ms", at: reader.field("dns_refresh_rate"), path: [.key("dns_refresh_rate")]) }
            dns.refreshRate = rate
        }
        dns.failureRefreshRate = try reader.object("dns_failure_refresh_rate") { rate throws(ProxyConfigError) -> Double? in
            _ = try rate.duration("max_interval")
            return try rate.duration("base_interval")
        } ?? nil
        _ = try reader.bool("respect_dns_ttl")
        dns.lookupFamily = try reader.enumeration("dns_lookup_family", allowed: ["AUTO", "V4_ONLY", "V6_ONLY", "V4_PREFERRED", "ALL"])
            .flatMap(DNSLookupFamily.init(rawValue:)) ?? .auto
        return dns
    }

    /// A `ClusterLoadAssignment`'s endpoints (the `cluster_name` is read but not checked here), with each endpoint's
    /// `envoy.transport_socket_match` metadata.
    static func readAssignment(_ assignment: ConfigReader) throws(ProxyConfigError) -> (endpoints: [ClusterEndpoint], policy: LoadAssignmentPolicy) {
        _ = try assignment.string("cluster_name")
        let policy = try assignment.object("policy") { policy throws(ProxyConfigError) in try LoadAssignmentPolicy.read(policy) } ?? LoadAssignmentPolicy()
        return (try readEndpoints(assignment), policy)
    }

    /// The endpoints of a `ClusterLoadAssignment` whose other fields the caller reads.
    private static func readEndpoints(_ assignment: ConfigReader) throws(ProxyConfigError) -> [ClusterEndpoint] {
        var all: [ClusterEndpoint] = []
        _ = try assignment.list("endpoints") { locality throws(ProxyConfigError) in
            var region = "", zone = "", subZone = ""
            _ = try locality.object("locality") { place throws(ProxyConfigError) in
                region = try place.string("region") ?? ""
                zone = try place.string("zone") ?? ""
                subZone = try place.string("sub_zone") ?? ""
            }
            let priority = try locality.integer("priority", maximum: 127) ?? 0
            let localityWeight = try locality.integer("load_balancing_weight") ?? 0
            _ = try locality.list("lb_endpoints") { lbEndpoint throws(ProxyConfigError) in
                var socketMetadata: [String: String] = [:]
                for pair in lbEndpoint.field("metadata")?["filter_metadata"]?["envoy.transport_socket_match"]?.pairs ?? [] {
                    if let key = pair.key.scalarText, let value = pair.value.scalarText { socketMetadata[key] = value }
                }
                lbEndpoint.ignore("metadata")
                _ = try lbEndpoint.enumeration("health_status", allowed: ["UNKNOWN", "HEALTHY"])
                let weight = try lbEndpoint.integer("load_balancing_weight") ?? 1
                guard let address = try lbEndpoint.object("endpoint", { endpoint throws(ProxyConfigError) -> SocketAddress in
                    endpoint.ignore("hostname", "health_check_config")
                    return try SocketAddress.read(endpoint)
                }) else { throw lbEndpoint.error("needs an endpoint", path: [.key("endpoint")]) }
                all.append(ClusterEndpoint(transportSocketMetadata: socketMetadata, address: address, weight: max(1, weight), region: region, zone: zone,
                                           subZone: subZone, priority: priority, localityWeight: localityWeight))
            }
        }
        return all
    }
}

extension Cluster {
    /// The TLS settings for the endpoint at `index`: the first transport socket match its metadata satisfies, else
    /// the cluster's own transport socket.
    public func tls(forEndpoint index: Int) -> TLSContextConfig? {
        guard endpoints.indices.contains(index) else { return tls }
        return tls(for: endpoints[index])
    }

    /// The TLS settings for `endpoint`: the first transport socket match its metadata satisfies, else the cluster's.
    public func tls(for endpoint: ClusterEndpoint) -> TLSContextConfig? {
        guard !transportSocketMatches.isEmpty else { return tls }
        let metadata = endpoint.transportSocketMetadata
        for match in transportSocketMatches where match.criteria.allSatisfy({ metadata[$0.key] == $0.value }) { return match.tls }
        return tls
    }
}
