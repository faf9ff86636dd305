import ConfigValues

/// `address.socket_address`: an IP literal and a port.
public struct SocketAddress: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    static func read(_ reader: ConfigReader, key: String = "address") throws(ProxyConfigError) -> SocketAddress {
        guard let address = try reader.object(key, { address throws(ProxyConfigError) -> SocketAddress in
            guard let socket = try address.object("socket_address", { socket throws(ProxyConfigError) -> SocketAddress in
                let host = try socket.requiredString("address")
                _ = try socket.enumeration("protocol", allowed: ["TCP"])
                socket.ignore("ipv4_compat")
                guard let port = try socket.integer("port_value", maximum: 65535) else { throw socket.error("needs a port_value", path: [.key("port_value")]) }
                return SocketAddress(host: host, port: port)
            }) else { throw address.error("needs a socket_address (pipes and internal addresses are not supported)") }
            return socket
        }) else { throw reader.error("needs an \(key)", path: [.key(key)]) }
        return address
    }
}

public struct Listener: Sendable {
    /// nil when the configuration gives none (Envoy then makes one up for `/listeners`).
    public var name: String?
    public var address: SocketAddress
    public var trafficDirection: String?
    public var filterChains: [FilterChain]
    /// `tls_inspector`, `http_inspector` (their short names).
    public var listenerFilters: [String]
    public var source: JSONValue
}

public struct FilterChainMatch: Sendable, Equatable {
    public var transportProtocol: String?
    public var applicationProtocols: [String] = []
    public var destinationPort: Int?
    public var serverNames: [String] = []
}

public struct FilterChain: Sendable {
    public var name: String?
    public var match: FilterChainMatch
    /// Set when the chain terminates TLS; the proxy reads the settings but does not serve TLS yet.
    public var tls: TLSContextConfig?
    public var filter: NetworkFilter
}

public enum NetworkFilter: Sendable {
    case httpConnectionManager(HTTPConnectionManagerConfig)
    case tcpProxy(TCPProxyConfig)
}

/// A `DownstreamTlsContext` or `UpstreamTlsContext`: the certificates and checks, by SDS secret name.
public struct TLSContextConfig: Sendable, Equatable {
    public var certificateSecrets: [String]
    public var validationSecret: String?
    public var alpn: [String]
    public var sni: String?
    public var requireClientCertificate: Bool
    public var subjectAltNames: [String]
}

public struct HTTPConnectionManagerConfig: Sendable {
    public enum Routes: Sendable { case inline(RouteConfiguration), rds(name: String, source: ConfigSource) }
    public var statPrefix: String
    public var serverName: String?
    public var routes: Routes
    public var httpFilters: [HTTPFilter]
    public var accessLogs: [AccessLogConfig]
    /// Seconds; 0 disables (default 5 minutes).
    public var streamIdleTimeout: Double
    public var requestTimeout: Double
}

public enum HTTPFilter: Sendable {
    case fault(FaultConfig)
    case cors
    case router
}

public struct TCPProxyConfig: Sendable {
    public var statPrefix: String
    public var cluster: String
    public var accessLogs: [AccessLogConfig]
}

/// A file access log with a text format (`%START_TIME%` ... command operators).
public struct AccessLogConfig: Sendable {
    public var path: String
    public var format: String?
}

