import EnvoyConfig
import KubeClient
import Manifests

/// The text of `x describe`: for a workload's Services, the DestinationRule and VirtualService its proxy applies
/// (found through the proxy's config dump, read from the cluster by name), the ingress gateways that expose it, and
/// its effective PeerAuthentication; laid out as istioctl lays it out.
struct DescribeReport {
    let client: KubernetesClient
    /// Objects of this namespace are shown by name, others as `name.namespace`.
    let describeNamespace: String
    let adminPort: Int
    private(set) var text = ""
    /// Config dumps already read (or the failure reading them), by `name.namespace`: each pod's admin port is asked once.
    private var dumps: [String: Result<ConfigDump, CommandFailure>] = [:]
    /// One line each (for standard error): a proxy whose config dump could not be read, and what was shown instead.
    private(set) var warnings: [String] = []

    init(client: KubernetesClient, describeNamespace: String, adminPort: Int) {
        (self.client, self.describeNamespace, self.adminPort) = (client, describeNamespace, adminPort)
    }

    mutating func write(_ indent: Int, _ line: String) { text += String(repeating: " ", count: indent) + line + "\n" }

    /// `name`, or `name.namespace` outside the described namespace.
    func kname(_ object: JSONValue) -> String {
        let name = object["metadata"]?["name"]?.string ?? "", namespace = object["metadata"]?["namespace"]?.string ?? ""
        return namespace == describeNamespace ? name : "\(name).\(namespace)"
    }

    // MARK: Reading the cluster

    /// An Istio networking object by name; nil when it does not exist.
    func istioObject(_ resource: String, name: String, namespace: String) throws -> JSONValue? {
        do {
            return try client.get("/apis/networking.istio.io/v1/namespaces/\(KubernetesClient.percentEncoded(namespace))/\(resource)/\(KubernetesClient.percentEncoded(name))")
        } catch let error as APIStatusError where error.code == 404 {
            return nil
        } catch let error as APIStatusError {
            throw CommandFailure.fromServer(error.description)
        } catch let error as TransportError {
            throw CommandFailure(error.description)
        }
    }

    /// The pod's config dump; a failure names the pod and `what` it is (sidecar, ingress gateway sidecar).
    mutating func configDump(of pod: JSONValue, what: String) throws -> ConfigDump {
        let name = pod["metadata"]?["name"]?.string ?? "", namespace = pod["metadata"]?["namespace"]?.string ?? ""
        let key = "\(name).\(namespace)"
        if dumps[key] == nil {
            do { dumps[key] = .success(try readConfigDump(name: name, namespace: namespace, what: what)) } catch let error as CommandFailure {
                dumps[key] = .failure(error)
            }
        }
        return try dumps[key]!.get()
    }

    private func readConfigDump(name: String, namespace: String, what: String) throws -> ConfigDump {
        let body: [UInt8]
        do {
            body = try ProxyAdminSource.adminGet(client, pod: name, namespace: namespace, port: adminPort, path: "config_dump", checked: true)
        } catch let error as CommandFailure {
            throw CommandFailure("could not read the config dump of \(what) \(name).\(namespace): \(error.message)")
        }
        do { return try ConfigDump(text: String(decoding: body, as: UTF8.self), source: "pod \(name).\(namespace)") } catch {
            throw CommandFailure("the config dump of \(what) \(name).\(namespace) is not readable: \(error.description)")
        }
    }

    // MARK: Services

    /// Each Service: its ports, then per port the DestinationRule and VirtualService the pod's proxy applies.
    /// The pod's config dump when its admin port answers; else nil, and a warning that the rules shown are the
    /// cluster's for the Service's host rather than the ones the proxy applies.
    mutating func reachableConfigDump(of pod: JSONValue, what: String) -> ConfigDump? {
        do { return try configDump(of: pod, what: what) } catch {
            let message = (error as? CommandFailure)?.message ?? "\(error)"
            warnings.append("warning: \(message); the DestinationRule and VirtualService shown are the cluster's for the Service's host, "
                            + "not necessarily what this proxy applies")
            return nil
        }
    }

