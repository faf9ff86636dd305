/// Envoy's response flags (`%RESPONSE_FLAGS%`): the short code in the log, Envoy's long name, what Envoy did and
/// what that usually means in an Istio mesh.
public struct ResponseFlag: Sendable {
    public var code: String
    public var longName: String
    public var envoyMeaning: String
    public var istioMeaning: String

    /// Every flag Envoy documents for HTTP and TCP access logs (Envoy 1.40).
    public static let all: [ResponseFlag] = [
        ResponseFlag(code: "UH", longName: "NoHealthyUpstream", envoyMeaning: "no healthy host in the upstream cluster (answers 503)",
                     istioMeaning: "the destination has no ready endpoint: the Service or subset selects no ready pod (membership_total 0), or outlier detection ejected every host (failed_outlier_check)"),
        ResponseFlag(code: "UF", longName: "UpstreamConnectionFailure", envoyMeaning: "the connection to the upstream host failed",
                     istioMeaning: "nothing accepted the connection at the endpoint (connection refused: wrong targetPort, app not listening or bound to 127.0.0.1) or the TLS handshake failed (Istio mTLS to a plaintext port)"),
        ResponseFlag(code: "UO", longName: "UpstreamOverflow", envoyMeaning: "a circuit breaker was open: the cluster's connection, pending-request or request limit was reached (answers 503)",
                     istioMeaning: "the DestinationRule's trafficPolicy.connectionPool limits (maxConnections, http1MaxPendingRequests, http2MaxRequests) are too low for the load"),
        ResponseFlag(code: "NR", longName: "NoRouteFound", envoyMeaning: "no route matched the request (answers 404), or no filter chain matched a connection",
                     istioMeaning: "no VirtualService route matches the request's host, path or headers; for a connection, no listener filter chain matches (for example plaintext to a STRICT mTLS port)"),
        ResponseFlag(code: "URX", longName: "UpstreamRetryLimitExceeded", envoyMeaning: "the request was retried as many times as allowed and the last attempt failed too",
                     istioMeaning: "Istio's default retry policy (2 retries on connect failures) gave up; the flag beside it and the details say why each attempt failed"),
        ResponseFlag(code: "NC", longName: "NoClusterFound", envoyMeaning: "the route names a cluster the proxy does not have",
                     istioMeaning: "a VirtualService routes to a subset (or host) no DestinationRule defines, so the outbound|port|subset|host cluster does not exist"),
        ResponseFlag(code: "DT", longName: "DurationTimeout", envoyMeaning: "the request or connection ran longer than max_connection_duration or max_downstream_connection_duration",
                     istioMeaning: "a connection or stream duration limit (DestinationRule connectionPool or ProxyConfig) ended it"),
        ResponseFlag(code: "DC", longName: "DownstreamConnectionTermination", envoyMeaning: "the downstream (client) connection closed before the request finished",
                     istioMeaning: "the caller gave up or closed the connection; often a client timeout shorter than the server's answer"),
        ResponseFlag(code: "LH", longName: "FailedLocalHealthCheck", envoyMeaning: "the local host failed its health check (answers 503)",
                     istioMeaning: "the proxy's own health check of the app failed"),
        ResponseFlag(code: "UT", longName: "UpstreamRequestTimeout", envoyMeaning: "the upstream did not answer within the route timeout (answers 504)",
                     istioMeaning: "the VirtualService http[].timeout (or perTryTimeout) is shorter than the backend takes"),
        ResponseFlag(code: "LR", longName: "LocalReset", envoyMeaning: "the proxy reset the stream itself",
                     istioMeaning: "the sidecar cut the request (a local limit, an overload or a connection the proxy closed)"),
        ResponseFlag(code: "UR", longName: "UpstreamRemoteReset", envoyMeaning: "the upstream reset the stream",
                     istioMeaning: "the destination (its sidecar or the app) reset the HTTP/2 stream or the connection"),
        ResponseFlag(code: "UC", longName: "UpstreamConnectionTermination", envoyMeaning: "the upstream connection closed before the answer (answers 503)",
                     istioMeaning: "the app closed a kept-alive connection the sidecar reused (its idle timeout is shorter than the proxy's), or it closes without answering; plaintext to a STRICT mTLS sidecar ends the same way"),
        ResponseFlag(code: "DI", longName: "DelayInjected", envoyMeaning: "the fault filter delayed the request",
                     istioMeaning: "a VirtualService http[].fault.delay applied to this request"),
        ResponseFlag(code: "FI", longName: "FaultInjected", envoyMeaning: "the fault filter aborted the request with the configured status",
                     istioMeaning: "a VirtualService http[].fault.abort answered for the backend, which was never called"),
        ResponseFlag(code: "RL", longName: "RateLimited", envoyMeaning: "a rate limit refused the request (answers 429)",
                     istioMeaning: "a local or global rate limit (usually an EnvoyFilter adding envoy.filters.http.local_ratelimit) ran out of tokens"),
        ResponseFlag(code: "UAEX", longName: "UnauthorizedExternalService", envoyMeaning: "the external authorization service denied the request",
                     istioMeaning: "an AuthorizationPolicy with action CUSTOM (ext_authz provider) denied it"),
        ResponseFlag(code: "RLSE", longName: "RateLimitServiceError", envoyMeaning: "the rate-limit service failed and the request was refused",
                     istioMeaning: "the global rate-limit service did not answer and failure_mode_deny refused the request"),
        ResponseFlag(code: "IH", longName: "InvalidEnvoyRequestHeaders", envoyMeaning: "the request carried an invalid x-envoy-* header (answers 400)",
                     istioMeaning: "the caller set an x-envoy-* header to a value Envoy refuses"),
        ResponseFlag(code: "SI", longName: "StreamIdleTimeout", envoyMeaning: "the stream saw no bytes for stream_idle_timeout (answers 408)",
                     istioMeaning: "the request or response was idle too long (ProxyConfig or an EnvoyFilter sets stream_idle_timeout)"),
        ResponseFlag(code: "DPE", longName: "DownstreamProtocolError", envoyMeaning: "the downstream spoke HTTP Envoy could not parse",
                     istioMeaning: "the caller sent bytes that are not valid HTTP on an HTTP port (TLS or another protocol on a port named http)"),
        ResponseFlag(code: "UPE", longName: "UpstreamProtocolError", envoyMeaning: "the upstream answered with a protocol error",
                     istioMeaning: "the cluster speaks another protocol than the app: HTTP/2 (port named http2/grpc, or h2UpgradePolicy UPGRADE) to an HTTP/1.1-only app, or HTTP to a TLS port"),
        ResponseFlag(code: "UMSDR", longName: "UpstreamMaxStreamDurationReached", envoyMeaning: "the upstream stream reached its max_stream_duration",
                     istioMeaning: "a stream duration limit (route max_stream_duration, for gRPC the grpc-timeout) ended it"),
        ResponseFlag(code: "RFCF", longName: "ResponseFromCacheFilter", envoyMeaning: "the cache filter answered",
                     istioMeaning: "an HTTP cache filter (EnvoyFilter) answered from its cache"),
        ResponseFlag(code: "NFCF", longName: "NoFilterConfigFound", envoyMeaning: "a filter's configuration (ECDS) was missing, so the request was refused",
                     istioMeaning: "an extension (WasmPlugin or EnvoyFilter through ECDS) has no configuration yet"),
        ResponseFlag(code: "OM", longName: "OverloadManagerTerminated", envoyMeaning: "the overload manager refused the request",
                     istioMeaning: "the sidecar is out of memory or connections and sheds load"),
        ResponseFlag(code: "DF", longName: "DnsResolutionFailed", envoyMeaning: "DNS resolution of the upstream failed",
                     istioMeaning: "a ServiceEntry with resolution DNS (or a dynamic forward proxy) could not resolve its host"),
        ResponseFlag(code: "DO", longName: "DropOverload", envoyMeaning: "the request was dropped by the cluster's drop_overloads",
                     istioMeaning: "EDS asked the proxy to drop a share of the traffic"),
        ResponseFlag(code: "DR", longName: "DownstreamRemoteReset", envoyMeaning: "the downstream reset the stream",
                     istioMeaning: "the caller reset its HTTP/2 stream or connection"),
        ResponseFlag(code: "UDO", longName: "UnconditionalDropOverload", envoyMeaning: "the request was dropped unconditionally by drop_overloads at 100%",
                     istioMeaning: "EDS asked the proxy to drop all of the traffic"),
    ]