extension Listener {
    static func read(_ reader: ConfigReader) throws(ProxyConfigError) -> Listener {
        let name = try reader.string("name")
        let address = try SocketAddress.read(reader)
        let direction = try reader.enumeration("traffic_direction", allowed: ["INBOUND", "OUTBOUND", "UNSPECIFIED"])
        _ = try reader.bool("continue_on_listener_filters_timeout")
        _ = try reader.duration("listener_filters_timeout")
        reader.ignore("metadata", "per_connection_buffer_limit_bytes")
        let filters = try reader.list("listener_filters") { filter throws(ProxyConfigError) -> String in
            let name = try filter.requiredString("name")
            _ = try filter.object("typed_config") { typed throws(ProxyConfigError) in
                let type = try typed.typeName()
                let known = ["envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector",
                             "envoy.extensions.filters.listener.http_inspector.v3.HttpInspector"]
                guard known.contains(type) else { throw filter.error("\(name) is not supported") }
            }
            return name
        }
        let chains = try reader.list("filter_chains") { chain throws(ProxyConfigError) in try FilterChain.read(chain) }
        guard !chains.isEmpty else { throw reader.error("needs at least one filter chain", path: [.key("filter_chains")]) }
        if reader.has("default_filter_chain") { throw reader.error("is not supported", path: [.key("default_filter_chain")]) }
        return Listener(name: name, address: address, trafficDirection: direction, filterChains: chains, listenerFilters: filters,
                        source: JSONValue(yaml: reader.node))
    }
}

extension FilterChain {
    static func read(_ reader: ConfigReader) throws(ProxyConfigError) -> FilterChain {
        let name = try reader.string("name")
        reader.ignore("metadata")
        let match = try reader.object("filter_chain_match") { match throws(ProxyConfigError) -> FilterChainMatch in
            FilterChainMatch(transportProtocol: try match.string("transport_protocol"), applicationProtocols: try match.strings("application_protocols"),
                             destinationPort: try match.integer("destination_port", maximum: 65535), serverNames: try match.strings("server_names"))
        } ?? FilterChainMatch()
        let tls = try reader.object("transport_socket") { socket throws(ProxyConfigError) in try TLSContextConfig.readTransportSocket(socket, downstream: true) } ?? nil
        let filters = try reader.list("filters") { filter throws(ProxyConfigError) in try NetworkFilter.read(filter) }
        guard filters.count == 1 else {
            throw reader.error(filters.isEmpty ? "needs a network filter" : "only one network filter per chain is supported (http_connection_manager or tcp_proxy)",
                               path: [.key("filters")])
        }
        return FilterChain(name: name, match: match, tls: tls, filter: filters[0])
    }
}

extension TLSContextConfig {
    /// A `transport_socket`: raw_buffer (nil) or tls.
    static func readTransportSocket(_ reader: ConfigReader, downstream: Bool) throws(ProxyConfigError) -> TLSContextConfig? {
        let name = try reader.string("name") ?? ""
        guard let config = try reader.object("typed_config", { typed throws(ProxyConfigError) -> TLSContextConfig? in
            let type = try typed.typeName()
            switch type {
            case "envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer": return nil
            case "envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext" where downstream,
                 "envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext" where !downstream:
                return try read(typed)
            default: throw typed.error("\(name.isEmpty ? type : name) is not supported here")
            }
        }) else { throw reader.error("needs a typed_config", path: [.key("typed_config")]) }
        return config
    }

    static func read(_ reader: ConfigReader) throws(ProxyConfigError) -> TLSContextConfig {
        let requireClient = try reader.bool("require_client_certificate") ?? false
        let sni = try reader.string("sni")
        var config = TLSContextConfig(certificateSecrets: [], validationSecret: nil, alpn: [], sni: sni, requireClientCertificate: requireClient, subjectAltNames: [])
        _ = try reader.object("common_tls_context") { common throws(ProxyConfigError) in
            config.alpn = try common.strings("alpn_protocols")
            _ = try common.object("tls_params") { params throws(ProxyConfigError) in
                let versions = ["TLS_AUTO", "TLSv1_0", "TLSv1_1", "TLSv1_2", "TLSv1_3"]
                _ = try params.enumeration("tls_minimum_protocol_version", allowed: versions)
                _ = try params.enumeration("tls_maximum_protocol_version", allowed: versions)
                _ = try params.strings("cipher_suites")
                _ = try params.strings("ecdh_curves")
            }
            config.certificateSecrets = try common.list("tls_certificate_sds_secret_configs") { secret throws(ProxyConfigError) in try readSDSName(secret) }
            _ = try common.object("combined_validation_context") { combined throws(ProxyConfigError) in
                _ = try combined.object("default_validation_context") { validation throws(ProxyConfigError) in
                    config.subjectAltNames = try validation.list("match_typed_subject_alt_names") { san throws(ProxyConfigError) -> String in
                        _ = try san.enumeration("san_type", allowed: ["URI", "DNS", "EMAIL", "IP_ADDRESS"])
                        let matcher = try san.object("matcher") { matcher throws(ProxyConfigError) in try StringMatcher.read(matcher) }
                        switch matcher?.rule {
                        case .exact(let text)?, .prefix(let text)?: return text
                        default: return ""
                        }
                    }
                }
                config.validationSecret = try combined.object("validation_context_sds_secret_config") { secret throws(ProxyConfigError) in try readSDSName(secret) }
            }
        }
        return config
    }

