/// Istio's checks for VirtualService: hosts and gateways, delegation, HTTP/TLS/TCP routes and their parts.
extension NetworkingRules {
    /// Whether a VirtualService applies to gateways only (it lists gateways and not `mesh`).
    static func appliesToGatewaysOnly(_ spec: YAMLNode) -> Bool {
        let gateways = spec["gateways"]?.items?.compactMap(\.scalarText) ?? []
        return !gateways.isEmpty && !gateways.contains("mesh")
    }

    /// A host of a VirtualService bound to gateways; SNI hosts may be Istio's generated `outbound_.<port>_._.<host>`.
    static func gatewayHostProblem(_ host: String, sni: Bool) -> String? {
        guard sni && host.hasPrefix("outbound_") else { return IstioNames.wildcardDomainProblem(host) }
        let parts = host.split(separator: "_", omittingEmptySubsequences: false)
        let format = "outbound_.<port>_._.<hostname>"
        guard parts.count >= 4 else { return "domain name \(host) is invalid: it should follow the \(format) format" }
        let trim = { (part: Substring) in String(part.drop { $0 == "." }.reversed().drop { $0 == "." }.reversed()) }
        let port = trim(parts[1]), name = trim(parts[3])
        if !port.contains(where: \.isNumber) { return "domain name \"\(host)\" is invalid: \"\(port)\" should be a port, as in \(format)" }
        if !name.contains(where: \.isLetter) { return "domain name \"\(host)\" is invalid: \"\(name)\" should be a host name, as in \(format)" }
        return nil
    }

    /// Gateway references: `name`, `namespace/name` or `mesh`; both parts DNS labels.
    static func gatewayNames(_ list: YAMLNode?, _ at: [YAMLPathComponent], _ findings: inout Findings) {
        for (index, item) in (list?.items ?? []).enumerated() {
            let name = item.scalarText ?? ""
            let itemPath = at + [.index(index)]
            let parts = name.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2 else {
                if name.contains(".") {
                    let pieces = name.split(separator: ".", omittingEmptySubsequences: false)
                    findings.warning(item, itemPath, "using legacy gatewayName format \"\(name)\"; prefer the <namespace>/<name> format: \"\(pieces.count > 1 ? pieces[1] : "")/\(pieces[0])\"")
                }
                if let problem = IstioNames.fqdnProblem(name) { findings.error(item, itemPath, problem) }
                return
            }
            if parts[0].isEmpty || parts[1].isEmpty {
                findings.error(item, itemPath, "config namespace and gateway name cannot be empty: use namespace/name")
            }
            if !IstioNames.isDNSLabel(parts[0]) { findings.error(item, itemPath, "invalid value for namespace: \"\(parts[0])\"") }
            if !IstioNames.isDNSLabel(parts[1]) { findings.error(item, itemPath, "invalid value for gateway name: \"\(parts[1])\"") }
        }
    }

