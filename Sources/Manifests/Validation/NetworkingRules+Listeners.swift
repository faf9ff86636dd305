/// Istio's checks for the kinds that open listeners: Gateway servers and Sidecar ingress/egress listeners.
extension NetworkingRules {
    /// `namespace/host` of a Gateway server or Sidecar egress listener (a Gateway may leave the namespace out).
    static func namespacedHostProblems(_ host: String, gateway: Bool) -> [String] {
        let parts = host.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 2 else {
            return gateway ? listenerHostProblems(host, gateway: true) : ["host \"\(host)\" must be of form namespace/dnsName, e.g. ./*, istio-system/*, */foo.example.com"]
        }
        var problems: [String] = []
        if parts[0].isEmpty || parts[1].isEmpty { problems.append("config namespace and dnsName in host entry cannot be empty") }
        let namespace = gateway ? parts[0] : String(parts[0].drop { $0 == "~" })
        if !namespace.isEmpty, namespace != "*", namespace != ".", !IstioNames.isDNSLabel(namespace) {
            problems.append("invalid namespace value \"\(parts[0])\" in \(gateway ? "gateway" : "sidecar"): use *, . or a namespace name")
        }
        return problems + listenerHostProblems(parts[1], gateway: gateway)
    }

    private static func listenerHostProblems(_ host: String, gateway: Bool) -> [String] {
        var problems: [String] = []
        if host != "*" && !host.contains(".") { problems.append("short names (non FQDN) are not allowed: \"\(host)\"; use the full name, e.g. \(host).default.svc.cluster.local") }
        if let problem = IstioNames.wildcardDomainProblem(host), !(gateway && IPAddressText.isAddress(host)) { problems.append(problem) }
        if let problem = IstioNames.partialWildcardProblem(host) { problems.append(problem) }
        return problems
    }

    /// A `unix://` address's path: absolute (or an abstract `@name`) and not a directory.
    static func unixAddressProblem(_ path: String) -> String? {
        if path.isEmpty { return "unix address must not be empty" }
        if path.hasPrefix("@") { return nil }
        return path.hasPrefix("/") && !path.hasSuffix("/") ? nil : "\(path) is not an absolute path to a file"
    }

    // MARK: Gateway

    static let gateway = rule { spec, findings in
        if (spec["servers"]?.items ?? []).isEmpty { findings.error(spec, [.key("servers")], "gateway must have at least one server") }
        for (index, server) in (spec["servers"]?.items ?? []).enumerated() {
            let proto = server["port"]?["protocol"]?.scalarText ?? ""
            if server["tls"]?["httpsRedirect"]?.bool == true && !PortProtocol.isHTTP(proto) {
                findings.warning(server["tls"]!, [.key("servers"), .index(index), .key("tls"), .key("httpsRedirect")], "tls.httpsRedirect should only be used with http servers")
            }
        }
    }

    static let server = rule { server, findings in
        for (index, host) in (server["hosts"]?.items ?? []).enumerated() {
            for problem in namespacedHostProblems(host.scalarText ?? "", gateway: true) { findings.error(host, [.key("hosts"), .index(index)], problem) }
        }
        let bind = server["bind"]?.scalarText ?? ""
        if let port = server["port"] {
            let number = port["number"]?.int ?? 0
            if number > 0 || !bind.hasPrefix("unix://"), let problem = portProblem(number) {
                findings.error(port["number"] ?? port, [.key("port"), .key("number")], problem)
            }
            if let target = port["targetPort"], (target.int ?? 0) > 0 {
                findings.error(target, [.key("port"), .key("targetPort")], "targetPort has no impact on Gateways: remove it")
            }
            if bind.hasPrefix("unix://") && number != 0 {
                findings.error(port, [.key("port"), .key("number")], "port number must be 0 for unix domain socket bind \(bind)")
            }
        }
        bindProblem(server, &findings)
        guard let port = server["port"], let proto = port["protocol"]?.scalarText, PortProtocol.isKnown(proto), let tls = server["tls"] else { return }
        if PortProtocol.isTLS(proto) { return }
        if PortProtocol.isHTTP(proto) {
            let mode = tls["mode"]?.scalarText ?? "PASSTHROUGH"
            let certificates = ["caCertificates", "privateKey", "serverCertificate"].contains { !(tls[$0]?.scalarText ?? "").isEmpty }
            if !(mode == "PASSTHROUGH" || mode == "AUTO_PASSTHROUGH") || certificates {
                findings.error(tls, [.key("tls")], "server cannot have TLS settings for plain text HTTP ports (only httpsRedirect)")
            }
        } else {
            findings.error(tls, [.key("tls")], "server cannot have TLS settings for non HTTPS/TLS ports")
        }
    }

