/// Istio's mesh configuration (MeshConfig, e.g. an IstioOperator's spec.meshConfig): the fields whose rules
/// Istio checks when it reads one (its defaults filled in). Fields without a rule here are kept as they are.
enum MeshConfigSchemas {
    typealias C = CommonSchemas

    /// A field whose text must pass `problem` (nil when it is fine).
    static func text(_ field: String, _ problem: @escaping @Sendable (String) -> String?) -> ObjectRule {
        ObjectRule { node, path in
            guard let value = node[field], let text = value.scalarText, let message = problem(text) else { return [] }
            return [C.problem(value, path + [.key(field)], message)]
        }
    }

    /// A duration of at least 1ms in whole milliseconds, with an optional upper bound and whole seconds.
    static func duration(_ field: String, maximumSeconds: Double? = nil, wholeSeconds: Bool = false, zeroAllowed: Bool = false) -> ObjectRule {
        text(field) { text in
            guard let seconds = DurationText.seconds(text) else { return nil }  // the schema reports unreadable durations
            if zeroAllowed && seconds == 0 { return nil }
            if seconds < 0.001 { return "\"\(text)\": the duration must be at least 1ms" }
            let milliseconds = seconds * 1000
            if abs(milliseconds - milliseconds.rounded()) > 1e-6 { return "\"\(text)\": only whole milliseconds are supported" }
            if wholeSeconds && seconds != seconds.rounded() { return "\"\(text)\": only whole seconds are supported" }
            if let maximumSeconds, seconds > maximumSeconds { return "\"\(text)\": the duration must be at most \(DurationText.text(maximumSeconds))" }
            return nil
        }
    }

    /// A DNS-1123 label: letters, digits and '-', not at either end, at most 63 characters.
    static func isLabel(_ label: Substring) -> Bool {
        label.count <= 63 && !label.isEmpty && label.first != "-" && label.last != "-"
            && label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
    }

    /// A domain name (a trailing dot allowed), whose last label is not all digits.
    @Sendable static func domainProblem(_ domain: String) -> String? {
        if domain.isEmpty { return "an empty domain name is not allowed" }
        if domain.count > 255 { return "domain name \"\(domain)\" is longer than 255 characters" }
        var labels = domain.split(separator: ".", omittingEmptySubsequences: false)
        if labels.count > 1 && labels.last == "" { labels.removeLast() }
        if let last = labels.last, Int(last) != nil { return "domain name \"\(domain)\": the last label cannot be all digits" }
        return labels.allSatisfy(isLabel) ? nil : "\"\(domain)\" is not a valid domain name: labels are letters, digits and '-'"
    }

    /// A domain whose first label may start with `*` (`*`, `*.example.com`, `*-svc.example.com`).
    @Sendable static func wildcardDomainProblem(_ domain: String) -> String? {
        if domain.isEmpty { return "an empty domain name is not allowed" }
        let parts = domain.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        var first = parts[0]
        if first.hasPrefix("*") { first = first.dropFirst(first.hasPrefix("*-") ? 2 : 1) }
        if !(first.isEmpty && parts[0] == "*") && !isLabel(first) { return "\"\(domain)\" is not a valid domain name: label \"\(parts[0])\"" }
        return parts.count > 1 ? domainProblem(String(parts[1])) : nil
    }

    /// `host:port`, the host a domain name or an IP address.
    @Sendable static func proxyAddressProblem(_ address: String) -> String? {
        let text = address.replacingOccurrences(of: "$(HOST_IP)", with: "127.0.0.1")
        guard let colon = text.lastIndex(of: ":") else { return "\"\(address)\" is not host:port" }
        var host = String(text[..<colon])
        let port = text[text.index(after: colon)...]
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard let number = Int(port) else { return "\"\(address)\": the port is not a number" }
        if !(1...65535).contains(number) { return "\"\(address)\": port must be between 1-65535" }
        if domainProblem(host) != nil && !IPAddressText.isAddressOrCIDR(host) || host.contains("/") {
            return "\"\(address)\": \"\(host)\" is not a valid host name or IP address"
        }
        return nil
    }