    static let virtualService = rule { spec, findings in
        let hosts = (spec["hosts"]?.items ?? []).map { ($0, $0.scalarText ?? "") }
        if hosts.isEmpty {
            for field in ["gateways", "tls", "tcp"] where !(spec[field]?.items ?? []).isEmpty {
                let words = field == "gateways" ? "gateways specified" : "\(field) route specified"
                findings.error(spec[field]!, [.key(field)], "delegate virtual service (one without hosts) must have no \(words)")
            }
        }
        let gatewaysOnly = appliesToGatewaysOnly(spec)
        if !(spec["gateways"]?.items ?? []).isEmpty { gatewayNames(spec["gateways"], [.key("gateways")], &findings) }
        if !gatewaysOnly {
            for (routeIndex, route) in (spec["http"]?.items ?? []).enumerated() {
                for (matchIndex, match) in (route["match"]?.items ?? []).enumerated() {
                    for field in ["headers", "withoutHeaders"] {
                        for pair in match[field]?.pairs ?? [] where (pair.key.scalarText ?? "").hasPrefix("@request.auth.claims") {
                            findings.error(pair.key, [.key("http"), .index(routeIndex), .key("match"), .index(matchIndex), .key(field), .key(pair.key.scalarText ?? "")],
                                           "JWT claim based routing (\(pair.key.scalarText ?? "")) is only supported for gateways: bind the virtual service to a gateway")
                        }
                    }
                }
            }
        }
        let sni = (spec["tls"]?.items ?? []).contains { ($0["match"]?.items ?? []).contains { !($0["sniHosts"]?.items ?? []).isEmpty } }
        var allValid = true
        for (index, (node, host)) in hosts.enumerated() {
            let problem = gatewaysOnly ? gatewayHostProblem(host, sni: sni) : IstioNames.wildcardDomainProblem(host)
            if let problem, !IPAddressText.isAddress(host) {
                findings.error(node, [.key("hosts"), .index(index)], problem)
                allValid = false
            } else if problem == nil && !gatewaysOnly && host == "*" {
                allValid = false
            }
        }
        if allValid {
            for first in hosts.indices {
                for second in hosts.indices where second > first && IstioNames.hostsOverlap(hosts[first].1, hosts[second].1) {
                    findings.error(hosts[second].0, [.key("hosts"), .index(second)], "duplicate hosts in virtual service: \(hosts[first].1) & \(hosts[second].1)")
                }
            }
        }
        for (index, route) in (spec["tls"]?.items ?? []).enumerated() {
            for (matchIndex, match) in (route["match"]?.items ?? []).enumerated() {
                for (sniIndex, sniNode) in (match["sniHosts"]?.items ?? []).enumerated() {
                    let at: [YAMLPathComponent] = [.key("tls"), .index(index), .key("match"), .index(matchIndex), .key("sniHosts"), .index(sniIndex)]
                    let sniHost = sniNode.scalarText ?? ""
                    if let problem = gatewaysOnly ? gatewayHostProblem(sniHost, sni: true) : IstioNames.wildcardDomainProblem(sniHost) {
                        if IPAddressText.isAddress(sniHost) {
                            findings.warning(sniNode, at, "using an IP address (\"\(sniHost)\") goes against the SNI spec and most clients do not support it")
                        } else {
                            findings.error(sniNode, at, problem)
                        }
                    } else if !hosts.contains(where: { IstioNames.hostCovers($0.1, sniHost) }) {
                        findings.error(sniNode, at, "SNI host \"\(sniHost)\" is not a compatible subset of any of the virtual service hosts: [\(hosts.map(\.1).joined(separator: ", "))]")
                    }
                }
            }
        }
        let delegate = hosts.isEmpty
        for (index, route) in (spec["http"]?.items ?? []).enumerated() {
            routeKindProblems(route, delegateService: delegate, [.key("http"), .index(index)], &findings)
        }
        unreachableRules(spec, &findings)
    }

    /// Root routes (with `delegate`) only delegate; routes of a delegate service cannot delegate again.
    private static func routeKindProblems(_ route: YAMLNode, delegateService: Bool, _ at: [YAMLPathComponent], _ findings: inout Findings) {
        let name = route["name"]?.scalarText.map { " \($0)" } ?? ""
        if !delegateService, route["delegate"] != nil {
            for field in ["redirect", "route"] where route[field] != nil {
                findings.error(route[field]!, at + [.key(field)], "root HTTP route\(name) must not specify \(field): a route with delegate hands the request to the delegate virtual service")
            }
            return
        }
        if delegateService, let nested = route["delegate"] {
            findings.error(nested, at + [.key("delegate")], "delegate HTTP route cannot contain delegate")
        }
        if route["redirect"] == nil && route["directResponse"] == nil && route["route"] == nil {
            findings.error(route, at, "HTTP route, redirect or direct_response is required")
        }
    }

    /// Istio's warnings for rules and matches that can never be reached (an earlier catch-all or the same match).
    private static func unreachableRules(_ spec: YAMLNode, _ findings: inout Findings) {
        for field in ["http", "tcp", "tls"] {
            var seen: [String: Int] = [:]
            var catchAll: Int?
            for (index, route) in (spec[field]?.items ?? []).enumerated() {
                let at: [YAMLPathComponent] = [.key(field), .index(index)]
                let label = route["name"]?.scalarText.map { "\"\($0)\"" } ?? "#\(index)"
                let matches = route["match"]?.items ?? []
                if matches.isEmpty {
                    if catchAll != nil { findings.warning(route, at, "virtualService rule \(label) not used (only the last rule can have no matches)") }
                    catchAll = index
                    continue
                }
                if catchAll != nil {
                    findings.warning(route, at, "virtualService rule \(label) not used (route without matches defined before)")
                    continue
                }
                var repeated = 0
                for (matchIndex, match) in matches.enumerated() {
                    let key = GoFormat.json(TemplateValue(node: match))
                    if let earlier = seen[key] {
                        let matchLabel = match["name"]?.scalarText.map { "\"\($0)\"" } ?? "#\(matchIndex)"
                        findings.warning(match, at + [.key("match"), .index(matchIndex)],
                                         "virtualService rule \(label) match \(matchLabel) is not used (duplicate/overlapping match in rule #\(earlier))")
                        repeated += 1
                    } else {
                        seen[key] = index
                    }
                }
                if repeated == matches.count { findings.warning(route, at, "virtualService rule \(label) not used (all matches used by prior rules)") }
            }
        }
    }