    /// An `SdsSecretConfig` with a file or REST config source: its secret name.
    static func readSDSName(_ reader: ConfigReader) throws(ProxyConfigError) -> String {
        let name = try reader.requiredString("name")
        guard try reader.object("sds_config", { source throws(ProxyConfigError) in try ConfigSource.read(source) }) != nil else {
            throw reader.error("needs an sds_config (a path_config_source, or an api_config_source with api_type REST)", path: [.key("sds_config")])
        }
        return name
    }
}

extension NetworkFilter {
    static let hcmType = "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"
    static let tcpProxyType = "envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy"

    static func read(_ reader: ConfigReader) throws(ProxyConfigError) -> NetworkFilter {
        let name = try reader.requiredString("name")
        guard let filter = try reader.object("typed_config", { typed throws(ProxyConfigError) -> NetworkFilter in
            switch try typed.typeName() {
            case hcmType: return .httpConnectionManager(try HTTPConnectionManagerConfig.read(typed))
            case tcpProxyType: return .tcpProxy(try TCPProxyConfig.read(typed))
            default: throw reader.error("\(name) is not supported")
            }
        }) else { throw reader.error("needs a typed_config", path: [.key("typed_config")]) }
        return filter
    }
}

extension HTTPConnectionManagerConfig {
    static func read(_ reader: ConfigReader) throws(ProxyConfigError) -> HTTPConnectionManagerConfig {
        let prefix = try reader.requiredString("stat_prefix")
        let serverName = try reader.string("server_name")
        _ = try reader.enumeration("codec_type", allowed: ["AUTO", "HTTP1"])
        // Settings that change nothing for plaintext HTTP/1.1 as the proxy serves it today.
        _ = try reader.bool("use_remote_address")
        _ = try reader.bool("normalize_path")
        _ = try reader.bool("merge_slashes")
        _ = try reader.enumeration("path_with_escaped_slashes_action", allowed: ["KEEP_UNCHANGED", "IMPLEMENTATION_SPECIFIC_DEFAULT"])
        _ = try reader.enumeration("forward_client_cert_details", allowed: ["SANITIZE", "FORWARD_ONLY", "APPEND_FORWARD", "SANITIZE_SET", "ALWAYS_FORWARD_ONLY"])
        _ = try reader.object("set_current_client_cert_details") { details throws(ProxyConfigError) in
            for key in ["subject", "dns", "uri", "chain", "cert"] { _ = try details.bool(key) }
        }
        reader.ignore("tracing", "upgrade_configs", "http_protocol_options", "http2_protocol_options", "common_http_protocol_options",
                      "generate_request_id", "preserve_external_request_id", "xff_num_trusted_hops", "internal_address_config",
                      "request_id_extension", "delayed_close_timeout", "drain_timeout")
        let idle = try reader.duration("stream_idle_timeout") ?? 300
        let requestTimeout = try reader.duration("request_timeout") ?? 0
        let routes: Routes
        switch (reader.has("route_config"), reader.has("rds")) {
        case (true, false):
            routes = .inline(try reader.object("route_config") { config throws(ProxyConfigError) in try RouteConfiguration.read(config, version: nil) }!)
        case (false, true):
            routes = try reader.object("rds") { rds throws(ProxyConfigError) -> Routes in
                let name = try rds.requiredString("route_config_name")
                guard let source = try rds.object("config_source", { source throws(ProxyConfigError) in try ConfigSource.read(source) }) else {
                    throw rds.error("needs a config_source", path: [.key("config_source")])
                }
                return .rds(name: name, source: source)
            }!
        default:
            throw reader.error("needs exactly one of route_config, rds (scoped routes are not supported)")
        }
        let filters = try reader.list("http_filters") { filter throws(ProxyConfigError) in try HTTPFilter.read(filter) }
        guard case .router? = filters.last else { throw reader.error("must end with envoy.filters.http.router", path: [.key("http_filters")]) }
        let logs = try reader.list("access_log") { log throws(ProxyConfigError) in try AccessLogConfig.read(log) }
        return HTTPConnectionManagerConfig(statPrefix: prefix, serverName: serverName, routes: routes, httpFilters: filters, accessLogs: logs,
                                           streamIdleTimeout: idle, requestTimeout: requestTimeout)
    }
}

