import Foundation

/// An answer the proxy makes itself, with Envoy's status, body text, response flag and code details.
struct LocalReply {
    var status: Int
    var body: String
    var flags: [ResponseFlag]
    var details: String
    var extraHeaders: [(name: String, value: String)] = []

    static let noRoute = LocalReply(status: 404, body: "", flags: [.noRouteFound], details: "route_not_found")
    static let noHealthyUpstream = LocalReply(status: 503, body: "no healthy upstream", flags: [.noHealthyUpstream], details: "no_healthy_upstream")
    static let clusterNotFound = LocalReply(status: 503, body: "", flags: [.noClusterFound], details: "cluster_not_found")
    /// A request routed to a cluster that wants HTTP/2 upstream, which meshctl's proxy does not speak yet.
    static let http2UpstreamUnsupported = LocalReply(status: 503, body: "meshctl's proxy does not speak HTTP/2 to upstreams yet (grpc and http2 ports); run local mode with --proxy envoy for them",
                                                     flags: [], details: "meshctl_http2_upstream_not_supported")
    /// An `Upgrade` request for a protocol the connection manager's `upgrade_configs` do not list.
    static let upgradeRefused = LocalReply(status: 403, body: "", flags: [], details: "upgrade_failed")
    /// The connection manager's `stream_idle_timeout` before the answer began (a route's `idle_timeout` answers 504).
    static let streamIdleTimeout = LocalReply(status: 408, body: "stream timeout", flags: [.streamIdleTimeout], details: "stream_idle_timeout")
    static let routeIdleTimeout = LocalReply(status: 504, body: "stream timeout", flags: [.streamIdleTimeout], details: "stream_idle_timeout")
    static let timeout = LocalReply(status: 504, body: "upstream request timeout", flags: [.upstreamRequestTimeout], details: "response_timeout")
    static let perTryTimeout = LocalReply(status: 504, body: "upstream request timeout", flags: [.upstreamRequestTimeout], details: "upstream_per_try_timeout")
    static let overflow = LocalReply(status: 503, body: resetText("overflow", retried: false), flags: [.upstreamOverflow],
                                     details: "upstream_reset_before_response_started{overflow}", extraHeaders: [("x-envoy-overloaded", "true")])

    static func faultAbort(status: Int) -> LocalReply {
        LocalReply(status: status, body: "fault filter abort", flags: [.faultInjected], details: "fault_filter_abort")
    }

    /// A gRPC fault abort: 200 either way; a gRPC request gets a trailers-only answer (content-type, grpc-status,
    /// grpc-message, no body), any other request the plain text body.
    static func faultAbort(grpcStatus: Int, grpcRequest: Bool) -> LocalReply {
        guard grpcRequest else { return faultAbort(status: 200) }
        return LocalReply(status: 200, body: "", flags: [.faultInjected], details: "fault_filter_abort",
                          extraHeaders: [("content-type", "application/grpc"), ("grpc-status", String(grpcStatus)), ("grpc-message", "fault filter abort")])
    }

    /// `upstream connect error or disconnect/reset before headers. reset reason: ...`.
    static func resetText(_ reason: String, retried: Bool) -> String {
        "upstream connect error or disconnect/reset before headers. " + (retried ? "retried and the latest reset reason: " : "reset reason: ") + reason
    }

    /// The head and body of the answer, headers in the order Envoy writes them.
    func encode(serverName: String, keepAlive: Bool) -> [UInt8] {
        var headers = extraHeaders
        if body.isEmpty {
            headers += [("date", HTTPDate.now()), ("server", serverName), ("content-length", "0")]
        } else {
            headers += [("content-length", String(body.utf8.count)), ("content-type", "text/plain"), ("date", HTTPDate.now()), ("server", serverName)]
        }
        if !keepAlive { headers.append(("connection", "close")) }
        return Array(ResponseHead.encode(status: status, headers: headers).utf8) + Array(body.utf8)
    }
}

/// A response's status line and headers as HTTP/1.1 text.
enum ResponseHead {
    static func encode(status: Int, headers: [(name: String, value: String)]) -> String {
        var text = "HTTP/1.1 \(status) \(reason(status))\r\n"
        for (name, value) in headers { text += "\(name): \(value)\r\n" }
        return text + "\r\n"
    }

    static func reason(_ status: Int) -> String {
        let reasons: [Int: String] = [
            100: "Continue", 101: "Switching Protocols", 200: "OK", 201: "Created", 202: "Accepted", 204: "No Content", 206: "Partial Content",
            301: "Moved Permanently", 302: "Found", 303: "See Other", 304: "Not Modified", 307: "Temporary Redirect", 308: "Permanent Redirect",
            400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 408: "Request Timeout",
            409: "Conflict", 413: "Payload Too Large", 418: "I'm a teapot", 429: "Too Many Requests", 431: "Request Header Fields Too Large",
            500: "Internal Server Error", 501: "Not Implemented", 502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout",
            505: "HTTP Version Not Supported",
        ]
        return reasons[status] ?? "Unknown"
    }
}

/// The `date` header's format (RFC 9110 IMF-fixdate), made once a second.
enum HTTPDate {
    nonisolated(unsafe) private static var cached: (second: Int, text: String) = (0, "")
    private static let lock = NSLock()

    static func now() -> String {
        let time = Date()
        let second = Int(time.timeIntervalSince1970)
        lock.lock(); defer { lock.unlock() }
        if cached.second == second { return cached.text }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        cached = (second, formatter.string(from: time))
        return cached.text
    }
}