    /// The flag with that short code or long name.
    public static func named(_ name: String) -> ResponseFlag? {
        all.first { $0.code == name || $0.longName == name }
    }
}

/// What a `%RESPONSE_CODE_DETAILS%` value means: Envoy's documented details, the reset reasons inside
/// `upstream_reset_before_response_started{...}`, and the details Istio's filters write.
public enum ResponseCodeDetails {
    /// Known details and their meaning in a mesh.
    public static let known: [String: String] = [
        "via_upstream": "the response came from the upstream (the app, or the destination's sidecar); the proxy passed it on",
        "route_not_found": "no route of the matched virtual host fits the request: the VirtualService has no match for this path, method or headers",
        "cluster_not_found": "the matched route names a cluster the proxy does not have (a subset missing from the DestinationRule)",
        "no_healthy_upstream": "the cluster had no healthy host to send the request to",
        "response_timeout": "the route timeout expired before the upstream answered",
        "upstream_per_try_timeout": "one attempt ran out of its per-try timeout (VirtualService retries.perTryTimeout)",
        "upstream_per_try_idle_timeout": "an attempt was idle longer than its per-try idle timeout",
        "fault_filter_abort": "the fault filter aborted the request, as a VirtualService fault.abort says",
        "fault_filter_delay": "the fault filter delayed the request",
        "direct_response": "a route answered by itself (a VirtualService directResponse, or Istio's block_all route for REGISTRY_ONLY)",
        "filter_chain_not_found": "no filter chain of the listener matches the connection (for example plaintext to a port that only takes Istio mTLS)",
        "local_rate_limited": "the local rate limit filter refused the request",
        "request_rate_limited": "the global rate limit service refused the request",
        "stream_idle_timeout": "the stream was idle too long",
        "request_overall_timeout": "the whole request took longer than the request timeout",
        "downstream_remote_disconnect": "the caller disconnected",
        "downstream_local_disconnect": "the proxy closed the caller's connection",
        "duration_timeout": "the connection lived longer than its maximum duration",
        "max_duration_timeout": "the stream lived longer than its maximum duration",
        "upstream_max_stream_duration_reached": "the upstream stream reached its maximum duration",
        "overload": "the overload manager refused the request",
        "maintenance_mode": "the cluster is in maintenance mode",
        "missing_host_header": "the request has no Host or :authority",
        "path_normalization_failed": "the path could not be normalized",
        "internal_redirect": "the request was redirected internally",
        "low_version": "HTTP/1.0 is not enabled on this listener",
        "request_payload_too_large": "the request body is larger than the buffer limit",
        "response_payload_too_large": "the response body is larger than the buffer limit",
        "upgrade_failed": "the protocol upgrade (websocket) was refused",
        "ext_authz_denied": "the external authorization service denied the request (AuthorizationPolicy CUSTOM)",
        "ext_authz_error": "the external authorization service failed",
        "admin_filter_response": "the admin filter answered",
    ]

