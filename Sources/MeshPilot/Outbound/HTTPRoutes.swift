import Foundation
import ConfigValues

/// Outbound route configurations, one per HTTP port (named by the port, as istiod names them): a virtual host per
/// service, the VirtualService routes that apply to it or Istio's default route, and `allow_any` (or `block_all`
/// under REGISTRY_ONLY) for everything else.
struct HTTPRoutes {
    typealias J = EnvoyJSON
    let model: MeshModel
    let proxy: MeshWorkload
    /// `namespace/name` of the Gateway whose routes these are; nil for a sidecar (the `mesh` gateway).
    let gateway: String?
    let virtualServices: [IstioConfig]
    /// Each VirtualService's hosts, qualified from its namespace.
    private let qualifiedHosts: [[String]]

    init(model: MeshModel, proxy: MeshWorkload, gateway: String? = nil) {
        self.model = model
        self.proxy = proxy
        self.gateway = gateway
        virtualServices = model.virtualServices(visibleFrom: proxy.namespace, gateway: gateway ?? "mesh")
        qualifiedHosts = virtualServices.map { rule in
            (rule.spec["hosts"]?.array ?? []).compactMap(\.string).map { HostMatch.qualify($0, namespace: rule.namespace, domain: model.domain) }
        }
    }

    /// Istio's default outbound retry policy (`hashPolicy`: the destination uses consistent hashing, so no
    /// previous-hosts predicate).
    static func defaultRetryPolicy(hashPolicy: Bool = false) -> JSONValue {
        J.object([
            "retry_on": .string("connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes"),
            "num_retries": .int(2),
            "retry_host_predicate": hashPolicy ? nil : .array([J.object([
                "name": .string("envoy.retry_host_predicates.previous_hosts"),
                "typed_config": J.typed("envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate"),
            ])]),
            "host_selection_retry_max_attempts": .string("5"),
        ])
    }

    func routeConfiguration(port: Int, services: [MeshService]) -> JSONValue {
        var withRules: [(IstioConfig, MeshService)] = [], plain: [MeshService] = []
        for service in services {
            if let rule = virtualService(for: service) { withRules.append((rule, service)) } else { plain.append(service) }
        }
        var hosts = withRules.map { rule, service in
            virtualHost(service: service, port: port, routes: routes(of: rule, port: port))
        }
        hosts += plain.sorted { $0.hostname < $1.hostname }.map { service in
            virtualHost(service: service, port: port, routes: [defaultRoute(cluster: OutboundClusters.name(port: port, host: service.hostname),
                                                                            operation: "\(service.hostname):\(port)/*", service: service, port: port)])
        }
        hosts.append(model.registryOnly ? blockAll : allowAny)
        return J.object(["name": .string(String(port)), "virtual_hosts": .array(hosts), "validate_clusters": .bool(false),
                         "ignore_port_in_host_matching": .bool(true)])
    }

    var allowAny: JSONValue {
        J.object(["name": .string("allow_any"), "domains": J.strings(["*"]),
                  "routes": .array([J.object(["name": .string("allow_any"), "match": J.object(["prefix": .string("/")]),
                                              "route": J.object(["cluster": .string("PassthroughCluster"), "timeout": .string("0s"),
                                                                 "max_grpc_timeout": .string("0s")])])]),
                  "include_request_attempt_count": .bool(true)])
    }

    var blockAll: JSONValue {
        J.object(["name": .string("block_all"), "domains": J.strings(["*"]),
                  "routes": .array([J.object(["name": .string("block_all"), "match": J.object(["prefix": .string("/")]),
                                              "direct_response": J.object(["status": .int(502)])])]),
                  "include_request_attempt_count": .bool(true)])
    }

    /// The first VirtualService (oldest-first stand-in: namespace, name) whose hosts name the service.
    func virtualService(for service: MeshService) -> IstioConfig? {
        zip(virtualServices, qualifiedHosts).first { _, hosts in
            hosts.contains { HostMatch.matches(pattern: $0, host: service.hostname) }
        }?.0
    }

    func virtualHost(service: MeshService, port: Int, routes: [JSONValue]) -> JSONValue {
        J.object(["name": .string("\(service.hostname):\(port)"), "domains": J.strings(domains(service: service, port: port)),
                  "routes": .array(routes), "include_request_attempt_count": .bool(true)])
    }

    /// The names a client may use for the service, each with and without `:port`: the FQDN, the short forms that
    /// resolve from the proxy's namespace, and the ClusterIP.
    func domains(service: MeshService, port: Int) -> [String] {
        var names = [service.hostname]
        let suffix = ".svc.\(model.domain)"
        if service.serviceEntry == nil, service.hostname.hasSuffix(suffix) {
            if service.namespace == proxy.namespace { names.append(service.name) }
            names.append("\(service.name).\(service.namespace).svc")
            names.append("\(service.name).\(service.namespace)")
        }
        if let ip = service.clusterIP { names.append(ip) }
        return names.flatMap { [$0, "\($0):\(port)"] }
    }