    /// A `bind` is an IP address, or `unix://` and a socket path.
    static func bindProblem(_ listener: YAMLNode, _ findings: inout Findings) {
        guard let bind = listener["bind"], let text = bind.scalarText, !text.isEmpty else { return }
        if text.hasPrefix("unix://") {
            if let problem = unixAddressProblem(String(text.dropFirst("unix://".count))) { findings.error(bind, [.key("bind")], problem) }
        } else if !IPAddressText.isAddress(text) {
            findings.error(bind, [.key("bind")], "\(text) is not a valid IP")
        }
    }

    /// Server TLS settings (Gateway servers and Sidecar ingress listeners).
    static let serverTLS = rule { tls, findings in
        let mode = tls["mode"]?.scalarText ?? "PASSTHROUGH"
        let has = { (field: String) in !(tls[field]?.scalarText ?? "").isEmpty || !(tls[field]?.items ?? []).isEmpty }
        if ["TLSV1_0", "TLSV1_1"].contains(tls["minProtocolVersion"]?.scalarText ?? ""), !has("cipherSuites") {
            findings.warning(tls, [.key("minProtocolVersion")], "TLS version below TLSV1_2 require setting compatible ciphers as by default they no longer include compatible ciphers.")
        }
        var valid: Set<String> = [], invalid: [String] = [], duplicate: [String] = []
        for suite in (tls["cipherSuites"]?.items ?? []).compactMap(\.scalarText) {
            if !isCipherSuite(suite) { invalid.append(suite) } else if !valid.insert(suite).inserted { duplicate.append(suite) }
        }
        if !invalid.isEmpty { findings.warning(tls, [.key("cipherSuites")], "ignoring invalid cipher suites: [\(Set(invalid).sorted().joined(separator: " "))]") }
        if !duplicate.isEmpty { findings.warning(tls, [.key("cipherSuites")], "ignoring duplicate cipher suites: [\(Set(duplicate).sorted().joined(separator: " "))]") }
        if has("credentialNames") && has("tlsCertificates") {
            findings.error(tls, [], "only one of credentialNames or tlsCertificates can be set")
        }
        if mode == "ISTIO_MUTUAL" {
            let fields = [("serverCertificate", "server certificate"), ("privateKey", "private key"), ("caCertificates", "CA bundle"),
                          ("tlsCertificates", "tlsCertificates"), ("credentialName", "credentialName"), ("credentialNames", "credentialNames")]
            for (field, words) in fields where has(field) {
                findings.error(tls[field]!, [.key(field)], "ISTIO_MUTUAL TLS cannot have associated \(words): Istio provides the workload certificate")
            }
            return
        }
        let sources = ["credentialName", "credentialNames", "tlsCertificates"].filter(has).count + (has("serverCertificate") && has("privateKey") ? 1 : 0)
        if mode == "PASSTHROUGH" || mode == "AUTO_PASSTHROUGH",
           ["caCrl", "serverCertificate", "privateKey", "caCertificates", "tlsCertificates", "credentialName", "credentialNames"].contains(where: has) {
            findings.warning(tls, [], "\(mode) mode does not use certificates, they will be ignored")
        }
        if sources > 1 {
            findings.error(tls, [], "only one of credentialName, credentialNames, serverCertificate/privateKey, tlsCertificates should be specified")
        }
        let terminating = mode == "SIMPLE" || mode == "MUTUAL" || mode == "OPTIONAL_MUTUAL"
        if terminating && (has("credentialName") || has("credentialNames")) { return }
        if terminating {
            let prefix = mode == "SIMPLE" ? "SIMPLE TLS" : "MUTUAL TLS"
            if mode != "SIMPLE" && !has("caCertificates") {
                findings.error(tls, [.key("caCertificates")], "\(prefix) requires a client CA bundle (caCertificates), or use credentialName")
            }
            let certificates = tls["tlsCertificates"]?.items ?? [tls]
            for (index, certificate) in certificates.enumerated() {
                let at: [YAMLPathComponent] = tls["tlsCertificates"] == nil ? [] : [.key("tlsCertificates"), .index(index)]
                if (certificate["serverCertificate"]?.scalarText ?? "").isEmpty {
                    findings.error(certificate, at + [.key("serverCertificate")], "\(prefix) requires a server certificate (serverCertificate), or use credentialName")
                }
                if (certificate["privateKey"]?.scalarText ?? "").isEmpty {
                    findings.error(certificate, at + [.key("privateKey")], "\(prefix) requires a private key (privateKey), or use credentialName")
                }
            }
        }
        if has("caCrl") {
            if has("credentialName") { findings.error(tls["caCrl"]!, [.key("caCrl")], "CRL is not supported with credentialName. CRL has to be specified in the credential") }
            if mode == "SIMPLE" { findings.error(tls["caCrl"]!, [.key("caCrl")], "CRL is not supported with SIMPLE TLS") }
        }
    }

