/// Istio's checks for ServiceEntry, WorkloadEntry, WorkloadGroup, EnvoyFilter and ProxyConfig.
extension NetworkingRules {
    // MARK: ServiceEntry

    static let serviceEntry = rule { spec, findings in
        let resolution = spec["resolution"]?.scalarText ?? "NONE"
        let hosts = (spec["hosts"]?.items ?? []).map { ($0, $0.scalarText ?? "") }
        let ports = spec["ports"]?.items ?? []
        let portNames = Set(ports.compactMap { $0["name"]?.scalarText })
        let endpoints = spec["endpoints"]?.items ?? []

        for (index, (node, host)) in hosts.enumerated() where host != "*" {
            if let problem = IstioNames.wildcardDomainProblem(host) {
                findings.error(node, [.key("hosts"), .index(index)], problem)
            } else if resolution != "DYNAMIC_DNS", let problem = IstioNames.partialWildcardProblem(host) {
                findings.warning(node, [.key("hosts"), .index(index)], problem)
            }
        }
        for (index, address) in (spec["addresses"]?.items ?? []).enumerated() {
            let text = address.scalarText ?? ""
            if !IPAddressText.isAddressOrCIDR(text) {
                findings.error(address, [.key("addresses"), .index(index)], "\"\(text)\" is not a valid IP address or CIDR block")
            }
        }
        for (index, port) in ports.enumerated() {
            if let name = port["name"], let text = name.scalarText, !IstioNames.isDNSLabel(text) {
                findings.error(name, [.key("ports"), .index(index), .key("name")], "invalid port name \"\(text)\": it must be a DNS label (letters, digits, inner '-')")
            }
            if let proto = port["protocol"], let text = proto.scalarText, !text.isEmpty, !PortProtocol.isKnown(text) {
                findings.error(proto, [.key("ports"), .index(index), .key("protocol")],
                               "unsupported protocol \"\(text)\": use HTTP, HTTPS, HTTP2, GRPC, GRPC-WEB, TCP, TLS, UDP, MONGO, REDIS, MYSQL or HTTP_PROXY")
            }
        }

        switch resolution {
        case "NONE":
            if let selector = spec["workloadSelector"] {
                findings.warning(selector, [.key("workloadSelector")], "workloadSelector should not be set when resolution mode is NONE")
            }
        case "STATIC":
            for (index, endpoint) in endpoints.enumerated() {
                let at: [YAMLPathComponent] = [.key("endpoints"), .index(index)]
                if let address = endpoint["address"], let text = address.scalarText, !text.hasPrefix("unix://"), !IPAddressText.isAddress(text) {
                    findings.error(address, at + [.key("address")], "endpoint address \"\(text)\" is not a valid IP address (resolution STATIC needs IPs or unix:// sockets)")
                }
                if endpoint["address"]?.scalarText?.hasPrefix("unix://") == true && ports.count != 1 {
                    findings.error(endpoint, at, "exactly 1 service port required for unix endpoints")
                }
                endpointPorts(endpoint, at, portNames, &findings)
            }
        case "DNS", "DNS_ROUND_ROBIN":
            if endpoints.isEmpty, let (index, node, host) = hosts.enumerated().map({ ($0.offset, $0.element.0, $0.element.1) })
                .first(where: { IstioNames.fqdnProblem($0.2) != nil }) {
                findings.error(node, [.key("hosts"), .index(index)],
                               "host \"\(host)\" must be a fully qualified name without wildcards when resolution is \(resolution) and no endpoints are given: add endpoints, or use resolution NONE or DYNAMIC_DNS for wildcard hosts")
            }
            for (index, endpoint) in endpoints.enumerated() {
                let at: [YAMLPathComponent] = [.key("endpoints"), .index(index)]
                if let address = endpoint["address"], let text = address.scalarText, !IPAddressText.isAddress(text), IstioNames.fqdnProblem(text) != nil {
                    findings.error(address, at + [.key("address")], "endpoint address \"\(text)\" is not a valid FQDN or an IP address")
                }
                endpointPorts(endpoint, at, portNames, &findings)
            }
            if !(spec["addresses"]?.items ?? []).isEmpty, hosts.count > 1,
               ports.contains(where: { PortProtocol.isTCP($0["protocol"]?.scalarText ?? "") }) {
                findings.warning(spec["hosts"]!, [.key("hosts")], "service entry can not have more than one host specified simultaneously with address and tcp port")
            }
        case "DYNAMIC_DNS":
            for (index, (node, host)) in hosts.enumerated() where !host.hasPrefix("*") {
                findings.error(node, [.key("hosts"), .index(index)], "host \"\(host)\" must be wildcarded (*.example.com) for resolution mode DYNAMIC_DNS")
            }
            if let addresses = spec["addresses"], !(addresses.items ?? []).isEmpty {
                findings.error(addresses, [.key("addresses")], "addresses cannot be set for resolution type DYNAMIC_DNS: route domains come from the hosts")
            }
            if let list = spec["endpoints"], !endpoints.isEmpty {
                findings.error(list, [.key("endpoints")], "endpoints cannot be set for resolution type DYNAMIC_DNS: the destination address comes from the host")
            }
            for (index, port) in ports.enumerated() {
                let proto = (port["protocol"]?.scalarText ?? "").uppercased()
                if !["HTTP", "TLS", "GRPC", "HTTP2"].contains(proto) {
                    findings.error(port, [.key("ports"), .index(index), .key("protocol")],
                                   "only HTTP, TLS, GRPC and HTTP2 protocols are supported for resolution type DYNAMIC_DNS")
                }
            }
        default:
            break
        }

        if resolution != "NONE" && hosts.count > 1,
           let (index, port) = ports.enumerated().first(where: { !PortProtocol.isHTTP($0.element["protocol"]?.scalarText ?? "") && !PortProtocol.isTLS($0.element["protocol"]?.scalarText ?? "") }) {
            findings.error(port, [.key("ports"), .index(index)],
                           "multiple hosts provided with non-HTTP, non-TLS ports: with resolution \(resolution) a plain TCP port cannot tell the hosts apart; use one host per ServiceEntry or resolution NONE")
        }
    }