    func defaultRoute(cluster: String, operation: String, service: MeshService?, port: Int) -> JSONValue {
        let hash = service.flatMap { LoadBalancing.hashPolicy(destinationPolicy(host: $0.hostname, subset: nil, port: port).loadBalancer) }
        return J.object([
            "name": .string("default"), "match": J.object(["prefix": .string("/")]),
            "decorator": J.object(["operation": .string(operation)]),
            "route": J.object(["cluster": .string(cluster), "timeout": .string("0s"), "retry_policy": Self.defaultRetryPolicy(hashPolicy: hash != nil),
                               "hash_policy": hash.map { .array([$0]) }, "max_grpc_timeout": .string("0s")]),
        ])
    }

    private func destinationPolicy(host: String, subset: String?, port: Int) -> TrafficPolicy {
        let namespace = model.services.first { $0.hostname == host }?.namespace ?? proxy.namespace
        return TrafficPolicy(rule: model.destinationRule(for: host, serviceNamespace: namespace, proxyNamespace: proxy.namespace), subset: subset, port: port)
    }

    // MARK: - VirtualService http routes

    func routes(of rule: IstioConfig, port: Int) -> [JSONValue] {
        var out: [JSONValue] = []
        for http in rule.spec["http"]?.array ?? [] {
            let matches = http["match"]?.array ?? []
            if matches.isEmpty {
                if let route = translate(http, match: nil, rule: rule, port: port) { out.append(route) }
                // A route without matches catches everything: later routes are unreachable.
                break
            }
            for match in matches {
                if let route = translate(http, match: match, rule: rule, port: port) { out.append(route) }
            }
        }
        return out
    }

    private func sourceMatches(_ match: JSONValue?, rule: IstioConfig) -> Bool {
        guard let match else { return true }
        // Source labels and namespaces select sidecars; a gateway is its own source.
        if let labels = match["sourceLabels"]?.stringMap, !labels.allSatisfy({ proxy.labels[$0.key] == $0.value }) { return false }
        if let namespace = match["sourceNamespace"]?.string, namespace != proxy.namespace { return false }
        if let gateways = match["gateways"]?.array?.compactMap(\.string), !gateways.isEmpty {
            guard let gateway else { return gateways.contains("mesh") }
            return gateways.contains { ($0.contains("/") ? $0 : "\(rule.namespace)/\($0)") == gateway }
        }
        return true
    }

    func translate(_ http: JSONValue, match: JSONValue?, rule: IstioConfig, port: Int) -> JSONValue? {
        if let matchPort = match?["port"]?.int, matchPort != port { return nil }
        guard sourceMatches(match, rule: rule) else { return nil }
        var name = http["name"]?.string ?? ""
        if let matchName = match?["name"]?.string, !matchName.isEmpty { name = name.isEmpty ? ".\(matchName)" : "\(name).\(matchName)" }
        var route = J.object(["name": name.isEmpty ? nil : .string(name), "match": RouteMatch.envoy(match)])
        route.set("metadata", J.object(["filter_metadata": J.object(["istio": J.object(["config": .string(rule.metadataPath)])])]))
        let headers = HeaderOperations(http["headers"])
        headers.apply(to: &route)
        if let redirect = http["redirect"] {
            route.set("redirect", Self.redirect(redirect))
        } else if let direct = http["directResponse"] {
            var response = J.object(["status": .int(direct["status"]?.int ?? 200)])
            if let body = direct["body"]?["string"]?.string { response.set("body", J.object(["inline_string": .string(body)])) }
            route.set("direct_response", response)
        } else {
            // A route with no destination (or only zero weights) would be a configuration Envoy refuses.
            guard (http["route"]?.array ?? []).contains(where: { ($0["weight"]?.int ?? 1) > 0 || http["route"]?.array?.count == 1 }) else { return nil }
            let routeAction = action(http, rule: rule, port: port, route: &route, authority: headers.authority)
            route.set("route", routeAction)
        }
        route.set("decorator", J.object(["operation": .string(operation(route, rule: rule, port: port))]))
        var perFilter = J.object([:])
        if let fault = http["fault"] { perFilter.set("envoy.filters.http.fault", Self.fault(fault)) }
        if let cors = http["corsPolicy"] { perFilter.set("envoy.filters.http.cors", Self.cors(cors)) }
        if perFilter.object?.isEmpty == false { route.set("typed_per_filter_config", perFilter) }
        return route
    }