    mutating func describeServices(_ services: [JSONValue], pod: JSONValue, podsLabels: [[String: String]]) throws {
        let dump = reachableConfigDump(of: pod, what: "sidecar")
        for (row, service) in services.enumerated() {
            if row != 0 { write(0, "--------------------") }
            write(0, "Service: \(kname(service))")
            for port in service["spec"]?["ports"]?.array ?? [] where (port["protocol"]?.string ?? "TCP") == "TCP" {
                let number = port["port"]?.int ?? 0
                let target = port["targetPort"]?.int.map(String.init) ?? Self.containerPort(named: port["targetPort"]?.string, in: pod) ?? String(number)
                write(3, "Port: \(port["name"]?.string ?? "") \(number)/\(WorkloadFacts.protocolName(port)) targets pod port \(target)")
            }
            let ports = service["spec"]?["ports"]?.array ?? []
            let level = ports.count > 1 ? 3 : 0
            for port in ports {
                let number = port["port"]?.int ?? 0
                if ports.count > 1 { write(0, "\(number):") }
                let routing = try self.routing(service: service, port: number, dump: dump, podsLabels: podsLabels)
                if let rule = routing.destinationRule { describeDestinationRule(rule, podsLabels: podsLabels, level: level) }
                if let stale = routing.stale { write(0, stale) }
                if let virtualService = routing.virtualService {
                    describeVirtualService(virtualService, service: service, routing: routing, level: level)
                }
            }
        }
    }

    /// The number of the pod's container port called `name`.
    static func containerPort(named name: String?, in pod: JSONValue) -> String? {
        guard let name else { return nil }
        for container in pod["spec"]?["containers"]?.array ?? [] {
            if let port = (container["ports"]?.array ?? []).first(where: { $0["name"]?.string == name }) { return port["containerPort"]?.int.map(String.init) }
        }
        return nil
    }

    /// What a proxy applies to one port of a Service.
    struct Routing {
        var destinationRule: JSONValue?
        var virtualService: JSONValue?
        var matchingSubsets: [String] = []
        var nonMatchingSubsets: [String] = []
        /// A warning when the proxy names an object the cluster no longer has.
        var stale: String?
    }

    /// The Service port's DestinationRule and VirtualService: those the proxy's config dump names, or without a dump
    /// the cluster's whose host names the Service (the Service's namespace first).
    func routing(service: JSONValue, port: Int, dump: ConfigDump?, podsLabels: [[String: String]]) throws -> Routing {
        let name = service["metadata"]?["name"]?.string ?? "", namespace = service["metadata"]?["namespace"]?.string ?? ""
        guard let dump else { return try routingFromCluster(service: service, podsLabels: podsLabels) }
        var routing = Routing()
        var stale: [String] = []
        if let reference = ConfigDump.objectReference(dump.destinationRulePath(service: name, namespace: namespace, port: port), kind: "destination-rule") {
            if let rule = try istioObject("destinationrules", name: reference.name, namespace: reference.namespace) {
                routing.destinationRule = rule
                (routing.matchingSubsets, routing.nonMatchingSubsets) = Self.subsets(of: rule, podsLabels: podsLabels)
            } else {
                stale.append("WARNING: Proxy is stale; it references to non-existent destination rule \(reference.name).\(reference.namespace)")
            }
        }
        if let reference = ConfigDump.objectReference(dump.virtualServicePath(service: name, namespace: namespace, port: port), kind: "virtual-service") {
            if let virtualService = try istioObject("virtualservices", name: reference.name, namespace: reference.namespace) {
                routing.virtualService = virtualService
            } else {
                stale.append("WARNING: Proxy is stale; it references to non-existent virtual service \(reference.name).\(reference.namespace)")
            }
        }
        routing.stale = stale.isEmpty ? nil : stale.joined(separator: "\n")
        return routing
    }

    func routingFromCluster(service: JSONValue, podsLabels: [[String: String]]) throws -> Routing {
        let namespace = service["metadata"]?["namespace"]?.string ?? ""
        let host = "\(service["metadata"]?["name"]?.string ?? "").\(namespace).svc.cluster.local"
        func inOrder(_ objects: [JSONValue]) -> [JSONValue] {
            objects.filter { $0["metadata"]?["namespace"]?.string == namespace } + objects.filter { $0["metadata"]?["namespace"]?.string != namespace }
        }
        var routing = Routing()
        routing.destinationRule = inOrder(try istioObjects("destinationrules")).first { rule in
            PodConcerns.hostMatches(rule["spec"]?["host"]?.string, in: rule["metadata"]?["namespace"]?.string ?? "", [host])
        }
        if let rule = routing.destinationRule { (routing.matchingSubsets, routing.nonMatchingSubsets) = Self.subsets(of: rule, podsLabels: podsLabels) }
        routing.virtualService = inOrder(try istioObjects("virtualservices")).first { virtualService in
            let home = virtualService["metadata"]?["namespace"]?.string ?? ""
            return (virtualService["spec"]?["hosts"]?.array ?? []).contains { PodConcerns.hostMatches($0.string, in: home, [host]) }
        }
        return routing
    }