    /// An endpoint's ports name service ports, are DNS labels, and are in range; its labels are valid.
    private static func endpointPorts(_ endpoint: YAMLNode, _ at: [YAMLPathComponent], _ serviceNames: Set<String>, _ findings: inout Findings) {
        for pair in endpoint["ports"]?.pairs ?? [] {
            let name = pair.key.scalarText ?? ""
            if !serviceNames.contains(name) {
                findings.error(pair.key, at + [.key("ports"), .key(name)], "endpoint port \"\(name)\" is not defined by the service entry's ports")
            }
        }
        findings.problems += IstioNames.labelMapProblems(endpoint["labels"], findings.path + at + [.key("labels")])
    }

    // MARK: WorkloadEntry and WorkloadGroup

    /// A WorkloadEntry of its own: the address is an IP, a name or a socket; no address but a network is a warning.
    static let workloadEntry = rule { entry, findings in
        let address = entry["address"]?.scalarText ?? ""
        if address.isEmpty, let network = entry["network"]?.scalarText, !network.isEmpty {
            findings.warning(entry, [], "address is unset with network \"\(network)\"")
        }
        if !address.isEmpty, !address.hasPrefix("unix://"), !IPAddressText.isAddress(address), IstioNames.fqdnProblem(address) != nil {
            findings.error(entry["address"]!, [.key("address")], "endpoint address \"\(address)\" is not a valid FQDN or an IP address")
        }
        findings.problems += IstioNames.labelMapProblems(entry["labels"], findings.path + [.key("labels")])
    }

    static let workloadGroup = rule { group, findings in
        findings.problems += IstioNames.labelMapProblems(group["metadata"]?["labels"], findings.path + [.key("metadata"), .key("labels")])
    }