    static func address(_ field: String) -> ObjectRule { text(field, proxyAddressProblem) }

    static func nonEmpty(_ field: String, _ message: String) -> ObjectRule {
        text(field) { $0.isEmpty ? message : nil }
    }

    static let tracing = ObjectType("Tracing", [
        "zipkin": .object(ObjectType("Zipkin", [:], rules: [address("address")], open: true)),
        "datadog": .object(ObjectType("Datadog", [:], rules: [address("address")], open: true)),
        "lightstep": .object(ObjectType("Lightstep", ["address": .string, "accessToken": .string], required: ["address", "accessToken"], rules: [
            nonEmpty("address", "lightstep address is required"), nonEmpty("accessToken", "lightstep access token is required"), address("address"),
        ], open: true)),
        "customTags": .map(.object(ObjectType("CustomTag", [:], open: true))),
        "tlsSettings": .object(NetworkingSchemas.clientTLS),
    ], open: true)

    /// Proxy connection settings: buffer limits not negative, stream and connection limits positive, HTTP/2
    /// windows at least 65535 bytes.
    static let connectionSettings = ObjectType("ConnectionSettings", [
        "listenerPerConnectionBufferLimitBytes": .integer(minimum: 0), "clusterPerConnectionBufferLimitBytes": .integer(minimum: 0),
        "httpIdleTimeout": .duration, "httpMaxConnectionDuration": .duration, "httpDrainTimeout": .duration, "httpRequestTimeout": .duration,
        "httpRequestHeadersTimeout": .duration, "httpStreamIdleTimeout": .duration, "httpMaxStreamDuration": .duration,
        "httpMaxConcurrentStreams": .integer(minimum: 1), "listenerConnectionLimit": .integer(minimum: 1),
        "globalDownstreamConnectionLimit": .integer(minimum: 1),
        "http2InitialStreamWindowSize": .integer(minimum: 65535), "http2InitialConnectionWindowSize": .integer(minimum: 65535),
    ], open: true)

    /// The mesh-wide traffic policy: DestinationRule's connection pool and outlier detection, plus Istio's
    /// checks of them for the mesh (a pool sets http or tcp, counts are not negative, durations in whole ms,
    /// local-origin failures need split errors).
    static let defaultTrafficPolicy = ObjectType("DefaultTrafficPolicy", [
        "connectionPool": .object(NetworkingSchemas.connectionPool), "outlierDetection": .object(NetworkingSchemas.outlierDetection),
    ], rules: [
        ObjectRule { policy, path in
            guard let pool = policy["connectionPool"] else { return [] }
            let poolPath = path + [.key("connectionPool")]
            var problems: [ValidationProblem] = []
            if pool["http"] == nil && pool["tcp"] == nil { problems.append(C.problem(pool, poolPath, "connection pool must set http or tcp")) }
            let counts = [("http", ["http1MaxPendingRequests", "http2MaxRequests", "maxRequestsPerConnection", "maxRetries", "maxConcurrentStreams"]),
                          ("tcp", ["maxConnections"])]
            for (section, fields) in counts {
                for field in fields {
                    guard let node = pool[section]?[field], let value = node.int, value < 0 else { continue }
                    problems.append(C.problem(node, poolPath + [.key(section), .key(field)], "\(field) must not be negative"))
                }
            }
            if pool["http"]?["h2UpgradePolicy"]?.scalarText == "UPGRADE", pool["http"]?["useClientProtocol"]?.bool == true {
                problems.append(C.problem(pool["http"]!, poolPath + [.key("http")], "useClientProtocol must not be true when h2UpgradePolicy is UPGRADE"))
            }
            for rule in [duration("idleTimeout")] { problems += pool["http"].map { rule.check($0, poolPath + [.key("http")]) } ?? [] }
            for rule in [duration("connectTimeout"), duration("maxConnectionDuration"), duration("idleTimeout", zeroAllowed: true)] {
                problems += pool["tcp"].map { rule.check($0, poolPath + [.key("tcp")]) } ?? []
            }
            for rule in [duration("time"), duration("interval")] {
                problems += pool["tcp"]?["tcpKeepalive"].map { rule.check($0, poolPath + [.key("tcp"), .key("tcpKeepalive")]) } ?? []
            }
            return problems
        },
        ObjectRule { policy, path in
            guard let detection = policy["outlierDetection"] else { return [] }
            let detectionPath = path + [.key("outlierDetection")]
            var problems = [duration("baseEjectionTime"), duration("interval")].flatMap { $0.check(detection, detectionPath) }
            if (detection["consecutiveLocalOriginFailures"]?.int ?? 0) > 0 && detection["splitExternalLocalOriginErrors"]?.bool != true {
                problems.append(C.problem(detection, detectionPath,
                                          "consecutiveLocalOriginFailures needs splitExternalLocalOriginErrors: true"))
            }
            return problems
        },
    ], open: true)