    /// Every Istio networking object of a resource (`destinationrules`), none when the API is not served.
    func istioObjects(_ resource: String) throws -> [JSONValue] {
        try ClusterConnection.call {
            do { return try client.list("/apis/networking.istio.io/v1/\(resource)") } catch let error as APIStatusError where error.code == 404 { return [] }
        }
    }

    /// The rule's subsets whose labels some pod has, and the others.
    static func subsets(of rule: JSONValue, podsLabels: [[String: String]]) -> ([String], [String]) {
        var matching: [String] = [], nonMatching: [String] = []
        for subset in rule["spec"]?["subsets"]?.array ?? [] {
            let labels = subset["labels"]?.stringMap ?? [:]
            let name = subset["name"]?.string ?? ""
            if podsLabels.contains(where: { pod in labels.allSatisfy { pod[$0.key] == $0.value } }) { matching.append(name) } else { nonMatching.append(name) }
        }
        return (matching, nonMatching)
    }

    // MARK: DestinationRule

    mutating func describeDestinationRule(_ rule: JSONValue, podsLabels: [[String: String]], level: Int) {
        let spec = rule["spec"]
        write(level, "DestinationRule: \(kname(rule)) for \"\(spec?["host"]?.string ?? "")\"")
        let (matching, nonMatching) = Self.subsets(of: rule, podsLabels: podsLabels)
        if !matching.isEmpty || !nonMatching.isEmpty {
            if matching.isEmpty {
                write(level + 3, "WARNING POD DOES NOT MATCH ANY SUBSETS.  (Non matching subsets \(nonMatching.joined(separator: ",")))")
            }
            write(level + 3, "Matching subsets: \(matching.joined(separator: ","))")
            if !nonMatching.isEmpty { write(level + 6, "(Non-matching subsets \(nonMatching.joined(separator: ",")))") }
        }
        guard let policy = spec?["trafficPolicy"], !policy.isNull else { return write(level + 3, "No Traffic Policy") }
        if let tls = policy["tls"] { write(level + 3, "Traffic Policy TLS Mode: \(tls["mode"]?.string ?? "DISABLE")") }
        if let policies = Self.shortPolicies(policy) { write(level + 3, policies) }
        if let settings = policy["portLevelSettings"]?.array {
            write(level + 3, "Port Level Settings:")
            for setting in settings {
                // istioctl indents the port numbers by four spaces whatever the level.
                write(4, "\(setting["port"]?["number"]?.int ?? 0):")
                if let tls = setting["tls"] { write(level + 6, "TLS Mode: \(tls["mode"]?.string ?? "DISABLE")") }
                if let policies = Self.shortPolicies(setting) { write(level + 6, policies) }
            }
        }
    }

    /// `Policies: load balancer/connection pool/outlier detection` for the ones set; nil for none.
    static func shortPolicies(_ policy: JSONValue) -> String? {
        let names = [("loadBalancer", "load balancer"), ("connectionPool", "connection pool"), ("outlierDetection", "outlier detection")]
            .filter { policy[$0.0] != nil }.map(\.1)
        return names.isEmpty ? nil : "Policies: \(names.joined(separator: "/"))"
    }

    // MARK: VirtualService

    mutating func describeVirtualService(_ virtualService: JSONValue, service: JSONValue, routing: Routing, level: Int) {
        write(level, "VirtualService: \(kname(virtualService))")
        let spec = virtualService["spec"]
        let namespace = virtualService["metadata"]?["namespace"]?.string ?? ""
        let serviceHost = Self.fqdn("\(service["metadata"]?["name"]?.string ?? "").\(service["metadata"]?["namespace"]?.string ?? "")", namespace: namespace)
        var matches = 0, facts = 0
        var mismatchNotes: [String] = []
        let httpRoutes = spec?["http"]?.array ?? [], tcpRoutes = spec?["tcp"]?.array ?? [], tlsRoutes = spec?["tls"]?.array ?? []
        for route in httpRoutes {
            let (matched, newFacts) = Self.httpRouteFacts(route, serviceHost: serviceHost, namespace: namespace, routing: routing, ruleName: routing.destinationRule.map(kname))
            if matched {
                matches += 1
                for fact in newFacts { write(level + 3, fact); facts += 1 }
            } else {
                mismatchNotes += newFacts
            }
        }
        for route in tcpRoutes {
            let destinations = (route["route"]?.array ?? []).map { Self.fqdn($0["destination"]?["host"]?.string ?? "", namespace: namespace) }
            guard destinations.contains(serviceHost) else { continue }
            matches += 1
            for match in route["match"]?.array ?? [] { write(level + 3, match.serialized); facts += 1 }
        }
        if matches == 0 {
            if !httpRoutes.isEmpty { write(level + 3, "WARNING: No destinations match pod subsets (checked \(httpRoutes.count) HTTP routes)") }
            if !tcpRoutes.isEmpty { write(level + 3, "WARNING: No destinations match pod subsets (checked \(tcpRoutes.count) TCP routes)") }
            for note in mismatchNotes { write(level + 6, note) }
            return
        }
        let possible = httpRoutes.count + tlsRoutes.count + tcpRoutes.count
        if matches < possible {
            // Matching traffic may still be taken by an earlier route: only the count of the others is certain.
            write(level + 3, "\(possible - matches) additional destination(s) that will not reach this pod")
            if facts == 0 { for note in mismatchNotes { write(level + 6, note) } }
            return
        }
        if facts == 0 {
            if !httpRoutes.isEmpty { write(level + 3, "\(httpRoutes.count) HTTP route(s)") }
            if !tcpRoutes.isEmpty { write(level + 3, "\(tcpRoutes.count) TCP route(s)") }
        }
    }