    static let cipherSuites: Set<String> = [
        "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305", "ECDHE-ECDSA-AES128-SHA", "ECDHE-RSA-AES128-SHA",
        "ECDHE-ECDSA-AES256-SHA", "ECDHE-RSA-AES256-SHA", "AES128-GCM-SHA256", "AES256-GCM-SHA384", "AES128-SHA", "AES256-SHA", "DES-CBC3-SHA",
    ]

    /// A cipher suite name BoringSSL knows; expressions starting with an operator (`-`, `+`, `!`, `[`) are let through.
    static func isCipherSuite(_ suite: String) -> Bool {
        guard let first = suite.first, suite != "ALL" else { return true }
        return !(first.isLetter || first.isNumber) || cipherSuites.contains(suite)
    }

    // MARK: Sidecar

    static let sidecar = rule { spec, findings in
        if !["egress", "ingress", "outboundTrafficPolicy", "inboundConnectionPool"].contains(where: { field in
            spec[field].map { !($0.items?.isEmpty ?? false) } ?? false
        }) {
            findings.error(spec, [], "sidecar: empty configuration provided: set ingress, egress, outboundTrafficPolicy or inboundConnectionPool")
        }
        var ingressPorts: Set<Int> = []
        for (index, listener) in (spec["ingress"]?.items ?? []).enumerated() {
            let at: [YAMLPathComponent] = [.key("ingress"), .index(index)]
            guard let port = listener["port"] else { continue }
            sidecarPort(port, at + [.key("port")], requireNumber: true, &findings)
            bindProblem(listener, &findings, at)
            if !ingressPorts.insert(port["number"]?.int ?? 0).inserted {
                findings.error(port, at + [.key("port")], "sidecar: ports on IP bound listeners must be unique")
            }
            if let endpoint = listener["defaultEndpoint"], let text = endpoint.scalarText, !text.isEmpty, let problem = defaultEndpointProblem(text) {
                findings.error(endpoint, at + [.key("defaultEndpoint")], problem)
            }
            if let tls = listener["tls"] {
                let unsupported = [("subjectAltNames", "subjectAltNames is not supported in ingress tls"), ("httpsRedirect", "httpsRedirect is not supported"),
                                   ("credentialName", "credentialName is not currently supported"), ("credentialNames", "credentialNames is not currently supported"),
                                   ("tlsCertificates", "tls_certificates is not currently supported")]
                for (field, words) in unsupported {
                    guard let value = tls[field], value.bool != false, !(value.items?.isEmpty ?? false), value.scalarText != "" else { continue }
                    findings.error(value, at + [.key("tls"), .key(field)], "sidecar: \(words)")
                }
                if let mode = tls["mode"]?.scalarText, mode == "ISTIO_MUTUAL" || mode == "AUTO_PASSTHROUGH" {
                    findings.error(tls["mode"]!, at + [.key("tls"), .key("mode")], "configuration is invalid: cannot set mode to \(mode) in sidecar ingress tls")
                }
                if !PortProtocol.isTLS(port["protocol"]?.scalarText ?? "") {
                    findings.error(tls, at + [.key("tls")], "server cannot have TLS settings for non HTTPS/TLS ports")
                }
            }
            if listener["connectionPool"]?["http"] != nil, !PortProtocol.isHTTP(port["protocol"]?.scalarText ?? "") {
                findings.warning(listener["connectionPool"]!, at + [.key("connectionPool"), .key("http")],
                                 "sidecar: HTTP connection pool settings are configured for port \(port["number"]?.int ?? 0) but its protocol is not HTTP; only TCP settings will apply")
            }
        }
        // A listener without a port catches all other ports: only the last one may (so there is at most one).
        var egressPorts: Set<Int> = [], sockets: Set<String> = []
        let egress = spec["egress"]?.items ?? []
        for (index, listener) in egress.enumerated() {
            let at: [YAMLPathComponent] = [.key("egress"), .index(index)]
            if let port = listener["port"] {
                let number = port["number"]?.int ?? 0
                sidecarPort(port, at + [.key("port")], requireNumber: number != 0, &findings)
                let bind = listener["bind"]?.scalarText ?? ""
                if number == 0 {
                    if !bind.hasPrefix("unix://") {
                        findings.error(port, at + [.key("port")], "sidecar: ports with 0 value must have a unix domain socket bind address")
                    } else if let problem = unixAddressProblem(String(bind.dropFirst("unix://".count))) {
                        findings.error(listener["bind"]!, at + [.key("bind")], problem)
                    }
                    if let mode = listener["captureMode"]?.scalarText, mode != "DEFAULT", mode != "NONE" {
                        findings.error(listener["captureMode"]!, at + [.key("captureMode")], "sidecar: captureMode must be DEFAULT/NONE for unix domain socket listeners")
                    }
                    if !sockets.insert(bind).inserted { findings.error(port, at + [.key("bind")], "sidecar: unix domain socket values for listeners must be unique") }
                } else {
                    if !bind.isEmpty && !IPAddressText.isAddress(bind) { findings.error(listener["bind"]!, at + [.key("bind")], "\(bind) is not a valid IP") }
                    if !egressPorts.insert(number).inserted { findings.error(port, at + [.key("port")], "sidecar: ports on IP bound listeners must be unique") }
                }
            } else if index < egress.count - 1 {
                findings.error(listener, at, "sidecar: the egress listener with empty port should be the last listener in the list")
            }
            egressHosts(listener, at, &findings)
        }
        if let policy = spec["outboundTrafficPolicy"] { outboundTrafficPolicy(policy, &findings) }
    }