    /// Reset reasons Envoy writes inside `upstream_reset_before_response_started{...}`.
    public static let resetReasons: [String: String] = [
        "connection_failure": "the connection to the upstream failed",
        "remote_connection_failure": "the connection to the upstream failed on the remote side (refused, or the TLS handshake failed)",
        "local_connection_failure": "the proxy could not open the connection",
        "connection_timeout": "the connection attempt ran out of connect_timeout",
        "connection_termination": "the upstream closed the connection before answering",
        "remote_reset": "the upstream reset the stream",
        "local_reset": "the proxy reset the stream",
        "remote_refused_stream_reset": "the upstream refused the HTTP/2 stream",
        "overflow": "a circuit breaker of the cluster overflowed",
        "protocol_error": "the upstream's answer broke the protocol the cluster speaks",
        "connect_error": "the CONNECT to the upstream failed",
    ]

    /// The meaning of a details value, with the parts of `name{reason|transport failure}` explained.
    public static func explain(_ details: String) -> [String] {
        if details.isEmpty { return ["no details (\"-\")"] }
        if let meaning = known[details] { return [meaning] }
        if details.hasPrefix("rbac_access_denied_matched_policy[") {
            let policy = String(details.dropFirst("rbac_access_denied_matched_policy[".count).dropLast())
            if policy == "none" {
                return ["the RBAC filter (an AuthorizationPolicy with action ALLOW) denied the request: no ALLOW rule matched it"]
            }
            return ["the RBAC filter denied the request: policy \(policy) (an AuthorizationPolicy with action DENY, named as ns[NAMESPACE]-policy[NAME]-rule[INDEX]) matched it"]
        }
        if details.hasPrefix("rbac_access_denied") { return ["the RBAC filter (an AuthorizationPolicy) denied the request"] }
        for prefix in ["upstream_reset_before_response_started", "upstream_reset_after_response_started"] where details.hasPrefix(prefix) {
            var lines = [prefix.hasSuffix("started") && prefix.contains("before")
                         ? "the upstream connection or stream failed before any response byte arrived"
                         : "the upstream connection or stream failed after the response had started"]
            if let open = details.firstIndex(of: "{"), details.hasSuffix("}") {
                let inner = String(details[details.index(after: open)..<details.index(before: details.endIndex)])
                let parts = inner.split(separator: "|", maxSplits: 1).map(String.init)
                if let reason = parts.first {
                    lines.append("reset reason \(reason): \(resetReasons[reason] ?? "a reason meshctl does not know")")
                }
                if parts.count > 1 { lines.append("transport failure: \(TransportFailure.explain(parts[1]))") }
            }
            return lines
        }
        return ["a detail meshctl does not know (filters may write their own)"]
    }
}

