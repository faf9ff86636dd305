import Foundation
import MeshNet

/// An answer the proxy makes itself, with Envoy's status, body text, response flag and code details.
struct LocalReply {
    var status: Int
    var body: String
    var flags: [ResponseFlag]
    var details: String
    var extraHeaders: [(name: String, value: String)] = []
    /// The grpc-status a gRPC client gets; nil: mapped from the HTTP status.
    var grpcStatus: Int?

    static let noRoute = LocalReply(status: 404, body: "", flags: [.noRouteFound], details: "route_not_found")
    /// A request body passed the buffer limit while a retry waited for its backoff (the connection closes after it).
    static let retryBufferOverflow = LocalReply(status: 507, body: "exceeded request buffer limit while retrying upstream", flags: [],
                                                details: "request_payload_exceeded_retry_buffer_limit")
        static let noHealthyUpstream = LocalReply(status: 503, body: "no healthy upstream", flags: [.noHealthyUpstream], details: "no_healthy_upstream")
    /// A ClusterLoadAssignment's `drop_overloads` dropped the request (at 100%: unconditionally), as Envoy answers.
    static let dropOverload = LocalReply(status: 503, body: "drop overload", flags: [.dropOverload], details: "drop_overload",
                                         extraHeaders: [("x-envoy-drop-overload", "true")])
    static let unconditionalDropOverload = LocalReply(status: 503, body: "unconditional drop overload", flags: [.unconditionalDropOverload],
                                                      details: "unconditional_drop_overload", extraHeaders: [("x-envoy-unconditional-drop-overload", "true")])
    static let clusterNotFound = LocalReply(status: 503, body: "", flags: [.noClusterFound], details: "cluster_not_found")
    /// An `Upgrade` request for a protocol the connection manager's `upgrade_configs` do not list.
    static let upgradeRefused = LocalReply(status: 403, body: "", flags: [], details: "upgrade_failed")
    /// The connection manager's `stream_idle_timeout` before the answer began (a route's `idle_timeout` answers 504).
    static let streamIdleTimeout = LocalReply(status: 408, body: "stream timeout", flags: [.streamIdleTimeout], details: "stream_idle_timeout")
    static let routeIdleTimeout = LocalReply(status: 504, body: "stream timeout", flags: [.streamIdleTimeout], details: "stream_idle_timeout")
    static let timeout = LocalReply(status: 504, body: "upstream request timeout", flags: [.upstreamRequestTimeout], details: "response_timeout")
    /// The route's `max_stream_duration` (or the request's `grpc-timeout` under it) passed. Envoy 1.40 logs no
    /// response flag for it (its `DT` stays unset on this path), only the details.
    static let maxDurationTimeout = LocalReply(status: 504, body: "downstream duration timeout", flags: [],
                                               details: "max_duration_timeout", grpcStatus: 4)
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

    /// The reply as a gRPC client gets it (Envoy's local reply to a gRPC request): 200 with no body, the HTTP status
    /// mapped to `grpc-status` and the body text as `grpc-message`, trailers-only. A reply already in that shape
    /// (a gRPC fault abort) stays as it is.
    func asGRPC() -> LocalReply {
        guard !extraHeaders.contains(where: { $0.name == "grpc-status" }) else { return self }
        var headers: [(name: String, value: String)] = [("content-type", "application/grpc"), ("grpc-status", String(grpcStatus ?? Self.grpcStatus(forHTTP: status)))]
        if !body.isEmpty { headers.append(("grpc-message", Self.grpcMessage(body))) }
        return LocalReply(status: 200, body: "", flags: flags, details: details, extraHeaders: headers + extraHeaders)
    }

    /// gRPC's status for an HTTP status (its HTTP-to-gRPC status mapping, as Envoy applies it).
    static func grpcStatus(forHTTP status: Int) -> Int {
        switch status {
        case 400: return 13  // INTERNAL
        case 401: return 16  // UNAUTHENTICATED
        case 403: return 7  // PERMISSION_DENIED
        case 404: return 12  // UNIMPLEMENTED
        case 429, 502, 503, 504: return 14  // UNAVAILABLE
        default: return 2  // UNKNOWN
        }
    }