    // MARK: HTTP route parts

    static let httpRoute = rule { route, findings in
        if route["redirect"] != nil {
            if let fault = route["fault"] { findings.error(fault, [.key("fault")], "HTTP route cannot contain both fault and redirect") }
        } else if route["directResponse"] != nil {
            for (field, words) in [("fault", "fault"), ("rewrite", "rewrite")] where route[field] != nil {
                findings.error(route[field]!, [.key(field)], "HTTP route cannot contain both \(words) and direct_response")
            }
        }
        if let percent = route["mirrorPercent"] ?? route["mirror_percent"] {
            findings.warning(percent, [.key("mirrorPercent")], "using deprecated setting \"mirrorPercent\", use \"mirrorPercentage\" instead")
        }
        if let value = route["mirror_percent"]?.int, value > 100 {
            findings.error(route["mirror_percent"]!, [.key("mirror_percent")], "mirror_percent must have a max value of 100 (it has \(value))")
        }
        // Only one place may set the authority: rewrite.authority, or a request header :authority/host.
        var authority = route["rewrite"]?["authority"]?.scalarText ?? ""
        for operation in ["set", "add"] {
            for pair in route["headers"]?["request"]?[operation]?.pairs ?? [] {
                let key = (pair.key.scalarText ?? "").lowercased()
                guard key == ":authority" || key == "host" else { continue }
                let value = pair.value.scalarText ?? ""
                if !authority.isEmpty {
                    findings.error(pair.key, [.key("headers"), .key("request"), .key(operation), .key(pair.key.scalarText ?? "")],
                                   "authority header cannot be set multiple times: have \"\(authority)\", attempting to set \"\(value)\"")
                }
                authority = value
            }
        }
        if let timeout = route["timeout"], let problem = durationPrecisionProblem(timeout) { findings.error(timeout, [.key("timeout")], problem) }
        weightTotal(route, &findings)
    }

    /// More than one destination may not have weights adding up to 0.
    static func weightTotal(_ route: YAMLNode, _ findings: inout Findings) {
        guard let list = route["route"], let destinations = list.items, destinations.count > 1 else { return }
        if destinations.reduce(0, { $0 + ($1["weight"]?.int ?? 0) }) == 0 {
            findings.error(list, [.key("route")], "total destination weight = 0: give at least one destination a weight")
        }
    }

    static let l4Route = rule { route, findings in
        if (route["route"]?.items ?? []).isEmpty {
            findings.error(route, [.key("route")], "\(route["match"]?.items?.first?["sniHosts"] != nil ? "TLS" : "TCP") route is required: add route destinations")
        }
        weightTotal(route, &findings)
    }

    /// Matches of HTTP routes: header names, non-empty prefixes and regexes, source namespace and labels, gateways.
    static let httpMatch = rule { match, findings in
        for field in ["headers", "withoutHeaders"] {
            for pair in match[field]?.pairs ?? [] {
                let name = pair.key.scalarText ?? ""
                let at: [YAMLPathComponent] = [.key(field), .key(name)]
                if let problem = matchHeaderNameProblem(name) { findings.error(pair.key, at, problem) }
                if field == "withoutHeaders" && pair.value["regex"]?.scalarText == "*" { continue }
                stringMatch(pair.value, at, allowEmptyPrefix: false, &findings)
            }
        }
        stringMatch(match["uri"], [.key("uri")], allowEmptyPrefix: true, &findings)
        for field in ["scheme", "method", "authority"] { stringMatch(match[field], [.key(field)], allowEmptyPrefix: false, &findings) }
        for pair in match["queryParams"]?.pairs ?? [] {
            stringMatch(pair.value, [.key("queryParams"), .key(pair.key.scalarText ?? "")], allowEmptyPrefix: false, &findings)
        }
        l4MatchParts(match, &findings)
        if let namespace = match["sourceNamespace"], let text = namespace.scalarText, !text.isEmpty, !IstioNames.isDNSLabel(text) {
            findings.error(namespace, [.key("sourceNamespace")], "sourceNamespace match \(text) is invalid: it must be a namespace name")
        }
    }