    static let readinessProbe = rule { probe, findings in
        if !["httpGet", "tcpSocket", "exec"].contains(where: { probe[$0] != nil }) {
            findings.error(probe, [], probe["grpc"] != nil ? "Istio's webhook does not support grpc probes yet: use httpGet, tcpSocket or exec"
                                                           : "a probe must set one of httpGet, tcpSocket or exec")
        }
        if let scheme = probe["httpGet"]?["scheme"], let text = scheme.scalarText, !["", "HTTP", "HTTPS"].contains(text) {
            findings.error(scheme, [.key("httpGet"), .key("scheme")], "scheme must be one of [HTTP, HTTPS]")
        }
        for (index, header) in (probe["httpGet"]?["httpHeaders"]?.items ?? []).enumerated() {
            let name = header["name"]?.scalarText ?? ""
            if name.isEmpty || !name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }) {
                findings.error(header, [.key("httpGet"), .key("httpHeaders"), .index(index), .key("name")],
                               name.isEmpty ? "header name cannot be empty" : "header name \"\(name)\" is not a valid header name: letters, digits and '-'")
            }
        }
        if let exec = probe["exec"], (exec["command"]?.items ?? []).isEmpty {
            findings.error(exec, [.key("exec"), .key("command")], "exec.command is required")
        }
    }

    // MARK: EnvoyFilter

    static let envoyFilterPatch = rule { patch, findings in
        if let context = patch["match"]?["context"]?.scalarText, context == "WAYPOINT" { return }
        guard let applyTo = patch["applyTo"]?.scalarText, applyTo != "INVALID" else {
            return findings.error(patch, [.key("applyTo")], "Envoy filter: missing applyTo")
        }
        guard let body = patch["patch"] else { return findings.error(patch, [.key("patch")], "Envoy filter: missing patch") }
        guard let operation = body["operation"]?.scalarText, operation != "INVALID" else {
            return findings.error(body, [.key("patch"), .key("operation")], "Envoy filter: missing patch operation")
        }
        if operation != "REMOVE" && body["value"] == nil {
            return findings.error(body, [.key("patch"), .key("value")], "Envoy filter: missing patch value for non-remove operation")
        }
        if let version = patch["match"]?["proxy"]?["proxyVersion"], let text = version.scalarText, !text.isEmpty {
            if text.utf8.count > 1024 {
                findings.warning(version, [.key("match"), .key("proxy"), .key("proxyVersion")], "Envoy filter: proxyVersion match exceeds 1024 characters and will be ignored")
            } else if (try? Regex(text)) == nil {
                return findings.error(version, [.key("match"), .key("proxy"), .key("proxyVersion")], "Envoy filter: invalid regex for proxy version \"\(text)\"")
            }
        }
        guard let match = patch["match"] else { return }
        let objectKeys = ["listener", "routeConfiguration", "cluster"]
        guard objectKeys.contains(where: { match[$0] != nil }) else { return }
        let at: [YAMLPathComponent] = [.key("match")]
        switch applyTo {
        case "LISTENER", "FILTER_CHAIN", "NETWORK_FILTER", "HTTP_FILTER":
            guard let listener = match["listener"] else {
                return findings.error(match, at, "Envoy filter: applyTo \(applyTo) (a listener object) needs a listener match")
            }
            guard let filter = listener["filterChain"]?["filter"] else { return }
            let filterPath = at + [.key("listener"), .key("filterChain"), .key("filter")]
            if applyTo == "LISTENER" || applyTo == "FILTER_CHAIN" {
                findings.warning(filter, filterPath, "Envoy filter: filter match has no effect when used with \(applyTo)")
            }
            let name = filter["name"]?.scalarText ?? ""
            guard !name.isEmpty else { return findings.error(filter, filterPath + [.key("name")], "Envoy filter: filter match has no name to match on") }
            if let subFilter = filter["subFilter"] {
                if applyTo != "HTTP_FILTER" {
                    return findings.error(subFilter, filterPath + [.key("subFilter")], "Envoy filter: subfilter match can be used with applyTo HTTP_FILTER only")
                }
                if name != "envoy.filters.network.http_connection_manager" && name != "envoy.http_connection_manager" {
                    return findings.error(filter, filterPath + [.key("name")],
                                          "Envoy filter: subfilter match requires filter match with envoy.filters.network.http_connection_manager")
                }
                if (subFilter["name"]?.scalarText ?? "").isEmpty {
                    return findings.error(subFilter, filterPath + [.key("subFilter"), .key("name")], "Envoy filter: subfilter match has no name to match on")
                }
            }
        case "ROUTE_CONFIGURATION", "VIRTUAL_HOST", "HTTP_ROUTE":
            if match["routeConfiguration"] == nil {
                findings.error(match, at, "Envoy filter: applyTo \(applyTo) (an HTTP route object) needs a routeConfiguration match")
            }
        case "CLUSTER":
            if match["cluster"] == nil { findings.error(match, at, "Envoy filter: applyTo CLUSTER needs a cluster match") }
        default:
            break
        }
    }

    /// EnvoyFilter's own spec: its selector, and a standing warning that it reaches into Envoy's internals.
    static let envoyFilter = rule { spec, findings in
        findings.warning(spec, [], "EnvoyFilter exposes internal implementation details that may change at any time. "
                         + "Prefer other APIs if possible, and exercise extreme caution, especially around upgrades.")
        if spec["workloadSelector"] != nil && spec["targetRefs"] != nil {
            findings.error(spec, [], "only one of targetRefs or workloadSelector can be set")
        }
    }
}
