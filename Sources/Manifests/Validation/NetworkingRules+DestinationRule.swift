/// Istio's checks for DestinationRule: traffic policies, connection pools, outlier detection, load balancing,
/// client TLS, subsets and port-level settings. Sidecars reuse the connection pool checks.
extension NetworkingRules {
    static let destinationRule = rule { spec, findings in
        if let host = spec["host"], let text = host.scalarText, let problem = IstioNames.wildcardDomainProblem(text) {
            findings.error(host, [.key("host")], problem)
        }
        for (index, subset) in (spec["subsets"]?.items ?? []).enumerated() {
            let at: [YAMLPathComponent] = [.key("subsets"), .index(index)]
            if let name = subset["name"], let problem = subsetNameProblem(name.scalarText ?? "") { findings.error(name, at + [.key("name")], problem) }
            findings.problems += IstioNames.labelMapProblems(subset["labels"], findings.path + at + [.key("labels")])
        }
        if spec["workloadSelector"] != nil, let exportTo = spec["exportTo"]?.items, !exportTo.isEmpty {
            let values = exportTo.compactMap(\.scalarText)
            if values.contains(where: { $0 == "*" || $0 == "~" }) {
                findings.error(spec["exportTo"]!, [.key("exportTo")], "destination rule with workload selector cannot have exportTo beyond current namespace")
            } else if values.contains(".") && Set(values).count > 1 {
                findings.error(spec["exportTo"]!, [.key("exportTo")], "destination rule with workload selector cannot have multiple entries in exportTo")
            }
        }
        if let selector = spec["workloadSelector"], (selector["matchLabels"]?.pairs ?? []).isEmpty {
            findings.warning(selector, [.key("workloadSelector")], "workload selector specified without labels")
        }
    }

    static let trafficPolicy = rule { policy, findings in
        if policy["tunnel"] != nil && policy["proxyProtocol"] != nil {
            findings.error(policy, [], "tunnel and proxyProtocol must not be set together")
        }
        if let failover = localityFailoverWithoutOutlier(policy) { findings.warning(failover, [.key("loadBalancer")], "outlier detection policy must be provided for failover") }
    }

    private static func localityFailoverWithoutOutlier(_ policy: YAMLNode) -> YAMLNode? {
        guard policy["outlierDetection"] == nil, let balancer = policy["loadBalancer"] else { return nil }
        for field in ["localityLbSetting", "zoneAwareLbSetting"] {
            if let setting = balancer[field], !(setting["failover"]?.items ?? []).isEmpty || !(setting["failoverPriority"]?.items ?? []).isEmpty {
                return balancer
            }
        }
        return nil
    }

    static let portTrafficPolicy = rule { policy, findings in
        if policy["port"] == nil { findings.error(policy, [.key("port")], "portTrafficPolicy must have valid port") }
        if !["outlierDetection", "connectionPool", "loadBalancer", "tls"].contains(where: { policy[$0] != nil }) {
            findings.error(policy, [], "port traffic policy must have at least one field: outlierDetection, connectionPool, loadBalancer or tls")
        }
        if let failover = localityFailoverWithoutOutlier(policy) { findings.warning(failover, [.key("loadBalancer")], "outlier detection policy must be provided for failover") }
    }

    static let tunnel = rule { tunnel, findings in
        if let proto = tunnel["protocol"], let text = proto.scalarText, !text.isEmpty, text != "CONNECT", text != "POST" {
            findings.error(proto, [.key("protocol")], "tunnel protocol must be \"CONNECT\" or \"POST\"")
        }
        if let host = tunnel["targetHost"], let text = host.scalarText, !IPAddressText.isAddress(text), let problem = IstioNames.fqdnProblem(text) {
            findings.error(host, [.key("targetHost")], "tunnel target host must be valid FQDN or IP address: \(problem)")
        }
        if let port = tunnel["targetPort"], let number = port.int, let problem = portProblem(number) {
            findings.error(port, [.key("targetPort")], "tunnel target port is invalid: \(problem)")
        }
    }