    private func operation(_ route: JSONValue, rule: IstioConfig, port: Int) -> String {
        var path = "/*"
        if let prefix = route["match"]?["prefix"]?.string { path = prefix + "*" }
        else if let exact = route["match"]?["path"]?.string { path = exact }
        else if let regex = route["match"]?["safe_regex"]?["regex"]?.string { path = regex }
        if let cluster = route["route"]?["cluster"]?.string {
            let parts = cluster.split(separator: "|", omittingEmptySubsequences: false)
            if parts.count == 4 { return "\(parts[3]):\(parts[1])\(path)" }
        }
        return "\(rule.name):\(port)\(path)"
    }

    /// The cluster a VirtualService destination names: the host qualified from the VirtualService's namespace, its
    /// port (or the service's only port, or the listener's), its subset.
    func cluster(for destination: JSONValue?, rule: IstioConfig, port: Int) -> String {
        let host = HostMatch.qualify(destination?["host"]?.string ?? "", namespace: rule.namespace, domain: model.domain)
        var number = destination?.value(atPath: "port.number")?.int
        if number == nil, let service = model.services.first(where: { $0.hostname == host }) {
            number = service.ports.count == 1 ? service.ports[0].port : (service.port(port) != nil ? port : service.ports.first?.port)
        }
        return OutboundClusters.name(port: number ?? port, subset: destination?["subset"]?.string, host: host)
    }

    private func action(_ http: JSONValue, rule: IstioConfig, port: Int, route: inout JSONValue, authority: String?) -> JSONValue {
        var action = J.object([:])
        let destinations = (http["route"]?.array ?? [])
        var hash: JSONValue?
        if destinations.count == 1 {
            let destination = destinations[0]
            action.set("cluster", .string(cluster(for: destination["destination"], rule: rule, port: port)))
            HeaderOperations(destination["headers"]).apply(to: &route)
            hash = hashPolicy(for: destination["destination"], rule: rule, port: port)
        } else {
            let weights = EnvoyJSON.boundedWeights(destinations.map { $0["weight"]?.int ?? 0 })
            let weighted = zip(destinations, weights).filter { $0.1 > 0 }.map { destination, weight -> JSONValue in
                var entry = J.object(["name": .string(cluster(for: destination["destination"], rule: rule, port: port)),
                                      "weight": .int(weight)])
                HeaderOperations(destination["headers"]).apply(to: &entry)
                return entry
            }
            action.set("weighted_clusters", J.object(["clusters": .array(weighted)]))
        }
        let timeout = TrafficPolicy.seconds(http["timeout"]) ?? 0
        action.set("timeout", J.duration(timeout))
        if let rewrite = http["rewrite"] {
            if let regex = rewrite["uriRegexRewrite"] {
                action.set("regex_rewrite", J.object(["pattern": J.object(["regex": regex["match"] ?? .string("")]),
                                                      "substitution": regex["rewrite"] ?? .string("")]))
            } else if let uri = rewrite["uri"]?.string, !uri.isEmpty {
                action.set("prefix_rewrite", .string(uri))
            }
        }
        if let host = http["rewrite"]?["authority"]?.string ?? authority { action.set("host_rewrite_literal", .string(host)) }
        action.set("retry_policy", retryPolicy(http["retries"], hashPolicy: hash != nil))
        if let hash { action.set("hash_policy", .array([hash])) }
        if let mirror = http["mirror"] {
            let percent = http["mirrorPercentage"]?["value"].flatMap { value -> Double? in value.int.map(Double.init) ?? value.double }
                ?? http["mirrorPercent"]?.int.map(Double.init) ?? 100
            if percent > 0 {
                action.set("request_mirror_policies", .array([J.object([
                    "cluster": .string(cluster(for: mirror, rule: rule, port: port)),
                    "runtime_fraction": J.object(["default_value": J.millionths(percent: percent)]),
                    "trace_sampled": .bool(false),
                ])]))
            }
        }
        action.set("max_grpc_timeout", J.duration(timeout))
        return action
    }

    private func hashPolicy(for destination: JSONValue?, rule: IstioConfig, port: Int) -> JSONValue? {
        let name = cluster(for: destination, rule: rule, port: port).split(separator: "|", omittingEmptySubsequences: false).map(String.init)
        guard name.count == 4, let number = Int(name[1]) else { return nil }
        return LoadBalancing.hashPolicy(destinationPolicy(host: name[3], subset: name[2].isEmpty ? nil : name[2], port: number).loadBalancer)
    }