    private static func bindProblem(_ listener: YAMLNode, _ findings: inout Findings, _ at: [YAMLPathComponent]) {
        var nested = Findings(path: findings.path + at)
        bindProblem(listener, &nested)
        findings.problems += nested.problems
    }

    private static func sidecarPort(_ port: YAMLNode, _ at: [YAMLPathComponent], requireNumber: Bool, _ findings: inout Findings) {
        if let name = port["name"], let text = name.scalarText, !text.isEmpty, !IstioNames.isDNSLabel(text) {
            findings.error(name, at + [.key("name")], "invalid port name \"\(text)\": it must be a DNS label (letters, digits, inner '-')")
        }
        if let proto = port["protocol"], let text = proto.scalarText, !text.isEmpty, !PortProtocol.isKnown(text) {
            findings.error(proto, at + [.key("protocol")], "unsupported protocol \"\(text)\": use HTTP, HTTPS, HTTP2, GRPC, GRPC-WEB, TCP, TLS, UDP, MONGO, REDIS, MYSQL or HTTP_PROXY")
        }
        if requireNumber, let problem = portProblem(port["number"]?.int ?? 0) { findings.error(port["number"] ?? port, at + [.key("number")], problem) }
        if let target = port["targetPort"], (target.int ?? 0) > 0 {
            findings.error(target, at + [.key("targetPort")], "targetPort has no impact on Sidecars: remove it")
        }
    }

