import ConfigValues

/// The network filters, HTTP filters and access log the pilot's listeners share, in Istio's shapes.
enum NetworkFilters {
    typealias J = EnvoyJSON

    /// Istio's default text access-log format (`EnvoyTextLogFormat`), with its trailing newline.
    static let accessLogFormat = "[%START_TIME%] \"%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%\" %RESPONSE_CODE% %RESPONSE_FLAGS% "
        + "%RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS% \"%UPSTREAM_TRANSPORT_FAILURE_REASON%\" %BYTES_RECEIVED% %BYTES_SENT% "
        + "%DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% \"%REQ(X-FORWARDED-FOR)%\" \"%REQ(USER-AGENT)%\" \"%REQ(X-REQUEST-ID)%\" "
        + "\"%REQ(:AUTHORITY)%\" \"%UPSTREAM_HOST%\" %UPSTREAM_CLUSTER_RAW% %UPSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% "
        + "%DOWNSTREAM_REMOTE_ADDRESS% %REQUESTED_SERVER_NAME% %ROUTE_NAME%\n"

    /// The access log list for a mesh config: `accessLogFile` names the file (empty turns logging off); local mode
    /// logs to /dev/stdout when the mesh config does not say.
    static func accessLog(_ meshConfig: JSONValue) -> JSONValue? {
        let path = meshConfig["accessLogFile"]?.string ?? "/dev/stdout"
        guard !path.isEmpty else { return nil }
        let format = meshConfig["accessLogFormat"]?.string.flatMap { $0.isEmpty ? nil : $0 } ?? accessLogFormat
        return .array([J.object([
            "name": .string("envoy.access_loggers.file"),
            "typed_config": J.typed("envoy.extensions.access_loggers.file.v3.FileAccessLog", [
                "path": .string(path),
                "log_format": J.object(["text_format_source": J.object(["inline_string": .string(format)])]),
            ]),
        ])])
    }

    static func tcpProxy(statPrefix: String, cluster: String, meshConfig: JSONValue) -> JSONValue {
        J.object(["name": .string("envoy.filters.network.tcp_proxy"),
                  "typed_config": J.typed("envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy", [
                      "stat_prefix": .string(statPrefix), "cluster": .string(cluster), "access_log": accessLog(meshConfig),
                  ])])
    }

    /// A tcp_proxy spreading connections by weight (VirtualService `tcp` routes with several destinations).
    static func tcpProxy(statPrefix: String, weighted: [(cluster: String, weight: Int)], meshConfig: JSONValue) -> JSONValue {
        J.object(["name": .string("envoy.filters.network.tcp_proxy"),
                  "typed_config": J.typed("envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy", [
                      "stat_prefix": .string(statPrefix),
                      "weighted_clusters": J.object(["clusters": .array(weighted.map { J.object(["name": .string($0.cluster), "weight": .int($0.weight)]) })]),
                      "access_log": accessLog(meshConfig),
                  ])])
    }

    static func httpFilter(_ name: String, _ type: String) -> JSONValue {
        J.object(["name": .string(name), "typed_config": J.typed(type)])
    }

    static let fault = httpFilter("envoy.filters.http.fault", "envoy.extensions.filters.http.fault.v3.HTTPFault")
    static let cors = httpFilter("envoy.filters.http.cors", "envoy.extensions.filters.http.cors.v3.Cors")
    static let router = httpFilter("envoy.filters.http.router", "envoy.extensions.filters.http.router.v3.Router")

    /// An http_connection_manager with Istio's sidecar settings; `routes` is `rds` or `route_config`. `acceptHTTP10`
    /// (the proxy's `HTTP10` metadata) sets `http_protocol_options.accept_http_10`, as istiod does.
    static func httpConnectionManager(statPrefix: String, routes: (key: String, value: JSONValue), httpFilters: [JSONValue],
                                      inbound: Bool, meshConfig: JSONValue, acceptHTTP10: Bool = false, http2Options: JSONValue? = nil) -> JSONValue {
        var typed = J.typed("envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager", [
            "stat_prefix": .string(statPrefix),
            "server_name": .string("istio-envoy"),
            "use_remote_address": .bool(false),
            "normalize_path": .bool(true),
            "path_with_escaped_slashes_action": .string("KEEP_UNCHANGED"),
            "stream_idle_timeout": inbound ? nil : .string("0s"),
            "forward_client_cert_details": inbound ? .string("APPEND_FORWARD") : nil,
            "set_current_client_cert_details": inbound ? J.object(["subject": .bool(true), "dns": .bool(true), "uri": .bool(true)]) : nil,
        ])
        if acceptHTTP10 { typed.set("http_protocol_options", J.object(["accept_http_10": .bool(true)])) }
        if let http2Options { typed.set("http2_protocol_options", http2Options) }
        typed.set(routes.key, routes.value)
        typed.set("http_filters", .array(httpFilters))
        typed.set("access_log", accessLog(meshConfig))
        return J.object(["name": .string("envoy.filters.network.http_connection_manager"), "typed_config": typed])
    }
}