    /// `reviews` in namespace `default` → `reviews.default.svc.cluster.local`; wildcards and FQDNs stay.
    static func fqdn(_ host: String, namespace: String) -> String {
        if host.hasPrefix("*") { return host }
        let qualified = host.contains(".") ? host : "\(host).\(namespace)"
        return qualified.hasSuffix(".svc.cluster.local") ? qualified : qualified + ".svc.cluster.local"
    }

    /// Whether an HTTP route sends traffic to the Service (through a subset the pods match), and the lines that
    /// say how: destinations with weights, the match conditions, or why the route does not reach the pods.
    static func httpRouteFacts(_ route: JSONValue, serviceHost: String, namespace: String, routing: Routing, ruleName: String?) -> (Bool, [String]) {
        var facts: [String] = [], mismatchNotes: [String] = []
        var matched = false
        let matches = route["match"]?.array ?? []
        for destination in route["route"]?.array ?? [] {
            let host = destination["destination"]?["host"]?.string ?? ""
            let subset = destination["destination"]?["subset"]?.string ?? ""
            let weight = destination["weight"]?.int ?? 0
            guard fqdn(host, namespace: namespace) == serviceHost else {
                facts.append(subset.isEmpty ? "Route to host \"\(host)\" with weight \(weight)%" : "Route to \(host) with invalid config")
                continue
            }
            if !subset.isEmpty {
                if routing.nonMatchingSubsets.contains(subset) {
                    mismatchNotes.append("Route to non-matching subset \(subset) for (\(renderMatches(matches)))")
                    continue
                }
                if !routing.matchingSubsets.contains(subset) {
                    mismatchNotes.append(ruleName.map { "Warning: Route to UNKNOWN subset \(subset); check DestinationRule \($0)" }
                                         ?? "Warning: Route to subset \(subset) but NO DESTINATION RULE defining subsets!")
                    continue
                }
            }
            matched = true
            if weight > 0 { facts.append("Route to host \"\(host)\"" + (subset.isEmpty ? "" : " subset \"\(subset)\"") + " with weight \(weight)%") }
        }
        if matched {
            var conditions: [String] = []
            if let fault = route["fault"] { conditions.append("Fault injection \(fault.serialized)") }
            conditions += matches.map(renderMatch)
            if !conditions.isEmpty { facts.append(conditions.joined(separator: ", ")) }
        }
        if !matched { facts += mismatchNotes }
        return (matched, facts)
    }

    static func renderMatches(_ matches: [JSONValue]) -> String {
        matches.isEmpty ? "everything" : matches.map(renderMatch).joined(separator: ", ")
    }

    /// `Match: /prefix* uncased when headers are end-user=jason`.
    static func renderMatch(_ match: JSONValue) -> String {
        var text = "Match: "
        if let uri = match["uri"] {
            text += renderStringMatch(uri)
            if match["ignoreUriCase"]?.bool == true { text += " uncased" }
        }
        if let headers = match["headers"]?.object, !headers.isEmpty {
            text += " when headers are " + headers.map { "\($0.key)=\(renderStringMatch($0.value))" }.joined(separator: "; ")
        }
        return text.trimmingSpaces
    }

    /// `exact` as is, `prefix` with a `*`, anything else (regex) as its JSON.
    static func renderStringMatch(_ match: JSONValue) -> String {
        if let exact = match["exact"]?.string { return exact }
        if let prefix = match["prefix"]?.string { return prefix + "*" }
        return match.serialized
    }
}

extension String {
    /// Without leading and trailing spaces.
    var trimmingSpaces: String {
        var text = Substring(self)
        while text.first == " " { text = text.dropFirst() }
        while text.last == " " { text = text.dropLast() }
        return String(text)
    }
}