    /// The parts every match kind shares: source labels, gateways, source namespace, destination subnets.
    static let l4Match = rule { match, findings in
        l4MatchParts(match, &findings)
        for (index, subnet) in (match["destinationSubnets"]?.items ?? []).enumerated() where !IPAddressText.isAddressOrCIDR(subnet.scalarText ?? "") {
            findings.error(subnet, [.key("destinationSubnets"), .index(index)], "\"\(subnet.scalarText ?? "")\" is not a valid IP address or CIDR block")
        }
    }

    private static func l4MatchParts(_ match: YAMLNode, _ findings: inout Findings) {
        findings.problems += IstioNames.labelMapProblems(match["sourceLabels"], findings.path + [.key("sourceLabels")])
        gatewayNames(match["gateways"], [.key("gateways")], &findings)
    }

    /// A header name to match on: a token, a pseudo-header, or a JWT claim (`@request.auth.claims.x`).
    static func matchHeaderNameProblem(_ name: String) -> String? {
        if name.isEmpty { return "header name cannot be empty" }
        if name.hasPrefix("@request.auth.claims.") || name.hasPrefix("@request.auth.claims[") { return nil }
        if [":method", ":scheme", ":authority", ":path", ":status"].contains(name) { return nil }
        return isToken(name) ? nil : "header name \(name) is not a valid header name"
    }