/// What `%UPSTREAM_TRANSPORT_FAILURE_REASON%` (or the part after `|` in the details) says about the connection.
public enum TransportFailure {
    /// The kind of failure in the text.
    public enum Kind: Equatable, Sendable {
        case connectionRefused, connectionTimeout, tlsHandshake(String), other
    }

    public static func kind(_ text: String) -> Kind {
        let lower = text.lowercased()
        if lower.contains("connection_refused") || lower.contains("connection refused") { return .connectionRefused }
        if lower.contains("timed_out") || lower.contains("timed out") || lower.contains("timeout") { return .connectionTimeout }
        if lower.contains("tls_error") || lower.contains("ssl_routines") || lower.contains("ssl routines") {
            let reasons = ["WRONG_VERSION_NUMBER", "CERTIFICATE_VERIFY_FAILED", "TLSV1_ALERT_UNKNOWN_CA", "SSLV3_ALERT_BAD_CERTIFICATE",
                           "TLSV1_ALERT_PROTOCOL_VERSION", "NO_SHARED_CIPHER", "SSLV3_ALERT_HANDSHAKE_FAILURE", "TLSV1_ALERT_NO_APPLICATION_PROTOCOL",
                           "CONNECTION_CLOSED", "UNEXPECTED_EOF", "PEER_DID_NOT_RETURN_A_CERTIFICATE", "TLSV13_ALERT_CERTIFICATE_REQUIRED"]
            return .tlsHandshake(reasons.first { text.uppercased().contains($0) } ?? "TLS error")
        }
        return .other
    }

    public static func explain(_ text: String) -> String {
        switch kind(text) {
        case .connectionRefused: return "\(text): the endpoint's port refused the connection (nothing listens there)"
        case .connectionTimeout: return "\(text): the connection attempt timed out"
        case .tlsHandshake(let reason) where reason == "WRONG_VERSION_NUMBER":
            return "\(text): the TLS handshake failed because the peer answered in plaintext (no TLS server there: no sidecar, or a plaintext port)"
        case .tlsHandshake(let reason): return "\(text): the TLS handshake failed (\(reason))"
        case .other: return text
        }
    }
}