    static let outlierDetection = rule { detection, findings in
        if detection["splitExternalLocalOriginErrors"]?.bool != true, let failures = detection["consecutiveLocalOriginFailures"], (failures.int ?? 0) > 0 {
            findings.error(failures, [.key("consecutiveLocalOriginFailures")],
                           "outlier detection consecutive local origin failures is specified, but split external local origin errors is set to false")
        }
    }

    static let connectionPool = rule { pool, findings in
        if pool["http"] == nil && pool["tcp"] == nil {
            return findings.error(pool, [], "connection pool must have at least one field: http or tcp")
        }
        let nonNegative = [("http", "http1MaxPendingRequests", "http1 max pending requests"), ("http", "http2MaxRequests", "http2 max requests"),
                           ("http", "maxRequestsPerConnection", "max requests per connection"), ("http", "maxRetries", "max retries"),
                           ("http", "maxConcurrentStreams", "max concurrent streams"), ("tcp", "maxConnections", "max connections")]
        for (section, field, words) in nonNegative {
            if let value = pool[section]?[field], let number = value.int, number < 0 {
                findings.error(value, [.key(section), .key(field)], "\(words) must be non-negative")
            }
        }
        if let http = pool["http"] {
            if http["h2UpgradePolicy"]?.scalarText == "UPGRADE", http["useClientProtocol"]?.bool == true {
                findings.error(http["useClientProtocol"]!, [.key("http"), .key("useClientProtocol")], "use client protocol must not be true when H2UpgradePolicy is UPGRADE")
            }
            if let keepalive = http["http2KeepAlive"] {
                for field in ["interval", "timeout"] where keepalive[field] == nil {
                    findings.error(keepalive, [.key("http"), .key("http2KeepAlive"), .key(field)], "http2 keepalive \(field) is required")
                }
            }
        }
        // A TCP idle timeout of 0s turns the timeout off; other durations are at least 1ms (the schema) and whole ms.
        let durations: [[String]] = [["http", "idleTimeout"], ["http", "http2KeepAlive", "interval"], ["http", "http2KeepAlive", "timeout"],
                                     ["tcp", "connectTimeout"], ["tcp", "maxConnectionDuration"], ["tcp", "idleTimeout"],
                                     ["tcp", "tcpKeepalive", "time"], ["tcp", "tcpKeepalive", "interval"]]
        for keys in durations {
            let at = keys.map { YAMLPathComponent.key($0) }
            guard let value = pool.value(at: at) else { continue }
            if keys == ["tcp", "idleTimeout"] {
                if let seconds = value.string.flatMap(DurationText.seconds), seconds > 0, seconds < 0.001 {
                    findings.error(value, at, "duration must be at least 1ms (or 0s to turn the idle timeout off)")
                }
            }
            if let problem = durationPrecisionProblem(value) { findings.error(value, at, problem) }
        }
    }

    static let consistentHash = rule { hash, findings in
        if let cookie = hash["httpCookie"] {
            if (cookie["name"]?.scalarText ?? "").isEmpty { findings.error(cookie, [.key("httpCookie"), .key("name")], "name required for HttpCookie") }
            var names: Set<String> = []
            for (index, attribute) in (cookie["attributes"]?.items ?? []).enumerated() {
                let name = attribute["name"]?.scalarText ?? ""
                let at: [YAMLPathComponent] = [.key("httpCookie"), .key("attributes"), .index(index), .key("name")]
                if name.isEmpty {
                    findings.error(attribute, at, "cookie attribute name cannot be empty")
                } else if !names.insert(name).inserted {
                    findings.error(attribute, at, "duplicate cookie attribute name: \(name)")
                }
            }
        }
        if let ring = hash["minimumRingSize"], (ring.int ?? 0) != 0 {
            findings.warning(ring, [.key("minimumRingSize")], "consistent hash MinimumRingSize is deprecated, use ConsistentHashLB's RingHash configuration instead")
            if hash["ringHash"] != nil || hash["maglev"] != nil {
                findings.error(ring, [.key("minimumRingSize")], "only one of MinimumRingSize or Maglev/Ringhash can be specified")
            }
        }
        if let maglev = hash["maglev"] {
            let size = maglev["tableSize"]?.int ?? 0
            let at: [YAMLPathComponent] = [.key("maglev"), .key("tableSize")]
            let node = maglev["tableSize"] ?? maglev
            if size == 0 { findings.error(node, at, "tableSize must be set for maglev") }
            if size >= 5_000_011 { findings.error(node, at, "tableSize must be less than 5000011 for maglev") }
            if !isPrime(size) { findings.error(node, at, "tableSize must be a prime number for maglev") }
        }
        if hash["ringHash"] != nil && hash["maglev"] != nil {
            findings.error(hash, [], "only one of ringHash or maglev may be set")
        }
    }