    static func isToken(_ name: String) -> Bool {
        !name.isEmpty && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "!#$%&'*+-.^_`|~".contains($0)) }
    }

    /// A string match: a prefix is not empty (except for the URI), a regex is not empty, at most 1024 long, and compiles.
    static func stringMatch(_ node: YAMLNode?, _ at: [YAMLPathComponent], allowEmptyPrefix: Bool, _ findings: inout Findings) {
        guard let node else { return }
        if !allowEmptyPrefix, let prefix = node["prefix"], prefix.scalarText ?? "" == "" {
            findings.error(prefix, at + [.key("prefix")], "prefix string match should not be empty")
        }
        if let regex = node["regex"], let problem = regexProblem(regex.scalarText ?? "") {
            findings.error(regex, at + [.key("regex")], problem)
        }
    }

    /// A RE2 regular expression Istio accepts: not empty, at most 1024 characters, and valid.
    static func regexProblem(_ text: String) -> String? {
        if text.isEmpty { return "regex string match should not be empty" }
        if text.utf8.count > 1024 { return "regex is too large, max length allowed is 1024" }
        return (try? Regex(text)) == nil ? "\"\(text)\" is not a valid regular expression; Istio uses RE2 syntax (https://github.com/google/re2/wiki/Syntax)" : nil
    }

    static let redirect = rule { redirect, findings in
        let has = { (field: String) in !(redirect[field]?.scalarText ?? "").isEmpty || redirect[field]?.int != nil }
        if has("uri") && has("prefixRewrite") {
            findings.error(redirect, [], "redirect may only specify one of uri or prefixRewrite")
        }
        if !["uri", "prefixRewrite", "authority", "port", "derivePort", "scheme"].contains(where: has) {
            findings.error(redirect, [], "redirect must specify URI, authority, scheme, or port")
        }
        if let scheme = redirect["scheme"]?.scalarText, !scheme.isEmpty, scheme != "http", scheme != "https" {
            findings.error(redirect["scheme"]!, [.key("scheme")], "invalid redirect scheme \"\(scheme)\": it must be \"http\" or \"https\"")
        }
        if let port = redirect["port"], let number = port.int, number > 0, let problem = portProblem(number) {
            findings.error(port, [.key("port")], problem)
        }
    }

    /// `redirect.prefixRewrite` needs every URI match of the route to be a prefix match.
    static let redirectPrefixMatches = rule { route, findings in
        guard !(route["redirect"]?["prefixRewrite"]?.scalarText ?? "").isEmpty else { return }
        for (index, match) in (route["match"]?.items ?? []).enumerated() {
            if let uri = match["uri"], uri["prefix"] == nil {
                findings.error(uri, [.key("match"), .index(index), .key("uri")], "redirect prefixRewrite requires all URI matches to use prefix match type")
            }
        }
    }

    static let directResponse = rule { response, findings in
        if let status = response["status"], let code = status.int, code < 200 || code > 600 {
            findings.error(status, [.key("status")], "HTTP status \(code) is not in range 200-599")
        }
        guard let body = response["body"], let text = body["string"]?.scalarText ?? body["bytes"]?.scalarText else { return }
        let size = body["bytes"] != nil ? (Base64.decode(text)?.count ?? text.utf8.count) : text.utf8.count
        if size > 1024 * 1024 {
            findings.error(body, [.key("body")], "large direct_responses may impact control plane performance, must be less than 1MB")
        } else if size > 100 * 1024 {
            findings.warning(body, [.key("body")], "large direct_responses may impact control plane performance")
        }
    }

    static let rewrite = rule { rewrite, findings in
        if rewrite["uri"] == nil && rewrite["uriRegexRewrite"] == nil && (rewrite["authority"]?.scalarText ?? "").isEmpty {
            findings.error(rewrite, [], "rewrite must specify at least one of uri, uriRegexRewrite or authority")
        }
        guard let regex = rewrite["uriRegexRewrite"] else { return }
        if (regex["match"]?.scalarText ?? "").isEmpty || (regex["rewrite"]?.scalarText ?? "").isEmpty {
            findings.error(regex, [.key("uriRegexRewrite")], "uriRegexRewrite requires both rewrite and match fields to be specified")
        } else if let match = regex["match"], let problem = regexProblem(match.scalarText ?? "") {
            findings.error(match, [.key("uriRegexRewrite"), .key("match")], problem)
        }
    }

    static let retries = rule { retry, findings in
        let attempts = retry["attempts"]?.int ?? 0
        if attempts == 0, let field = ["perTryTimeout", "retryOn", "retryRemoteLocalities"].first(where: { retry[$0] != nil }) {
            findings.error(retry[field]!, [.key(field)], "http retry policy configured when attempts are set to 0 (disabled): set attempts or remove \(field)")
        }
    }

    static let abort = rule { abort, findings in
        let kinds = ["httpStatus", "grpcStatus", "http2Error"].filter { abort[$0] != nil }
        if kinds.isEmpty { findings.warning(abort, [], "abort configured, but error type not set: use httpStatus or grpcStatus") }
        if let status = abort["httpStatus"], let code = status.int, code < 200 || code > 600 {
            findings.error(status, [.key("httpStatus")], "HTTP status \(code) is not in range 200-599")
        }
        if let status = abort["grpcStatus"], let name = status.scalarText, !grpcStatuses.contains(name) {
            findings.error(status, [.key("grpcStatus")], "gRPC status \"\(name)\" is not supported: use a code name such as NOT_FOUND or UNAVAILABLE (https://github.com/grpc/grpc/blob/master/doc/statuscodes.md)")
        }
        if let error = abort["http2Error"] {
            findings.error(error, [.key("http2Error")], "HTTP/2 abort fault injection not supported yet: use httpStatus or grpcStatus")
        }
        if let (node, problem) = percentageProblem(abort["percentage"]) { findings.error(node, [.key("percentage"), .key("value")], problem) }
    }

    static let grpcStatuses: Set<String> = [
        "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED",
        "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
        "UNAUTHENTICATED",
    ]

    static let delay = rule { delay, findings in
        if let exponential = delay["exponentialDelay"] {
            findings.error(exponential, [.key("exponentialDelay")], "exponentialDelay not supported yet: use fixedDelay")
        }
        if delay["fixedDelay"] == nil && delay["exponentialDelay"] == nil {
            findings.warning(delay, [], "delay configured without fixedDelay: it has no effect")
        }
        if let (node, problem) = percentageProblem(delay["percentage"]) { findings.error(node, [.key("percentage"), .key("value")], problem) }
    }

    static let cors = rule { cors, findings in
        for (index, origin) in (cors["allowOrigins"]?.items ?? []).enumerated() {
            let at: [YAMLPathComponent] = [.key("allowOrigins"), .index(index)]
            let text = origin["exact"]?.scalarText ?? origin["prefix"]?.scalarText ?? origin["regex"]?.scalarText ?? ""
            if text.isEmpty {
                findings.error(origin, at, "an empty string is not a valid match for CORS allow origins: set exact, prefix or regex")
            } else if let regex = origin["regex"], let problem = regexProblem(text) {
                findings.error(regex, at + [.key("regex")], problem)
            }
        }
        for field in ["allowHeaders", "exposeHeaders"] {
            for (index, header) in (cors[field]?.items ?? []).enumerated() {
                let name = header.scalarText ?? ""
                if name != "*" && !isToken(name) {
                    findings.error(header, [.key(field), .index(index)], name.isEmpty ? "header name cannot be empty" : "header name \(name) is not a valid header name")
                }
            }
        }
        if let maxAge = cors["maxAge"], let seconds = maxAge.string.flatMap(DurationText.seconds), seconds != seconds.rounded() {
            findings.error(maxAge, [.key("maxAge")], "max_age duration is accurate only to seconds precision")
        }
    }

    /// Header operations of a route (`headers.request`/`headers.response`): request set/add may name :authority
    /// or Host, nothing else may touch Host or a pseudo-header; values are well-formed Envoy header values.
    static let headers = rule { headers, findings in
        for direction in ["request", "response"] {
            guard let operations = headers[direction] else { continue }
            for operation in ["set", "add"] {
                for pair in operations[operation]?.pairs ?? [] {
                    let name = pair.key.scalarText ?? ""
                    let at: [YAMLPathComponent] = [.key(direction), .key(operation), .key(name)]
                    if let problem = headerOperationProblem(name, allowAuthority: direction == "request") { findings.error(pair.key, at, problem) }
                    if let problem = headerValueProblem(pair.value.scalarText ?? "") { findings.error(pair.value, at, problem) }
                }
            }
            for (index, item) in (operations["remove"]?.items ?? []).enumerated() {
                if let problem = headerOperationProblem(item.scalarText ?? "", allowAuthority: false) {
                    findings.error(item, [.key(direction), .key("remove"), .index(index)], problem)
                }
            }
        }
    }

    static func headerOperationProblem(_ name: String, allowAuthority: Bool) -> String? {
        if name.isEmpty { return "header name cannot be empty" }
        let lower = name.lowercased()
        if allowAuthority && (lower == ":authority" || lower == "host") { return nil }
        if lower == "host" { return "invalid header \"\(name)\": cannot set Host header here; use rewrite.authority or a request header" }
        if name.hasPrefix(":") { return "invalid header \"\(name)\": header cannot have \":\" prefix" }
        return nil
    }

    /// An Envoy header value: no control characters; `%` starts a `%VARIABLE%` or is doubled (`%%`).
    static func headerValueProblem(_ value: String) -> String? {
        if value.unicodeScalars.contains(where: { ($0.value < 0x20 && $0.value != 0x09) || $0.value == 0x7F }) {
            return "header value \(value) is invalid: it contains control characters"
        }
        enum State { case literal, name, arrayStart, stringStart, string, delimiter, argsEnd, variableEnd }
        var state = State.literal
        let bytes = Array(value.utf8)
        var position = 0
        while position < bytes.count {
            let byte = bytes[position], hasNext = position + 1 < bytes.count
            switch state {
            case .literal:
                if byte == UInt8(ascii: "%") {
                    guard hasNext else { return "invalid header value \"\(value)\": un-escaped %; write %% for a literal %" }
                    if bytes[position + 1] == UInt8(ascii: "%") { position += 1 } else { state = .name }
                }
            case .name:
                if byte == UInt8(ascii: "%") { state = .literal } else if byte == UInt8(ascii: "(") { state = .arrayStart }
            case .arrayStart:
                if byte == UInt8(ascii: "[") { state = .stringStart } else if byte != UInt8(ascii: " ") { state = .string }
            case .delimiter:
                if byte == UInt8(ascii: ",") { state = .stringStart } else if byte == UInt8(ascii: "]") { state = .argsEnd }
                else if byte != UInt8(ascii: " ") { return "invalid header value \"\(value)\": expecting ',', ']' or a space" }
            case .stringStart:
                if byte == UInt8(ascii: "\"") { state = .string } else if byte != UInt8(ascii: " ") { return "invalid header value \"\(value)\": expecting '\"'" }
            case .string:
                if byte == UInt8(ascii: "\\") {
                    guard hasNext else { return "invalid header value \"\(value)\": un-terminated backslash in JSON string" }
                    position += 1
                } else if byte == UInt8(ascii: ")") { state = .variableEnd } else if byte == UInt8(ascii: "\"") { state = .delimiter }
            case .argsEnd:
                if byte == UInt8(ascii: ")") { state = .variableEnd } else if byte != UInt8(ascii: " ") { return "invalid header value \"\(value)\": expecting ')' or a space" }
            case .variableEnd:
                if byte == UInt8(ascii: "%") { state = .literal } else if byte != UInt8(ascii: " ") { return "invalid header value \"\(value)\": expecting '%' or a space" }
            }
            position += 1
        }
        return state == .literal ? nil : "invalid header value \"\(value)\": un-terminated variable expression; close it with %"
    }
}