    /// Zone-aware load balancing: failover between two different regions (no zones, no wildcards);
    /// failoverPriority may not name the region, zone or subzone labels, which it handles itself.
    static let zoneAwareLbSetting = ObjectType("ZoneAwareLoadBalancerSetting", [
        "failover": .list(.object(ObjectType("Failover", ["from": .string, "to": .string], rules: [
            .require("zone-aware failover must go between different regions") { $0["from"]?.scalarText != $0["to"]?.scalarText },
            .require("zone-aware failover names regions only (no '/' zones or subzones, no '*')") { failover in
                !["from", "to"].contains { (failover[$0]?.scalarText ?? "").contains(where: { $0 == "/" || $0 == "*" }) }
            },
        ]))),
        "failoverPriority": .list(.string),
    ], rules: [
        SecuritySchemas.valuesRule(["failoverPriority"]) { label in
            ["topology.kubernetes.io/region", "topology.kubernetes.io/zone", "topology.istio.io/subzone"].contains(label)
                ? "zone-aware failoverPriority must not use \(label): region and zone routing are automatic" : nil
        },
    ], open: true)

    /// The retry policy for inbound HTTP: VirtualService's retry type; a backoff needs retries on, and the
    /// fields inbound retries ignore give warnings.
    static let inboundRetryPolicy = ObjectType("HTTPRetry", retryFields, rules: retryRules + [
        .require("backoff is set but attempts is 0 (retries off)", at: "backoff") { retry in retry["backoff"] == nil || retry["attempts"]?.int != 0 },
        ObjectRule { retry, path in
            ["perTryTimeout", "retryRemoteLocalities", "retryIgnorePreviousHosts"].compactMap { field in
                retry[field].map { ValidationProblem(.warning, path: path + [.key(field)], location: $0.location,
                                                     message: "\(field) is ignored by the default inbound HTTP retry policy") }
            }
        },
    ])

    /// VirtualService's HTTPRetry fields and rules, as the networking schemas define them.
    static var retryType: ObjectType? {
        if case .object(let retry)? = NetworkingSchemas.httpRoute.fields["retries"] { return retry }
        return nil
    }
    static var retryFields: [String: SchemaType] { retryType?.fields ?? [:] }
    static var retryRules: [ObjectRule] { retryType?.rules ?? [] }

    /// A private key provider's poll delay must be set and not zero.
    static let pollDelay = ObjectType("PrivateKeyProviderSettings", ["pollDelay": .duration], required: ["pollDelay"], rules: [
        text("pollDelay") { DurationText.seconds($0) == 0 ? "pollDelay must not be zero" : nil },
    ], open: true)