    /// An ingress listener's default endpoint: `127.0.0.1:port`, `0.0.0.0:port`, `[::1]:port`, `[::]:port`, `:port` or `unix://path`.
    static func defaultEndpointProblem(_ text: String) -> String? {
        if text.hasPrefix("unix://") { return unixAddressProblem(String(text.dropFirst("unix://".count))) }
        guard let colon = text.lastIndex(of: ":") else { return "sidecar: defaultEndpoint \(text) is missing a port: use 127.0.0.1:<port>" }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if !["", "127.0.0.1", "0.0.0.0", "::1", "::"].contains(host) {
            return "sidecar: defaultEndpoint must be of form 127.0.0.1:<port>,0.0.0.0:<port>,[::1]:port,[::]:port,unix://filepath or unset"
        }
        let port = text[text.index(after: colon)...]
        guard let number = Int(port) else { return "sidecar: defaultEndpoint port (\(port)) is not a number" }
        return portProblem(number)
    }

    private static func egressHosts(_ listener: YAMLNode, _ at: [YAMLPathComponent], _ findings: inout Findings) {
        var byNamespace: [String: Set<String>] = [:]
        for (index, host) in (listener["hosts"]?.items ?? []).enumerated() {
            let text = host.scalarText ?? ""
            let hostPath = at + [.key("hosts"), .index(index)]
            let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            if parts.count == 2 && !parts[0].hasPrefix("~") {
                let namespace = parts[0], service = parts[1]
                let known = byNamespace[namespace, default: []]
                if service == "*" ? !known.isEmpty : (known.contains(service) || known.contains("*")) {
                    findings.warning(host, hostPath, "duplicated egress host: \(text)")
                }
                byNamespace[namespace, default: []].insert(service)
            }
            for problem in namespacedHostProblems(text, gateway: false) { findings.error(host, hostPath, problem) }
        }
        if byNamespace["*"]?.contains("*") == true && byNamespace.count != 1 {
            findings.warning(listener, at + [.key("hosts")], "`*/*` host select all resources, no other hosts can be added")
        }
    }

    private static func outboundTrafficPolicy(_ policy: YAMLNode, _ findings: inout Findings) {
        let at: [YAMLPathComponent] = [.key("outboundTrafficPolicy")]
        guard let proxy = policy["egressProxy"] else { return }
        if policy["mode"]?.scalarText != "ALLOW_ANY" {
            return findings.error(proxy, at + [.key("egressProxy")], "sidecar: egress_proxy must be set only with ALLOW_ANY outbound_traffic_policy mode")
        }
        if let host = proxy["host"], let problem = IstioNames.fqdnProblem(host.scalarText ?? "") { findings.error(host, at + [.key("egressProxy"), .key("host")], problem) }
        if proxy["port"] == nil { findings.error(proxy, at + [.key("egressProxy"), .key("port")], "sidecar: egress_proxy port must be non-nil") }
    }
}
