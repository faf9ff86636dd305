import ConfigValues

/// The Envoy v3 bootstrap of a local sidecar, shaped as pilot-agent writes it: node id and metadata, the admin port,
/// the static `xds-grpc` cluster to the pilot, `dynamic_resources` over REST-JSON xDS (so the embedded proxy and a
/// real Envoy run the same file), and the static listeners for prometheus (15090) and health (15021). Every address
/// is the pod IP: local pods share the host's network.
public enum SidecarBootstrap {
    /// The config source every dynamic resource uses: the pilot's REST-JSON xDS through the `xds-grpc` cluster.
    public static let configSource: JSONValue = .object([
        ("api_config_source", .object([
            ("api_type", .string("REST")), ("transport_api_version", .string("V3")),
            ("cluster_names", .array([.string("xds-grpc")])),
            ("refresh_delay", .string("1s")), ("request_timeout", .string("30s")),
        ])),
        ("resource_api_version", .string("V3")),
    ])

    public static func document(_ settings: SidecarSettings) -> JSONValue {
        let (pilotHost, pilotPort) = hostAndPort(settings.pilot)
        return .object([
            ("node", .object([
                ("id", .string(settings.nodeID)),
                ("cluster", .string("\(settings.metadata["LABELS"]?["app"]?.string ?? settings.podName).\(settings.namespace)")),
                ("metadata", settings.metadata),
            ])),
            ("admin", .object([("address", socketAddress(settings.podIP, SidecarSettings.adminPort))])),
            ("dynamic_resources", .object([("lds_config", configSource), ("cds_config", configSource)])),
            ("static_resources", .object([
                ("clusters", .array([
                    staticCluster("prometheus_stats", host: settings.podIP, port: SidecarSettings.adminPort),
                    staticCluster("agent", host: settings.podIP, port: SidecarSettings.agentPort),
                    staticCluster("xds-grpc", host: pilotHost, port: pilotPort, connectTimeout: "1s"),
                ])),
                ("listeners", .array([
                    listener(settings.podIP, SidecarSettings.prometheusPort, statPrefix: "stats", prefix: "/stats/prometheus", cluster: "prometheus_stats"),
                    listener(settings.podIP, SidecarSettings.healthPort, statPrefix: "agent", prefix: "/healthz/ready", cluster: "agent"),
                ])),
            ])),
        ])
    }

    static func hostAndPort(_ text: String) -> (String, Int) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]) else { return (text, 15010) }
        return (String(text[..<colon]), port)
    }

    static func socketAddress(_ host: String, _ port: Int) -> JSONValue {
        .object([("socket_address", .object([("protocol", .string("TCP")), ("address", .string(host)), ("port_value", .int(port))]))])
    }

    static func staticCluster(_ name: String, host: String, port: Int, connectTimeout: String = "0.250s") -> JSONValue {
        .object([
            ("name", .string(name)), ("alt_stat_name", .string("\(name);")), ("type", .string("STATIC")),
            ("connect_timeout", .string(connectTimeout)), ("lb_policy", .string("ROUND_ROBIN")),
            ("load_assignment", .object([
                ("cluster_name", .string(name)),
                ("endpoints", .array([.object([("lb_endpoints", .array([.object([("endpoint", .object([("address", socketAddress(host, port))]))])]))])])),
            ])),
        ])
    }

    /// An HTTP listener with one route, named as Istio names it (`0.0.0.0_15090`) though it binds the pod IP.
    static func listener(_ host: String, _ port: Int, statPrefix: String, prefix: String, cluster: String) -> JSONValue {
        let manager: JSONValue = .object([
            ("@type", .string("type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager")),
            ("codec_type", .string("AUTO")), ("stat_prefix", .string(statPrefix)),
            ("route_config", .object([("virtual_hosts", .array([.object([
                ("name", .string("backend")), ("domains", .array([.string("*")])),
                ("routes", .array([.object([("match", .object([("prefix", .string(prefix))])), ("route", .object([("cluster", .string(cluster))]))])])),
            ])]))])),
            ("http_filters", .array([.object([("name", .string("envoy.filters.http.router")),
                                              ("typed_config", .object([("@type", .string("type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"))]))])])),
        ])
        return .object([
            ("name", .string("0.0.0.0_\(port)")),
            ("address", socketAddress(host, port)),
            ("filter_chains", .array([.object([("filters", .array([.object([
                ("name", .string("envoy.filters.network.http_connection_manager")), ("typed_config", manager),
            ])]))])])),
        ])
    }
}
