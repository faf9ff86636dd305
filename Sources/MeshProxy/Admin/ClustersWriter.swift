import ConfigValues

/// `/clusters` as text (`cluster::key::value` lines) and as JSON (`cluster_statuses`), in Envoy's shapes.
struct ClustersWriter {
    let proxy: ProxyServer

    private var clusters: [UpstreamCluster] {
        proxy.store.current.clusters.compactMap { proxy.runtime.clusters[$0.name] }
    }

    func text() -> String {
        var out = ""
        for cluster in clusters {
            let name = cluster.config.name
            let thresholds = cluster.config.thresholds
            out += "\(name)::observability_name::\(name)\n"
            let rates = cluster.successRates(), local = cluster.successRates(localOrigin: true)
            if cluster.config.outlierDetection != nil {
                out += "\(name)::outlier::success_rate_average::\(Self.rate(rates.average))\n"
                out += "\(name)::outlier::success_rate_ejection_threshold::\(Self.rate(rates.threshold))\n"
                out += "\(name)::outlier::local_origin_success_rate_average::\(Self.rate(local.average))\n"
                out += "\(name)::outlier::local_origin_success_rate_ejection_threshold::\(Self.rate(local.threshold))\n"
            }
            out += "\(name)::default_priority::max_connections::\(thresholds.maxConnections)\n"
            out += "\(name)::default_priority::max_pending_requests::\(thresholds.maxPendingRequests)\n"
            out += "\(name)::default_priority::max_requests::\(thresholds.maxRequests)\n"
            out += "\(name)::default_priority::max_retries::\(thresholds.maxRetries)\n"
            out += "\(name)::high_priority::max_connections::1024\n\(name)::high_priority::max_pending_requests::1024\n"
            out += "\(name)::high_priority::max_requests::1024\n\(name)::high_priority::max_retries::3\n"
            out += "\(name)::added_via_api::false\n"
            let counters = cluster.counters
            for (index, endpoint) in cluster.presentHosts {
                let host = "\(name)::\(endpoint.address)::"
                let c = counters[index]
                let values: [(String, String)] = [
                    ("cx_active", "\(c.activeConnections)"), ("cx_connect_fail", "\(c.connectFailures)"), ("cx_total", "\(c.totalConnections)"),
                    ("rq_active", "\(c.activeRequests)"), ("rq_error", "\(c.totalRequests - c.successes - c.activeRequests)"), ("rq_pending_active", "0"),
                    ("rq_success", "\(c.successes)"), ("rq_timeout", "\(c.timeouts)"), ("rq_total", "\(c.totalRequests)"), ("hostname", endpoint.hostname),
                    ("health_flags", cluster.isEjected(index) ? "/failed_outlier_check" : "healthy"), ("weight", "\(endpoint.weight)"),
                    ("region", endpoint.region), ("zone", endpoint.zone), ("sub_zone", endpoint.subZone), ("canary", "false"),
                    ("priority", "\(endpoint.priority)"), ("success_rate", Self.rate(rates.hosts.indices.contains(index) ? rates.hosts[index] : nil)), ("local_origin_success_rate", Self.rate(local.hosts.indices.contains(index) ? local.hosts[index] : nil)),
                ]
                for (key, value) in values { out += host + key + "::" + value + "\n" }
            }
        }
        return out
    }

    /// A success rate as Envoy prints a double: shortest form, no `.0` on whole numbers; -1 when there is none.
    static func rate(_ value: Double?) -> String {
        guard let value else { return "-1" }
        return value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : "\(value)"
    }

    func json() -> JSONValue {
        .object([("cluster_statuses", .array(clusters.map { cluster in
            let thresholds = cluster.config.thresholds
            let counters = cluster.counters
            var status: [(key: String, value: JSONValue)] = [("name", .string(cluster.config.name))]
            let rates = cluster.successRates(), local = cluster.successRates(localOrigin: true)
            if let threshold = rates.threshold { status.append(("success_rate_ejection_threshold", .object([("value", .number(Self.rate(threshold)))]))) }
            let hosts = cluster.presentHosts.map { index, endpoint -> JSONValue in
                let c = counters[index]
                func stat(_ name: String, _ value: Int, gauge: Bool = false) -> JSONValue {
                    var pairs: [(key: String, value: JSONValue)] = []
                    if gauge { pairs.append(("type", .string("GAUGE"))) }
                    if value != 0 { pairs.append(("value", .string(String(value)))) }
                    pairs.append(("name", .string(name)))
                    return .object(pairs)
                }
                var health: [(key: String, value: JSONValue)] = []
                if cluster.isEjected(index) { health.append(("failed_outlier_check", .bool(true))) }
                health.append(("eds_health_status", .string("HEALTHY")))
                var locality: [(key: String, value: JSONValue)] = []
                if !endpoint.region.isEmpty { locality.append(("region", .string(endpoint.region))) }
                if !endpoint.zone.isEmpty { locality.append(("zone", .string(endpoint.zone))) }
                if !endpoint.subZone.isEmpty { locality.append(("sub_zone", .string(endpoint.subZone))) }
                var fields: [(key: String, value: JSONValue)] = [
                    ("address", ConfigDumpWriter.socketAddress(endpoint.address)),
                    ("stats", .array([stat("cx_connect_fail", c.connectFailures), stat("cx_total", c.totalConnections),
                                      stat("rq_error", max(0, c.totalRequests - c.successes - c.activeRequests)), stat("rq_success", c.successes),
                                      stat("rq_timeout", c.timeouts), stat("rq_total", c.totalRequests), stat("cx_active", c.activeConnections, gauge: true),
                                      stat("rq_active", c.activeRequests, gauge: true), stat("rq_pending_active", 0, gauge: true)])),
                    ("health_status", .object(health)),
                ]
                if rates.hosts.indices.contains(index), let rate = rates.hosts[index] { fields.append(("success_rate", .object([("value", .number(Self.rate(rate)))]))) }
                fields.append(("weight", .int(endpoint.weight)))
                if !endpoint.hostname.isEmpty { fields.append(("hostname", .string(endpoint.hostname))) }
                if endpoint.priority > 0 { fields.append(("priority", .int(endpoint.priority))) }
                if local.hosts.indices.contains(index), let rate = local.hosts[index] {
                    fields.append(("local_origin_success_rate", .object([("value", .number(Self.rate(rate)))])))
                }
                fields.append(("locality", .object(locality)))
                return .object(fields)
            }
            if !hosts.isEmpty { status.append(("host_statuses", .array(hosts))) }
            if let threshold = local.threshold {
                status.append(("local_origin_success_rate_ejection_threshold", .object([("value", .number(Self.rate(threshold)))])))
            }
            status.append(("circuit_breakers", .object([("thresholds", .array([
                .object([("max_connections", .int(thresholds.maxConnections)), ("max_pending_requests", .int(thresholds.maxPendingRequests)),
                         ("max_requests", .int(thresholds.maxRequests)), ("max_retries", .int(thresholds.maxRetries))]),
                .object([("priority", .string("HIGH")), ("max_connections", .int(1024)), ("max_pending_requests", .int(1024)),
                         ("max_requests", .int(1024)), ("max_retries", .int(3))]),
            ]))])))
            status.append(("observability_name", .string(cluster.config.name)))
            return .object(status)
        }))])
    }
}