    /// Envoy's primality test for maglev table sizes (0 counts as prime there, and is refused separately).
    static func isPrime(_ number: Int) -> Bool {
        if number >= 0 && number < 4 { return true }
        if number % 2 == 0 || number < 0 { return false }
        var factor = 3
        while factor * factor <= number {
            if number % factor == 0 { return false }
            factor += 2
        }
        return true
    }

    static let loadBalancer = rule { balancer, findings in
        if balancer["localityLbSetting"] != nil && balancer["zoneAwareLbSetting"] != nil {
            findings.error(balancer, [], "only one of localityLbSetting and zoneAwareLbSetting can be set")
        }
        if let warmup = balancer["warmup"] {
            if let duration = warmup["duration"], let problem = durationPrecisionProblem(duration) { findings.error(duration, [.key("warmup"), .key("duration")], problem) }
            if let percent = warmup["minimumPercent"], let value = percent.double, value > 100 {
                findings.error(percent, [.key("warmup"), .key("minimumPercent")], "minimumPercent value should be less than or equal to 100")
            }
            if let aggression = warmup["aggression"], let value = aggression.double, value <= 0 {
                findings.error(aggression, [.key("warmup"), .key("aggression")], "aggression should be greater than 0")
            }
        }
    }

    static let localityLoadBalancer = rule { setting, findings in
        let distribute = setting["distribute"]?.items ?? [], failover = setting["failover"]?.items ?? []
        if !distribute.isEmpty && !failover.isEmpty {
            return findings.error(setting, [], "can not simultaneously specify 'distribute' and 'failover'")
        }
        if !failover.isEmpty {
            for (index, label) in (setting["failoverPriority"]?.items ?? []).enumerated() where topologyLabels.contains(label.scalarText ?? "") {
                return findings.error(label, [.key("failoverPriority"), .index(index)],
                                      "can not simultaneously set 'failover' and topology label '\(label.scalarText ?? "")' in 'failover_priority'")
            }
        }
        for (index, rule) in distribute.enumerated() {
            let at: [YAMLPathComponent] = [.key("distribute"), .index(index)]
            var total = 0
            for pair in rule["to"]?.pairs ?? [] {
                let weight = pair.value.int ?? 0
                if weight <= 0 || weight > 100 { return findings.error(pair.value, at + [.key("to"), .key(pair.key.scalarText ?? "")], "locality weight must be in range [1, 100]") }
                total += weight
            }
            if total != 100 { return findings.error(rule, at + [.key("to")], "total locality weight \(total) != 100") }
            if let problem = localitiesProblem((rule["to"]?.pairs ?? []).map { $0.key.scalarText ?? "" }) { findings.error(rule, at + [.key("to")], problem) }
        }
        if let problem = localitiesProblem(distribute.map { $0["from"]?.scalarText ?? "" }) { findings.error(setting, [.key("distribute")], problem) }
        failoverProblems(failover, words: "locality lb failover", &findings)
    }

    static let zoneAwareLoadBalancer = rule { setting, findings in
        for (index, label) in (setting["failoverPriority"]?.items ?? []).enumerated() where topologyLabels.contains(label.scalarText ?? "") {
            findings.error(label, [.key("failoverPriority"), .index(index)],
                           "'failover_priority' for zone aware lb must not use topology label '\(label.scalarText ?? "")'; region- and zone-level routing are handled automatically")
        }
        failoverProblems(setting["failover"]?.items ?? [], words: "zone aware lb failover", &findings)
    }

