import ConfigValues

/// Where a dynamic resource comes from (`envoy.config.core.v3.ConfigSource`): a file, or a management server
/// polled over xDS's REST-JSON transport.
public enum ConfigSource: Sendable, Equatable {
    case file(String)
    case api(APIConfigSource)

    static func read(_ reader: ConfigReader) throws(ProxyConfigError) -> ConfigSource {
        _ = try reader.enumeration("resource_api_version", allowed: ["V3"])
        let initialFetchTimeout = try reader.duration("initial_fetch_timeout")
        if reader.has("ads") {
            throw reader.error("ADS is not supported: use api_config_source with api_type REST", path: [.key("ads")])
        }
        if reader.has("api_config_source") {
            guard var api = try reader.object("api_config_source", { source throws(ProxyConfigError) in try APIConfigSource.read(source) }) else {
                throw reader.error("needs an api_config_source", path: [.key("api_config_source")])
            }
            if let initialFetchTimeout { api.initialFetchTimeout = initialFetchTimeout }
            return .api(api)
        }
        let legacyPath = try reader.string("path")
        guard let path = try reader.object("path_config_source", { source throws(ProxyConfigError) -> String in
            source.ignore("watched_directory")
            return try source.requiredString("path")
        }) ?? legacyPath else { throw reader.error("needs a path_config_source or an api_config_source", path: [.key("path_config_source")]) }
        return .file(path)
    }
}

/// An `api_config_source` with `api_type: REST`: the static cluster that reaches the management server, how often
/// to ask again, and how long one request may take.
public struct APIConfigSource: Sendable, Equatable {
    public var clusterName: String
    /// Seconds between polls (Envoy's default 1 s).
    public var refreshDelay: Double
    /// Seconds one request may take (Envoy's default 1 s; Istio's REST bootstraps give 30 s for held requests).
    public var requestTimeout: Double
    /// Seconds a resource that waits for this source keeps its dependents warming (Envoy's default 15 s).
    public var initialFetchTimeout: Double = 15
    /// Where in the document the source was given, so a check made later can point at it.
    var path: String = ""
    var file: String = ""
    var location: SourceLocation = .none

    static func read(_ reader: ConfigReader) throws(ProxyConfigError) -> APIConfigSource {
        guard let type = try reader.string("api_type") else { throw reader.error("needs api_type: REST", path: [.key("api_type")]) }
        guard type == "REST" else {
            throw reader.error("\(type) is not supported: meshctl's proxy speaks xDS over REST-JSON (api_type: REST)", path: [.key("api_type")])
        }
        _ = try reader.enumeration("transport_api_version", allowed: ["V3"])
        if reader.has("grpc_services") { throw reader.error("grpc_services are not used with api_type REST (use cluster_names)", path: [.key("grpc_services")]) }
        let names = try reader.strings("cluster_names")
        guard names.count == 1 else { throw reader.error("must name exactly one static cluster (the management server's)", path: [.key("cluster_names")]) }
        let refresh = try reader.duration("refresh_delay") ?? 1
        let timeout = try reader.duration("request_timeout") ?? 1
        reader.ignore("set_node_on_first_message_only")
        return APIConfigSource(clusterName: names[0], refreshDelay: refresh, requestTimeout: timeout,
                               path: reader.pathText, file: reader.file, location: reader.node.location)
    }

    public static func == (a: APIConfigSource, b: APIConfigSource) -> Bool {
        a.clusterName == b.clusterName && a.refreshDelay == b.refreshDelay && a.requestTimeout == b.requestTimeout && a.initialFetchTimeout == b.initialFetchTimeout
    }
}

/// The bootstrap's `dynamic_resources`: where listeners (LDS) and clusters (CDS) come from.
public struct DynamicResourceSources: Sendable, Equatable {
    public var listeners: APIConfigSource?
    public var clusters: APIConfigSource?

    static func read(_ reader: ConfigReader) throws(ProxyConfigError) -> DynamicResourceSources {
        if reader.has("ads_config") { throw reader.error("ADS is not supported: give lds_config and cds_config with api_type REST", path: [.key("ads_config")]) }
        func api(_ key: String) throws(ProxyConfigError) -> APIConfigSource? {
            try reader.object(key) { source throws(ProxyConfigError) -> APIConfigSource in
                guard case .api(let api) = try ConfigSource.read(source) else {
                    throw source.error("only api_config_source (REST) is supported here", path: [])
                }
                return api
            }
        }
        return DynamicResourceSources(listeners: try api("lds_config"), clusters: try api("cds_config"))
    }
}