    /// The proxy defaults (meshConfig.defaultConfig).
    static let proxyConfig = ObjectType("ProxyConfig", [
        "drainDuration": .duration, "proxyAdminPort": .integer, "statusPort": .integer,
        "controlPlaneAuthPolicy": .enumeration(["NONE", "MUTUAL_TLS"]),
        "tracing": .object(tracing),
        "envoyMetricsService": .object(ObjectType("RemoteService", [:], rules: [address("address")], open: true)),
        "envoyAccessLogService": .object(ObjectType("RemoteService", [:], rules: [address("address")], open: true)),
        "connectionSettings": .object(connectionSettings),
        "proxyMetadata": .map(.string),
        "privateKeyProvider": .object(ObjectType("PrivateKeyProvider", [
            "cryptomb": .object(pollDelay), "qat": .object(pollDelay),
        ], rules: [.require("a private key provider needs cryptomb or qat") { $0["cryptomb"] != nil || $0["qat"] != nil }], open: true)),
    ], rules: [
        nonEmpty("configPath", "config path must be set"), nonEmpty("binaryPath", "binary path must be set"),
        nonEmpty("serviceCluster", "service cluster must be set"),
        nonEmpty("discoveryAddress", "discovery address must be set to the proxy discovery service (istiod's host:port)"),
        address("discoveryAddress"), address("statsdUdpAddress"), address("envoyMetricsServiceAddress"),
        duration("drainDuration", wholeSeconds: true),
        C.portRule("proxyAdminPort"), C.portRule("statusPort"),
        ObjectRule { config, path in
            guard let entry = config["proxyMetadata"]?.pairs?.first(where: { $0.key.scalarText == "ISTIO_META_DNS_AUTO_ALLOCATE" }) else { return [] }
            return [ValidationProblem(.warning, path: path + [.key("proxyMetadata"), .key("ISTIO_META_DNS_AUTO_ALLOCATE")], location: entry.key.location,
                                      message: "ISTIO_META_DNS_AUTO_ALLOCATE is deprecated: DNS auto-allocation v2 (the ServiceEntry address allocator) replaces it")]
        },
    ], open: true)

    /// The ECDH curves Envoy's TLS library knows.
    static let ecdhCurves: Set<String> = ["P-224", "P-256", "P-521", "P-384", "X25519", "X25519Kyber768Draft00", "X25519MLKEM768"]

    static let meshConfig = SchemaType.object(ObjectType("MeshConfig", [
        "proxyListenPort": .integer, "connectTimeout": .duration, "protocolDetectionTimeout": .duration,
        "defaultConfig": .object(proxyConfig),
        "serviceSettings": .list(.object(ObjectType("ServiceSettings", ["hosts": .list(.string)], rules: [
            SecuritySchemas.valuesRule(["hosts"], wildcardDomainProblem),
        ], open: true))),
        "trustDomain": .string, "trustDomainAliases": .list(.string),
        "localityLbSetting": NetworkingSchemas.loadBalancer.fields["localityLbSetting"] ?? .any,
        "zoneAwareLbSetting": .object(zoneAwareLbSetting),
        "defaultTrafficPolicy": .object(defaultTrafficPolicy),
        "defaultInboundHttpRetryPolicy": .object(inboundRetryPolicy),
        "meshMTLS": .object(ObjectType("TLSConfig", [:], rules: [
            .require("mesh TLS (meshMTLS) does not support ECDH curves; set them in tlsDefaults", at: "ecdhCurves") { $0["ecdhCurves"] == nil },
        ], open: true)),
        "tlsDefaults": .object(ObjectType("TLSConfig", ["ecdhCurves": .list(.string)], rules: [
            ObjectRule { tls, path in
                let curves = tls["ecdhCurves"]?.items ?? []
                return curves.enumerated().compactMap { index, item in
                    let name = item.scalarText ?? ""
                    let message = !name.isEmpty && !ecdhCurves.contains(name) ? "unrecognized ECDH curve \"\(name)\"; known: \(ecdhCurves.sorted().joined(separator: ", "))"
                        : curves[..<index].contains { $0.scalarText == name } ? "ECDH curve \"\(name)\" is listed twice" : nil
                    return message.map { ValidationProblem(.warning, path: path + [.key("ecdhCurves"), .index(index)], location: item.location, message: $0) }
                }
            },
        ], open: true)),
    ], rules: [
        C.portRule("proxyListenPort"),
        duration("connectTimeout", maximumSeconds: 3600),
        duration("protocolDetectionTimeout", zeroAllowed: true),
        text("trustDomain", domainProblem),
        SecuritySchemas.valuesRule(["trustDomainAliases"], domainProblem),
    ], open: true))
}
