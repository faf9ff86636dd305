/// Istio's webhook checks for the networking.istio.io kinds, in Istio's words where it has them.
/// The kinds' schemas (IstioSchemas+Networking) attach these rules to the objects they check.
enum NetworkingRules {
    /// Collects the problems one rule finds in an object at `path`.
    struct Findings {
        let path: [YAMLPathComponent]
        var problems: [ValidationProblem] = []

        mutating func error(_ node: YAMLNode, _ at: [YAMLPathComponent] = [], _ message: String) {
            problems.append(ValidationProblem(.error, path: path + at, location: node.location, message: message))
        }

        mutating func warning(_ node: YAMLNode, _ at: [YAMLPathComponent] = [], _ message: String) {
            problems.append(ValidationProblem(.warning, path: path + at, location: node.location, message: message))
        }
    }

    /// A rule written as a walk over its object that reports into `Findings`.
    static func rule(_ body: @escaping @Sendable (_ node: YAMLNode, _ findings: inout Findings) -> Void) -> ObjectRule {
        ObjectRule { node, path in
            var findings = Findings(path: path)
            body(node, &findings)
            return findings.problems
        }
    }

    /// The protocols Istio knows for a port (`protocol.Parse`), upper-cased; anything else is unsupported.
    enum PortProtocol {
        static let known: Set<String> = ["TCP", "UDP", "GRPC", "GRPC-WEB", "HTTP", "HTTP_PROXY", "HTTP2", "HTTPS", "TLS", "MONGO", "REDIS", "MYSQL"]
        static func isKnown(_ name: String) -> Bool { known.contains(name.uppercased()) }
        static func isHTTP(_ name: String) -> Bool { ["HTTP", "HTTP2", "HTTP_PROXY", "GRPC", "GRPC-WEB"].contains(name.uppercased()) }
        static func isTLS(_ name: String) -> Bool { ["HTTPS", "TLS"].contains(name.uppercased()) }
        static func isTCP(_ name: String) -> Bool { ["TCP", "HTTPS", "TLS", "MONGO", "REDIS", "MYSQL"].contains(name.uppercased()) }
    }

    static func portProblem(_ number: Int) -> String? {
        (1...65535).contains(number) ? nil : "port number \(number) must be in the range 1..65535"
    }

    /// Istio takes durations to the millisecond only (and at least 1ms, which the schemas check).
    static func durationPrecisionProblem(_ node: YAMLNode?) -> String? {
        guard let text = node?.string, let seconds = DurationText.seconds(text) else { return nil }
        let milliseconds = seconds * 1000
        return abs(milliseconds - milliseconds.rounded()) < 1e-6 ? nil
            : "duration \"\(text)\" is finer than a millisecond: only durations to ms precision are supported"
    }

    /// The named duration fields of an object are whole milliseconds.
    static func millisecondDurations(_ fields: [String]) -> ObjectRule {
        rule { node, findings in
            for field in fields {
                if let value = node[field], let problem = durationPrecisionProblem(value) { findings.error(value, [.key(field)], problem) }
            }
        }
    }

    /// A `Percent` (`{value: n}`): 0, or from 0.0001 to 100.
    static func percentageProblem(_ percent: YAMLNode?) -> (YAMLNode, String)? {
        guard let node = percent?["value"], let value = node.double else { return nil }
        guard value < 0 || value > 100 || (value > 0 && value < 0.0001) else { return nil }
        return (node, "percentage \(node.scalarText ?? "") is neither 0 nor in the range [0.0001, 100]")
    }

    /// `exportTo`: `.`, `*` or namespace names (and `~` for ServiceEntry alone), no duplicates, `*` and `~` alone.
    static func exportTo(serviceEntry: Bool) -> ObjectRule {
        rule { spec, findings in
            let items = spec["exportTo"]?.items ?? []
            var seen: Set<String> = []
            for (index, item) in items.enumerated() {
                let value = item.scalarText ?? ""
                let at: [YAMLPathComponent] = [.key("exportTo"), .index(index)]
                if !seen.insert(value).inserted {
                    findings.error(item, at, "duplicate entries in exportTo for entry \(value)")
                } else if value == "~" && !serviceEntry {
                    findings.error(item, at, "exportTo ~ (none) is not allowed for Istio configuration objects; it is for ServiceEntry only")
                } else if value != "." && value != "*" && value != "~" && !IstioNames.isDNSLabel(value) {
                    findings.error(item, at, "invalid exportTo entry \"\(value)\": use ., * or a namespace name (a DNS label)")
                }
            }
            if seen.contains("*") && items.count > 1 {
                findings.error(spec["exportTo"]!, [.key("exportTo")], "cannot have both public (*) and non-public exportTo values for a resource")
            }
            if seen.contains("~") && items.count > 1 {
                findings.error(spec["exportTo"]!, [.key("exportTo")], "cannot export service entry to no one (~) and someone")
            }
        }
    }

    /// A Destination: host not `*` and a valid (wildcard) domain, subset a DNS label, port in range.
    static let destination = rule { destination, findings in
        if let hostNode = destination["host"], let host = hostNode.scalarText {
            if host == "*" {
                findings.error(hostNode, [.key("host")], "invalid destination host *: name one service")
            } else if let problem = IstioNames.wildcardDomainProblem(host) {
                findings.error(hostNode, [.key("host")], problem)
            }
        }
        if let subset = destination["subset"], let name = subset.scalarText, let problem = subsetNameProblem(name) {
            findings.error(subset, [.key("subset")], problem)
        }
    }

    static func subsetNameProblem(_ name: String) -> String? {
        if name.isEmpty { return "subset name cannot be empty" }
        return IstioNames.isDNSLabel(name) ? nil : "subset name \"\(name)\" is invalid: it must be a DNS label (letters, digits, inner '-')"
    }

    /// Workload selector labels (`labels` of the alpha selector): no empty keys, no `*` in keys or values (also a CRD
    /// rule); no labels at all is a warning.
    static func alphaSelector(ownerWords: String) -> ObjectRule {
        rule { selector, findings in
            let labels = selector["labels"]?.pairs ?? []
            for pair in labels where (pair.key.scalarText ?? "").isEmpty {
                findings.error(pair.key, [.key("labels")], "empty key is not supported in selector")
            }
            for pair in labels {
                let key = pair.key.scalarText ?? ""
                if key.contains("*") { findings.error(pair.key, [.key("labels"), .key(key)], "wildcard is not supported in selector") }
                if (pair.value.scalarText ?? "").contains("*") { findings.error(pair.value, [.key("labels"), .key(key)], "wildcard is not supported in selector") }
            }
            if labels.isEmpty {
                findings.warning(selector, [], "workload selector specified without labels: \(ownerWords) will be applied to all workloads in its namespace")
            }
        }
    }
}