extension HTTPFilter {
    static func read(_ reader: ConfigReader) throws(ProxyConfigError) -> HTTPFilter {
        let name = try reader.requiredString("name")
        guard let filter = try reader.object("typed_config", { typed throws(ProxyConfigError) -> HTTPFilter in
            switch try typed.typeName() {
            case "envoy.extensions.filters.http.fault.v3.HTTPFault": return .fault(try FaultConfig.read(typed))
            case "envoy.extensions.filters.http.cors.v3.Cors": return .cors
            case "envoy.extensions.filters.http.router.v3.Router":
                typed.ignore("suppress_envoy_headers", "start_child_span", "dynamic_stats")
                return .router
            default: throw reader.error("\(name) is not supported")
            }
        }) else { throw reader.error("needs a typed_config", path: [.key("typed_config")]) }
        return filter
    }
}

extension TCPProxyConfig {
    static func read(_ reader: ConfigReader) throws(ProxyConfigError) -> TCPProxyConfig {
        let prefix = try reader.requiredString("stat_prefix")
        let cluster = try reader.requiredString("cluster")
        reader.ignore("idle_timeout", "metadata_match")
        let logs = try reader.list("access_log") { log throws(ProxyConfigError) in try AccessLogConfig.read(log) }
        return TCPProxyConfig(statPrefix: prefix, cluster: cluster, accessLogs: logs)
    }
}

extension AccessLogConfig {
    static func read(_ reader: ConfigReader) throws(ProxyConfigError) -> AccessLogConfig {
        let name = try reader.string("name") ?? "envoy.access_loggers.file"
        if reader.has("filter") { throw reader.error("access log filters are not supported", path: [.key("filter")]) }
        guard let log = try reader.object("typed_config", { typed throws(ProxyConfigError) -> AccessLogConfig in
            guard try typed.typeName() == "envoy.extensions.access_loggers.file.v3.FileAccessLog" else { throw reader.error("\(name) is not supported") }
            let path = try typed.requiredString("path")
            var format = try typed.string("format")
            _ = try typed.object("log_format") { logFormat throws(ProxyConfigError) in
                _ = try logFormat.object("text_format_source") { source throws(ProxyConfigError) in format = try source.requiredString("inline_string") }
                if logFormat.has("json_format") { throw logFormat.error("JSON access logs are not supported yet", path: [.key("json_format")]) }
            }
            do { _ = try AccessLogFormat(format ?? AccessLogFormat.envoyDefault) } catch {
                throw typed.error("\(error)", path: [.key("log_format")])
            }
            return AccessLogConfig(path: path, format: format)
        }) else { throw reader.error("needs a typed_config", path: [.key("typed_config")]) }
        return log
    }
}