    /// `grpc-message`'s percent-encoding: bytes outside printable ASCII, and `%`, as %XX.
    static func grpcMessage(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            if byte >= 0x20 && byte <= 0x7e && byte != 0x25 { out.unicodeScalars.append(Unicode.Scalar(byte)) } else { out += String(format: "%%%02X", byte) }
        }
        return out
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

    /// The same bytes as `encode`, written straight into `out` (emptied first; its storage is kept when it is free
    /// and large enough, so a connection's heads can reuse one buffer).
    static func encode(status: Int, headers: [(name: String, value: String)], into out: inout ByteBuffer) {
        let reason = reason(status)
        let code = String(status)  // a small string: no allocation
        var size = 9 + code.utf8.count + 1 + reason.utf8.count + 2 + 2
        for (name, value) in headers { size += name.utf8.count + value.utf8.count + 4 }
        out.reuse(minimumCapacity: max(size, 512))
        // One pass of copies into the reserved space: a `writeString` per piece checked the buffer's room and
        // uniqueness each time (~35 calls for a usual head).
        let written = out.withUnsafeMutableWritableBytes { space -> Int in
            var at = 0
            func put(_ text: String) {
                var text = text
                text.withUTF8 { bytes in
                    guard let from = bytes.baseAddress else { return }
                    (space.baseAddress! + at).copyMemory(from: from, byteCount: bytes.count)
                    at += bytes.count
                }
            }
            func put(_ a: UInt8, _ b: UInt8) {
                space[at] = a
                space[at + 1] = b
                at += 2
            }
            put("HTTP/1.1 ")
            put(code)
            space[at] = UInt8(ascii: " ")
            at += 1
            put(reason)
            put(13, 10)
            for (name, value) in headers {
                put(name)
                put(UInt8(ascii: ":"), UInt8(ascii: " "))
                put(value)
                put(13, 10)
            }
            put(13, 10)
            return at
        }
        out.moveWriterIndex(forwardBy: written)
    }

    static func reason(_ status: Int) -> String {
        switch status {
        case 100: return "Continue"
        case 101: return "Switching Protocols"
        case 200: return "OK"
        case 201: return "Created"
        case 202: return "Accepted"
        case 204: return "No Content"
        case 206: return "Partial Content"
        case 301: return "Moved Permanently"
        case 302: return "Found"
        case 303: return "See Other"
        case 304: return "Not Modified"
        case 307: return "Temporary Redirect"
        case 308: return "Permanent Redirect"
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 408: return "Request Timeout"
        case 409: return "Conflict"
        case 413: return "Payload Too Large"
        case 418: return "I'm a teapot"
        case 426: return "Upgrade Required"
        case 429: return "Too Many Requests"
        case 431: return "Request Header Fields Too Large"
        case 500: return "Internal Server Error"
        case 501: return "Not Implemented"
        case 502: return "Bad Gateway"
        case 503: return "Service Unavailable"
        case 504: return "Gateway Timeout"
        case 505: return "HTTP Version Not Supported"
        case 507: return "Insufficient Storage"
        default: return "Unknown"
        }
    }
}

/// The `date` header's format (RFC 9110 IMF-fixdate), made once a second, without Foundation's formatters.
enum HTTPDate {
    nonisolated(unsafe) private static var cached: (second: Int, text: String) = (0, "")
    private static let lock = NSLock()

    static func now() -> String {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        let second = Int(time.tv_sec)
        lock.lock(); defer { lock.unlock() }
        if cached.second == second { return cached.text }
        cached = (second, format(second))
        return cached.text
    }

    /// `Sun, 06 Nov 1994 08:49:37 GMT` for seconds since 1970.
    static func format(_ secondsSince1970: Int) -> String {
        var seconds = time_t(secondsSince1970)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(days[Int(parts.tm_wday)]), \(two(parts.tm_mday)) \(months[Int(parts.tm_mon)]) \(parts.tm_year + 1900) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) GMT"
    }
}