    private static let topologyLabels: Set<String> = ["topology.kubernetes.io/region", "topology.kubernetes.io/zone", "topology.istio.io/subzone"]

    private static func failoverProblems(_ failover: [YAMLNode], words: String, _ findings: inout Findings) {
        for (index, item) in failover.enumerated() {
            let from = item["from"]?.scalarText ?? "", to = item["to"]?.scalarText ?? ""
            let at: [YAMLPathComponent] = [.key("failover"), .index(index)]
            if from == to { findings.error(item, at, "\(words) settings must specify different regions") }
            if from.contains("/") || to.contains("/") { findings.error(item, at, "\(words) only specifies regions, not zones (no '/')") }
            if from.contains("*") || to.contains("*") { findings.error(item, at, "\(words) region should not contain '*' wildcard") }
        }
    }

    /// Localities `region[/zone[/subzone]]` with at most one trailing `*`, none empty, none overlapping another.
    static func localitiesProblem(_ localities: [String]) -> String? {
        var seen: [[String]] = []
        for locality in localities {
            let stars = locality.filter { $0 == "*" }.count
            if stars > 1 || (stars == 1 && !locality.hasSuffix("*")) {
                return "locality \(locality) wildcard '*' number can not exceed 1 and must be in the end"
            }
            let parts = locality.split(separator: "/", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
            if parts.contains(where: \.isEmpty) { return "locality \(locality) must not contain empty region/zone/subzone info" }
            // A locality overlaps an earlier one that is a prefix of it, or that takes a whole level (`*`).
            for earlier in seen {
                if zip(earlier, parts).allSatisfy({ $0 == $1 || $0 == "*" }) {
                    return "locality \(locality) overlap with previous specified ones"
                }
            }
            seen.append(parts)
        }
        return nil
    }

    /// Client TLS (DestinationRule `tls`): certificate fields that contradict each other, and what MUTUAL needs.
    static let clientTLS = rule { tls, findings in
        let mode = tls["mode"]?.scalarText ?? "DISABLE"
        let has = { (field: String) in !(tls[field]?.scalarText ?? "").isEmpty || tls[field]?.items != nil }
        if let credential = tls["credentialName"]?.scalarText, credential.hasPrefix("configmap://") {
            let parts = credential.dropFirst("configmap://".count).split(separator: "/", omittingEmptySubsequences: false)
            if parts.count < 2 || parts[0].isEmpty || parts[1].isEmpty {
                findings.error(tls["credentialName"]!, [.key("credentialName")],
                               "invalid configmap:// credentialName \"\(credential)\": expected configmap://<namespace>/<name>")
            }
        }
        if tls["insecureSkipVerify"]?.bool == true {
            if mode == "SIMPLE" && (has("caCertificates") || has("credentialName") || has("subjectAltNames")) {
                findings.error(tls, [.key("insecureSkipVerify")], "cannot specify CaCertificates or CredentialName or SubjectAltNames when InsecureSkipVerify is set true")
            }
            if mode == "MUTUAL" && (has("caCertificates") || has("subjectAltNames")) {
                findings.error(tls, [.key("insecureSkipVerify")], "cannot specify CaCertificates or SubjectAltNames when InsecureSkipVerify is set true")
            }
        }
        if (mode == "SIMPLE" || mode == "MUTUAL") && has("credentialName") {
            if ["clientCertificate", "caCertificates", "privateKey", "caCrl"].contains(where: has) {
                findings.error(tls, [.key("credentialName")], "cannot specify client certificates or CA certificate or CA CRL If credentialName is set")
            }
            return
        }
        if mode == "MUTUAL" {
            if !has("clientCertificate") { findings.error(tls, [.key("clientCertificate")], "client certificate required for mutual tls (or set credentialName)") }
            if !has("privateKey") { findings.error(tls, [.key("privateKey")], "private key required for mutual tls (or set credentialName)") }
        }
    }
}
