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