    /// A VirtualService `retries` block (nil: Istio's default; attempts 0: no retries).
    func retryPolicy(_ retries: JSONValue?, hashPolicy: Bool) -> JSONValue? {
        guard let retries else { return Self.defaultRetryPolicy(hashPolicy: hashPolicy) }
        guard let attempts = retries["attempts"]?.int, attempts > 0 else { return nil }
        var policy = Self.defaultRetryPolicy(hashPolicy: hashPolicy)
        policy.set("num_retries", .int(attempts))
        if let retryOn = retries["retryOn"]?.string {
            var names: [String] = [], codes: [Int] = []
            for part in retryOn.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !part.isEmpty {
                if let code = Int(part), (100...599).contains(code) { codes.append(code) } else { names.append(part) }
            }
            if !codes.isEmpty, !names.contains("retriable-status-codes") { names.append("retriable-status-codes") }
            policy.set("retry_on", .string(names.joined(separator: ",")))
            if !codes.isEmpty { policy.set("retriable_status_codes", .array(codes.map(JSONValue.int))) }
        }
        if let perTry = TrafficPolicy.seconds(retries["perTryTimeout"]) { policy.set("per_try_timeout", J.duration(perTry)) }
        if retries["retryIgnorePreviousHosts"]?.bool == false { policy.set("retry_host_predicate", nil) }
        return policy
    }

    static func redirect(_ redirect: JSONValue) -> JSONValue {
        var out = J.object([:])
        if let uri = redirect["uri"]?.string { out.set("path_redirect", .string(uri)) }
        if let authority = redirect["authority"]?.string { out.set("host_redirect", .string(authority)) }
        if let port = redirect["port"]?.int { out.set("port_redirect", .int(port)) }
        if let scheme = redirect["scheme"]?.string { out.set(scheme == "https" ? "https_redirect" : "scheme_redirect", scheme == "https" ? .bool(true) : .string(scheme)) }
        let codes = [301: "MOVED_PERMANENTLY", 302: "FOUND", 303: "SEE_OTHER", 307: "TEMPORARY_REDIRECT", 308: "PERMANENT_REDIRECT"]
        if let code = redirect["redirectCode"]?.int, code != 301, let name = codes[code] { out.set("response_code", .string(name)) }
        return out
    }

    /// A VirtualService `fault` as the fault filter's per-route HTTPFault (percentages over a million; 100% when unset).
    static func fault(_ fault: JSONValue) -> JSONValue {
        func percentage(_ node: JSONValue) -> JSONValue {
            if let value = node["percentage"]?["value"] { return J.millionths(percent: value.int.map(Double.init) ?? value.double ?? 100) }
            if let percent = node["percent"]?.int { return J.object(["numerator": .int(percent), "denominator": .string("HUNDRED")]) }
            return J.millionths(percent: 100)
        }
        var out = J.typed("envoy.extensions.filters.http.fault.v3.HTTPFault")
        if let delay = fault["delay"], let seconds = TrafficPolicy.seconds(delay["fixedDelay"]) {
            out.set("delay", J.object(["fixed_delay": J.duration(seconds), "percentage": percentage(delay)]))
        }
        if let abort = fault["abort"] {
            var entry = J.object([:])
            if let status = abort["httpStatus"]?.int { entry.set("http_status", .int(status)) }
            if let status = abort["grpcStatus"]?.string { entry.set("grpc_status", .int(GRPCStatus.code(status))) }
            entry.set("percentage", percentage(abort))
            out.set("abort", entry)
        }
        return out
    }

    static func cors(_ policy: JSONValue) -> JSONValue {
        var out = J.typed("envoy.extensions.filters.http.cors.v3.CorsPolicy")
        let origins = (policy["allowOrigins"]?.array ?? []).map(RouteMatch.stringMatch)
        if !origins.isEmpty { out.set("allow_origin_string_match", .array(origins)) }
        for (field, key) in [("allowMethods", "allow_methods"), ("allowHeaders", "allow_headers"), ("exposeHeaders", "expose_headers")] {
            if let items = policy[field]?.array?.compactMap(\.string), !items.isEmpty { out.set(key, .string(items.joined(separator: ","))) }
        }
        if let age = TrafficPolicy.seconds(policy["maxAge"]) { out.set("max_age", .string(String(Int(age)))) }
        if let credentials = policy["allowCredentials"]?.bool { out.set("allow_credentials", .bool(credentials)) }
        // `unmatchedPreflights: IGNORE`: a preflight from an origin not allowed is answered without CORS headers.
        if policy["unmatchedPreflights"]?.string == "IGNORE" { out.set("forward_not_matching_preflights", .bool(false)) }
        out.set("filter_enabled", J.object(["default_value": J.object(["numerator": .int(100)])]))
        return out
    }
}

/// gRPC status names to their codes.
enum GRPCStatus {
    static let names = ["OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED",
                        "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"]
    static func code(_ name: String) -> Int { names.firstIndex(of: name.uppercased()) ?? Int(name) ?? 2 }
}
