/// Istio's own rules (its validating webhook's checks) that more than one kind shares.
enum IstioRules {
    typealias C = CommonSchemas

    /// Envoy's retry conditions for `retries.retryOn` (HTTP status codes are allowed too).
    static let retryConditions: Set<String> = [
        "5xx", "gateway-error", "reset", "reset-before-request", "connect-failure", "envoy-ratelimited", "retriable-4xx",
        "refused-stream", "retriable-status-codes", "retriable-headers", "http3-post-connect-failure",
        "cancelled", "deadline-exceeded", "internal", "resource-exhausted", "unavailable",
    ]

    /// The HTTP status codes that have a registered name (Go's `http.StatusText`), which `retryOn` accepts.
    static let namedStatusCodes: Set<Int> = Set([100, 101, 102, 103, 226, 300, 301, 302, 303, 304, 305, 307, 308, 421, 422, 423, 424, 425,
                                                 426, 428, 429, 431, 451, 510, 511] + Array(200...208) + Array(400...418) + Array(500...508))

    static let retryOn = ObjectRule { retry, path in
        guard let field = retry["retryOn"], let text = field.scalarText, !text.isEmpty else { return [] }
        return text.split(separator: ",", omittingEmptySubsequences: false).compactMap { raw in
            let condition = String(raw)
            if retryConditions.contains(condition) { return nil }
            if let status = Int(condition), namedStatusCodes.contains(status) { return nil }
            return C.problem(field, path + [.key("retryOn")],
                             "\"\(condition)\" is not a valid retryOn policy: use 5xx, gateway-error, reset, connect-failure, retriable-4xx, ... or an HTTP status, separated by commas without spaces")
        }
    }
}
