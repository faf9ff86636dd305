/// Istio's own rules (its validating webhook's checks) that more than one kind shares.
enum IstioRules {
    typealias C = CommonSchemas

    /// Envoy's retry conditions, and HTTP status codes, for `retries.retryOn`.
    static let retryConditions: Set<String> = [
        "5xx", "gateway-error", "reset", "reset-before-request", "connect-failure", "envoy-ratelimited", "retriable-4xx",
        "refused-stream", "retriable-status-codes", "retriable-headers", "http3-post-connect-failure",
        "cancelled", "deadline-exceeded", "internal", "resource-exhausted", "unavailable",
    ]

    static let retryOn = ObjectRule { retry, path in
        guard let field = retry["retryOn"], let text = field.scalarText else { return [] }
        return text.split(separator: ",").compactMap { raw in
            let condition = raw.trimmingCharacters()
            if retryConditions.contains(condition) { return nil }
            if let status = Int(condition), (100...599).contains(status) { return nil }
            return C.problem(field, path + [.key("retryOn")],
                             "\"\(condition)\" is not a retry condition: use 5xx, gateway-error, reset, connect-failure, retriable-4xx, ... or an HTTP status")
        }
    }

    /// Regular expressions in string matches must compile.
    static let regexes = ObjectRule { match, path in
        var problems: [ValidationProblem] = []
        func check(_ node: YAMLNode?, _ fieldPath: [YAMLPathComponent]) {
            guard let regex = node?["regex"], let text = regex.scalarText else { return }
            if (try? Regex(text)) == nil {
                problems.append(C.problem(regex, fieldPath + [.key("regex")], "\"\(text)\" is not a valid regular expression"))
            }
        }
        for field in ["uri", "scheme", "method", "authority"] { check(match[field], path + [.key(field)]) }
        for field in ["headers", "queryParams", "withoutHeaders"] {
            for pair in match[field]?.pairs ?? [] { check(pair.value, path + [.key(field), .key(pair.key.scalarText ?? "")]) }
        }
        return problems
    }

    /// A host name as Istio takes it: a DNS name, a short name, or with a leading `*.` wildcard.
    static func hostProblem(_ host: String, allowWildcard: Bool) -> String? {
        if host.isEmpty { return "host must not be empty" }
        if host == "*" { return allowWildcard ? nil : "host cannot be *" }
        var name = Substring(host)
        if name.hasPrefix("*.") {
            guard allowWildcard else { return "host cannot be a wildcard" }
            name = name.dropFirst(2)
        } else if name.contains("*") {
            return "a wildcard may only be the leftmost label (*.example.com)"
        }
        if name.count > 255 { return "host is longer than 255 characters" }
        for label in name.split(separator: ".", omittingEmptySubsequences: false) {
            if label.isEmpty || label.count > 63 { return "\"\(host)\" is not a valid host name" }
            if !label.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) || label.hasPrefix("-") || label.hasSuffix("-") {
                return "\"\(host)\" is not a valid host name: labels are letters, digits and '-'"
            }
        }
        return nil
    }

    /// Every host of a list, optionally as `namespace/host` (Gateways).
    static func hosts(_ field: String, allowWildcard: Bool, namespaced: Bool = false) -> ObjectRule {
        ObjectRule { node, path in
            (node[field]?.items ?? []).enumerated().compactMap { index, item in
                var host = item.scalarText ?? ""
                if namespaced, let slash = host.firstIndex(of: "/") { host = String(host[host.index(after: slash)...]) }
                if host.contains("/") || (!namespaced && host.isEmpty) {
                    return C.problem(item, path + [.key(field), .index(index)], "\"\(item.scalarText ?? "")\" is not a valid host")
                }
                // IP addresses are hosts too.
                if host.split(separator: ".").count == 4, host.split(separator: ".").allSatisfy({ Int($0) != nil }) { return nil }
                if host.contains(":") { return nil }
                return hostProblem(host, allowWildcard: allowWildcard).map { C.problem(item, path + [.key(field), .index(index)], $0) }
            }
        }
    }

    /// Istio's checks on an Istio resource's annotations, which its webhook runs before the kind's rules:
    /// `istio.io/dry-run` only on an ALLOW or DENY AuthorizationPolicy, with a true/false value; the
    /// internal annotations that reject a resource or name its parents are not for users.
    static func annotationProblems(_ document: YAMLNode, kind: String) -> [ValidationProblem] {
        guard let annotations = document["metadata"]?["annotations"] else { return [] }
        let path: [YAMLPathComponent] = [.key("metadata"), .key("annotations")]
        var problems: [ValidationProblem] = []
        for pair in annotations.pairs ?? [] {
            guard let name = pair.key.scalarText else { continue }
            let fieldPath = path + [.key(name)]
            switch name {
            case "istio.io/dry-run":
                let action = document["spec"]?["action"]?.scalarText ?? "ALLOW"
                let goBools = ["1", "t", "T", "TRUE", "true", "True", "0", "f", "F", "FALSE", "false", "False"]
                if kind != "AuthorizationPolicy" {
                    problems.append(C.problem(pair.key, fieldPath, "the istio.io/dry-run annotation is only supported on AuthorizationPolicy; remove it"))
                } else if action != "ALLOW" && action != "DENY" {
                    problems.append(C.problem(pair.key, fieldPath, "istio.io/dry-run only supports the ALLOW and DENY actions, not \(action)"))
                } else if !goBools.contains(pair.value.scalarText ?? "") {
                    problems.append(C.problem(pair.value, fieldPath, "istio.io/dry-run must be \"true\" or \"false\", not \"\(pair.value.scalarText ?? "")\""))
                }
            case "internal.istio.io/webhook-always-reject":
                problems.append(C.problem(pair.key, fieldPath, "the \(name) annotation makes Istio reject the resource; remove it"))
            case "internal.istio.io/parent-namespace", "internal.istio.io/parents":
                problems.append(C.problem(pair.key, fieldPath, "the \(name) annotation is internal to Istio and may not be set by users; remove it"))
            default:
                break
            }
        }
        return problems
    }

    static func host(_ field: String) -> ObjectRule {
        ObjectRule { node, path in
            guard let item = node[field], let host = item.scalarText else { return [] }
            return hostProblem(host, allowWildcard: true).map { [C.problem(item, path + [.key(field)], $0)] } ?? []
        }
    }
}

extension Substring {
    func trimmingCharacters() -> String {
        var text = self
        while text.first == " " { text.removeFirst() }
        while text.last == " " { text.removeLast() }
        return String(text)
    }
}
