import ConfigValues
import MeshNet
import MeshTLS

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
    /// The listener filters' names as configured.
    public var listenerFilters: [String]
    public var source: JSONValue
    /// The listener filters the proxy runs, by kind.
    public var inspection = ListenerInspection()
    /// The chain for connections no chain matches (`default_filter_chain`).
    public var defaultFilterChain: FilterChain?
    /// `use_original_dst`: connections go to the listener bound to their original destination, when there is one.
    public var useOriginalDestination = false
    /// `bind_to_port: false`: the listener is not bound; it serves connections handed off by original destination.
    public var bindToPort = true
    /// `additional_addresses`: more addresses served by this listener (bound too).
    public var additionalAddresses: [SocketAddress] = []
    /// `listener_filters_timeout` in seconds (0: none); Envoy's default is 15 s.
    public var filtersTimeout: Double = 15
    /// `continue_on_listener_filters_timeout`: on timeout, choose a chain with what is known instead of closing.
    public var continueOnFiltersTimeout = false
    /// `per_connection_buffer_limit_bytes`: what the proxy queues per client connection, and keeps per HTTP/1.1 stream.
    public var bufferLimit: ConnectionBufferLimit?
}

/// The listener filters a listener runs (`envoy.filters.listener.*`).
public struct ListenerInspection: Sendable, Equatable {
    /// `tls_inspector`: reads the ClientHello (SNI, ALPN) to set the transport protocol `tls`.
    public var tls = false
    /// `http_inspector`: reads the first bytes of a plaintext connection for `http/1.1`, `http/1.0` or `h2c`.
    public var http = false
    /// `proxy_protocol`: a PROXY protocol v1 or v2 header names the connection's addresses.
    public var proxyProtocol = false
    /// `original_dst`: the socket's own address is the original destination (no iptables in local mode).
    public var originalDestination = false
    /// Each listener filter's `filter_disabled`: connections it matches skip that filter.
    public var disabled: [Filter: ListenerFilterPredicate] = [:]
    public init() {}

    public enum Filter: Sendable, Hashable { case tls, http, proxyProtocol, originalDestination }

    /// Whether `filter` is configured and not disabled for a connection to `destination` (`ip:port`).
    public func runs(_ filter: Filter, destination: String) -> Bool {
        let configured: Bool
        switch filter {
        case .tls: configured = tls
        case .http: configured = http
        case .proxyProtocol: configured = proxyProtocol
        case .originalDestination: configured = originalDestination
        }
        guard configured else { return false }
        guard let predicate = disabled[filter] else { return true }
        let port = destination.split(separator: ":").last.flatMap { Int($0) } ?? -1
        return !predicate.matches(destinationPort: port)
    }
}

/// A listener filter's `filter_disabled` (`ListenerFilterChainMatchPredicate`): which connections skip the filter.
public indirect enum ListenerFilterPredicate: Sendable, Equatable {
    case any
    /// `destination_port_range`: start included, end excluded.
    case destinationPorts(Range<Int>)
    case or([ListenerFilterPredicate])
    case and([ListenerFilterPredicate])
    case not(ListenerFilterPredicate)

    public func matches(destinationPort port: Int) -> Bool {
        switch self {
        case .any: return true
        case .destinationPorts(let range): return range.contains(port)
        case .or(let rules): return rules.contains { $0.matches(destinationPort: port) }
        case .and(let rules): return rules.allSatisfy { $0.matches(destinationPort: port) }
        case .not(let rule): return !rule.matches(destinationPort: port)
        }
    }

    static func read(_ reader: ConfigReader) throws(ProxyConfigError) -> ListenerFilterPredicate {
        var found: [ListenerFilterPredicate] = []
        if let any = try reader.bool("any_match") {
            guard any else { throw reader.error("any_match must be true when set", path: [.key("any_match")]) }
            found.append(.any)
        }
        if let range = try reader.object("destination_port_range", { range throws(ProxyConfigError) -> Range<Int> in
            let start = try range.integer("start", maximum: 65536) ?? 0, end = try range.integer("end", maximum: 65536) ?? 0
            guard start < end else { throw range.error("start (\(start)) must be below end (\(end)); end is not included") }
            return start..<end
        }) { found.append(.destinationPorts(range)) }
        for (key, make) in [("or_match", ListenerFilterPredicate.or), ("and_match", ListenerFilterPredicate.and)] {
            if let rules = try reader.object(key, { set throws(ProxyConfigError) in
                try set.list("rules") { rule throws(ProxyConfigError) in try ListenerFilterPredicate.read(rule) }
            }) {
                guard !rules.isEmpty else { throw reader.error("needs at least one rule", path: [.key(key), .key("rules")]) }
                found.append(make(rules))
            }
        }
        if let inner = try reader.object("not_match", { rule throws(ProxyConfigError) in try ListenerFilterPredicate.read(rule) }) { found.append(.not(inner)) }
        try reader.finish()  // an unknown rule is named before "needs one of"
        guard found.count == 1 else {
            throw reader.error(found.isEmpty ? "needs one of any_match, destination_port_range, or_match, and_match, not_match"
                                             : "takes only one of any_match, destination_port_range, or_match, and_match, not_match")
        }
        return found[0]
    }
}

public struct FilterChainMatch: Sendable, Equatable {
    public var transportProtocol: String?
    public var applicationProtocols: [String] = []
    public var destinationPort: Int?
    public var serverNames: [String] = []
    /// `prefix_ranges`: the destination IP.
    public var prefixRanges: [CIDRRange] = []
    /// `source_prefix_ranges`: the client's IP.
    public var sourcePrefixRanges: [CIDRRange] = []
    /// `source_ports`.
    public var sourcePorts: [Int] = []
}

public struct FilterChain: Sendable {
    public var name: String?
    public var match: FilterChainMatch
    /// Set when the chain terminates TLS (`envoy.transport_sockets.tls`).
    public var tls: TLSContextConfig?
    public var filter: NetworkFilter
    /// `envoy.filters.network.rbac` filters in front of `filter`, in order.
    public var rbac: [RBACConfig] = []
    /// `transport_socket_connect_timeout`: a TLS handshake not done by then closes the connection. Envoy has no
    /// limit when it is unset; meshctl uses 10 s, so a client that stalls mid-handshake cannot hold a socket forever.
    public var handshakeTimeout: Double = FilterChain.defaultHandshakeTimeout
    public static let defaultHandshakeTimeout = 10.0
}

public enum NetworkFilter: Sendable {
    case httpConnectionManager(HTTPConnectionManagerConfig)
    case tcpProxy(TCPProxyConfig)
}

/// A `DownstreamTlsContext` or `UpstreamTlsContext`: the certificates and checks, by SDS secret name (inline
/// certificates and authorities are kept as secrets with made-up names, `inline:PATH`).
public struct TLSContextConfig: Sendable, Equatable {
    public var certificateSecrets: [String]
    public var validationSecret: String?
    public var alpn: [String]
    public var sni: String?
    public var requireClientCertificate: Bool
    /// `match_typed_subject_alt_names` / `match_subject_alt_names`: the peer certificate must match one.
    public var subjectAltNames: [SubjectAltNameMatcher]
    /// Material given inline in the context (`tls_certificates`, `validation_context.trusted_ca`), by the made-up name.
    public var inlineSecrets: [String: TLSSecret] = [:]

    public static func == (a: TLSContextConfig, b: TLSContextConfig) -> Bool {
        a.certificateSecrets == b.certificateSecrets && a.validationSecret == b.validationSecret && a.alpn == b.alpn && a.sni == b.sni
            && a.requireClientCertificate == b.requireClientCertificate && a.subjectAltNames == b.subjectAltNames
            && a.inlineSecrets.keys.sorted() == b.inlineSecrets.keys.sorted()
    }
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
    /// `http_protocol_options.allow_absolute_url` (Envoy's default: true): absolute-form requests are taken, as a
    /// forward proxy takes them.
    public var allowAbsoluteURL = true
    /// `http_protocol_options.accept_http_10` (Envoy's default: false): HTTP/1.0 requests are served, not answered
    /// 426; Istio sets it for proxies whose metadata says `HTTP10: "1"`.
    public var acceptHTTP10 = false
    /// `http_protocol_options.default_host_for_http_10`: the Host an HTTP/1.0 request without one is routed by.
    public var defaultHostForHTTP10: String?
    /// `upgrade_configs`: the `Upgrade` protocols (lowercased, e.g. `websocket`) that are passed through to the
    /// upstream; other upgrade requests are refused with 403 as Envoy refuses them.
    public var upgradeTypes: Set<String> = []
    /// `common_http_protocol_options.idle_timeout`: a connection with no request under way closes after this many
    /// seconds (0: never; Envoy's default is 1 hour).
    public var connectionIdleTimeout: Double = 3600
    /// `request_headers_timeout`: a request head begun must be complete by then (0: no limit, the default).
    public var requestHeadersTimeout: Double = 0
    /// `codec_type`: which HTTP the clients speak (AUTO: HTTP/2 on ALPN `h2` or the h2 client preface, else HTTP/1.1).
    public var codecType: HTTPCodecType = .auto
    /// `http2_protocol_options.max_concurrent_streams` for HTTP/2 clients (Envoy's default 2147483647).
    public var http2MaxConcurrentStreams = 2_147_483_647
    /// `http2_protocol_options.initial_stream_window_size` (Envoy's default 256 MiB): as in Envoy, also how much of
    /// an HTTP/2 client's request body a stream keeps for a retry or a shadow (the listener's
    /// `per_connection_buffer_limit_bytes` bounds HTTP/1.1 streams only).
    public var http2InitialStreamWindowSize: Int { http2StreamWindowSetting ?? 268_435_456 }
    /// `initial_stream_window_size` and `initial_connection_window_size` when set: what the proxy announces to its
    /// HTTP/2 clients (unset, it announces 1 MiB per stream and 16 MiB per connection, where Envoy's default is
    /// 256 MiB for both).
    public var http2StreamWindowSetting: Int?
    public var http2ConnectionWindowSetting: Int?
    /// The inbound flood limits of `http2_protocol_options` (`max_consecutive_inbound_frames_with_empty_payload`,
    /// `max_inbound_priority_frames_per_stream`, `max_inbound_window_update_frames_per_data_frame_sent`), when set.
    public var http2EmptyFramesLimit: Int?
    public var http2PriorityFramesLimit: Int?
    public var http2WindowUpdatesLimit: Int?
    /// `common_http_protocol_options.headers_with_underscores_action`, applied to HTTP/2 clients' request heads
    /// (HTTP/1.1 clients' are not checked yet).
    public var headersWithUnderscores: UnderscoreHeaderAction = .allow
}

/// What a connection manager does with a request header whose name has an underscore, as Envoy's
/// `headers_with_underscores_action`: keep it, drop it (`http2.dropped_headers_with_underscores`), or reset the
/// stream (`http2.requests_rejected_with_underscores_in_headers`).
public enum UnderscoreHeaderAction: String, Sendable {
    case allow = "ALLOW", rejectRequest = "REJECT_REQUEST", dropHeader = "DROP_HEADER"
}

/// `codec_type` of an HTTP connection manager.
public enum HTTPCodecType: String, Sendable {
    case auto = "AUTO", http1 = "HTTP1", http2 = "HTTP2"
}

public enum HTTPFilter: Sendable {
    case fault(FaultConfig)
    case rbac(RBACConfig)
    case localRateLimit(LocalRateLimitConfig)
    case cors
    case jwtAuthn(JWTAuthnConfig)
    /// Istio's `istio.stats`: the request's standard metrics when it ends.
    case istioStats(IstioStatsConfig)
    case router
}

public struct TCPProxyConfig: Sendable {
    public var statPrefix: String
    public var cluster: String
    public var accessLogs: [AccessLogConfig]
    /// A network `istio.stats` filter in front: the connection's `istio_tcp_*` metrics.
    public var istioStats: IstioStatsConfig? = nil
}

/// A file access log with a text format (`%START_TIME%` ... command operators).
public struct AccessLogConfig: Sendable {
    public var path: String
    public var format: String? {
        didSet { usesUpstreamLocalAddress = format?.contains("%UPSTREAM_LOCAL_ADDRESS%") ?? false }
    }
    /// Whether the format prints `%UPSTREAM_LOCAL_ADDRESS%` (only then is the upstream socket asked for it).
    public private(set) var usesUpstreamLocalAddress: Bool

    public init(path: String, format: String?) {
        self.path = path
        self.format = format
        usesUpstreamLocalAddress = format?.contains("%UPSTREAM_LOCAL_ADDRESS%") ?? false
    }
}

extension Listener {
    static let tlsInspectorType = "envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector"
    static let httpInspectorType = "envoy.extensions.filters.listener.http_inspector.v3.HttpInspector"
    static let proxyProtocolType = "envoy.extensions.filters.listener.proxy_protocol.v3.ProxyProtocol"
    static let originalDestinationType = "envoy.extensions.filters.listener.original_dst.v3.OriginalDst"

    static func read(_ reader: ConfigReader) throws(ProxyConfigError) -> Listener {
        let name = try reader.string("name")
        let address = try SocketAddress.read(reader)
        let direction = try reader.enumeration("traffic_direction", allowed: ["INBOUND", "OUTBOUND", "UNSPECIFIED"])
        let continueOnTimeout = try reader.bool("continue_on_listener_filters_timeout") ?? false
        let filtersTimeout = try reader.duration("listener_filters_timeout") ?? 15
        let useOriginalDestination = try reader.bool("use_original_dst") ?? false
        let bindToPort = try reader.bool("bind_to_port") ?? true
        let bufferLimit = try ConnectionBufferLimit.read(reader)
        reader.ignore("metadata", "access_log")
        var inspection = ListenerInspection()
        let filters = try reader.list("listener_filters") { filter throws(ProxyConfigError) -> String in
            let name = try filter.requiredString("name")
            let disabled = try filter.object("filter_disabled") { predicate throws(ProxyConfigError) in try ListenerFilterPredicate.read(predicate) }
            var kind: ListenerInspection.Filter?
            _ = try filter.object("typed_config") { typed throws(ProxyConfigError) in
                switch try typed.typeName() {
                case tlsInspectorType: inspection.tls = true; kind = .tls; typed.ignore("enable_ja3_fingerprinting", "enable_ja4_fingerprinting")
                case httpInspectorType: inspection.http = true; kind = .http
                case originalDestinationType: inspection.originalDestination = true; kind = .originalDestination
                case proxyProtocolType:
                    inspection.proxyProtocol = true
                    kind = .proxyProtocol
                    if try typed.bool("allow_requests_without_proxy_protocol") == true {
                        throw typed.error("is not supported (clients of this listener must send a PROXY header)",
                                          path: [.key("allow_requests_without_proxy_protocol")])
                    }
                    if !(try typed.list("rules") { _ throws(ProxyConfigError) in () }).isEmpty {
                        throw typed.error("rules (TLVs to metadata) are not supported", path: [.key("rules")])
                    }
                    typed.ignore("stat_prefix", "pass_through_tlvs", "disallowed_versions")
                default: throw filter.error("\(name) is not supported")
                }
            }
            if let disabled, let kind { inspection.disabled[kind] = disabled }
            return name
        }
        let additional = try reader.list("additional_addresses") { extra throws(ProxyConfigError) in try SocketAddress.read(extra) }
        let chains = try reader.list("filter_chains") { chain throws(ProxyConfigError) in try FilterChain.read(chain) }
        let defaultChain = try reader.object("default_filter_chain") { chain throws(ProxyConfigError) in try FilterChain.read(chain) }
        guard !chains.isEmpty || defaultChain != nil else { throw reader.error("needs at least one filter chain", path: [.key("filter_chains")]) }
        for (index, chain) in chains.enumerated() {
            if let earlier = chains[..<index].firstIndex(where: { $0.match == chain.match }) {
                throw reader.error("filter chains \(earlier) and \(index) have the same filter_chain_match: make each match different",
                                   path: [.key("filter_chains"), .index(index), .key("filter_chain_match")])
            }
        }
        let reporter: IstioStatsConfig.Reporter = direction == "INBOUND" ? .destination : .source
        var listener = Listener(name: name, address: address, trafficDirection: direction, filterChains: chains.map { $0.reporting(as: reporter) }, listenerFilters: filters,
                                source: JSONValue(yaml: reader.node))
        listener.inspection = inspection
        listener.defaultFilterChain = defaultChain?.reporting(as: reporter)
        listener.useOriginalDestination = useOriginalDestination
        listener.bindToPort = bindToPort
        listener.additionalAddresses = additional
        listener.filtersTimeout = filtersTimeout
        listener.continueOnFiltersTimeout = continueOnTimeout
        listener.bufferLimit = bufferLimit
        return listener
    }
}

extension FilterChain {
    /// The chain with its `istio.stats` filters reporting as the listener's direction says (inbound: destination),
    /// unless a filter names its reporter.
    func reporting(as reporter: IstioStatsConfig.Reporter) -> FilterChain {
        var chain = self
        switch filter {
        case .tcpProxy(var proxy):
            if proxy.istioStats?.reporterSet == false { proxy.istioStats?.reporter = reporter }
            chain.filter = .tcpProxy(proxy)
        case .httpConnectionManager(var manager):
            manager.httpFilters = manager.httpFilters.map { filter in
                guard case .istioStats(var config) = filter, !config.reporterSet else { return filter }
                config.reporter = reporter
                return .istioStats(config)
            }
            chain.filter = .httpConnectionManager(manager)
        }
        return chain
    }

    static func read(_ reader: ConfigReader) throws(ProxyConfigError) -> FilterChain {
        let name = try reader.string("name")
        reader.ignore("metadata")
        let match = try reader.object("filter_chain_match") { match throws(ProxyConfigError) -> FilterChainMatch in
            var result = FilterChainMatch(transportProtocol: try match.enumeration("transport_protocol", allowed: ["raw_buffer", "tls"]),
                                          applicationProtocols: try match.strings("application_protocols"),
                                          destinationPort: try match.integer("destination_port", maximum: 65535), serverNames: try match.strings("server_names"))
            result.prefixRanges = try match.list("prefix_ranges") { range throws(ProxyConfigError) in try CIDRRange.read(range) }
            result.sourcePrefixRanges = try match.list("source_prefix_ranges") { range throws(ProxyConfigError) in try CIDRRange.read(range) }
            for (index, text) in try match.strings("source_ports").enumerated() {
                guard let port = Int(text), (1...65535).contains(port) else {
                    throw match.error("must be a port number (1-65535)", path: [.key("source_ports"), .index(index)])
                }
                result.sourcePorts.append(port)
            }
            _ = try match.enumeration("source_type", allowed: ["ANY"])
            if match.has("direct_source_prefix_ranges") { throw match.error("is not supported", path: [.key("direct_source_prefix_ranges")]) }
            return result
        } ?? FilterChainMatch()
        let tls = try reader.object("transport_socket") { socket throws(ProxyConfigError) in try TLSContextConfig.readTransportSocket(socket, downstream: true) } ?? nil
        let filters = try reader.list("filters") { filter throws(ProxyConfigError) -> Either in
            if let rbac = try NetworkFilter.readRBAC(filter) { return .rbac(rbac) }
            if let stats = try IstioStatsConfig.readNetwork(filter) { return .stats(stats) }
            return .terminal(try NetworkFilter.read(filter))
        }
        let rbac = filters.dropLast().compactMap { if case .rbac(let config) = $0 { config } else { nil } }
        let stats = filters.dropLast().compactMap { if case .stats(let config) = $0 { config } else { nil } }
        guard case .terminal(var terminal)? = filters.last, rbac.count + stats.count == filters.count - 1, stats.count <= 1 else {
            throw reader.error(filters.isEmpty ? "needs a network filter"
                               : "must be envoy.filters.network.rbac filters and at most one istio.stats (if any) followed by one http_connection_manager or tcp_proxy",
                               path: [.key("filters")])
        }
        // On an HTTP chain the HTTP istio.stats filter counts requests; the network one counts TCP connections.
        if case .tcpProxy(var proxy) = terminal, let stats = stats.first { proxy.istioStats = stats; terminal = .tcpProxy(proxy) }
        var chain = FilterChain(name: name, match: match, tls: tls, filter: terminal, rbac: rbac)
        if let timeout = try reader.duration("transport_socket_connect_timeout"), timeout > 0 { chain.handshakeTimeout = timeout }
        return chain
    }
}

/// A chain's network filter as read: an RBAC filter, or the one that ends the chain.
private enum Either { case rbac(RBACConfig), stats(IstioStatsConfig), terminal(NetworkFilter) }

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
        reader.ignore("allow_renegotiation", "max_session_keys", "session_timeout", "disable_stateless_session_resumption")
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
            let inline = try common.list("tls_certificates") { certificate throws(ProxyConfigError) -> String in
                let name = "inline:\(certificate.pathText)"
                config.inlineSecrets[name] = try TLSSecret.readCertificate(certificate, name: name)
                return name
            }
            config.certificateSecrets += inline
            /// A `CertificateValidationContext`: its SAN matchers, and its `trusted_ca` kept as an inline secret.
            func readValidation(_ validation: ConfigReader) throws(ProxyConfigError) {
                config.subjectAltNames += try validation.list("match_typed_subject_alt_names") { san throws(ProxyConfigError) -> SubjectAltNameMatcher in
                    let type = try san.enumeration("san_type", allowed: ["URI", "DNS", "IP_ADDRESS"]) ?? "URI"
                    guard let match = try san.object("matcher", { matcher throws(ProxyConfigError) in try sanMatch(matcher) }) else {
                        throw san.error("needs a matcher", path: [.key("matcher")])
                    }
                    return SubjectAltNameMatcher(type == "DNS" ? .dns : type == "IP_ADDRESS" ? .ipAddress : .uri, match)
                }
                // The untyped form matches every SAN type.
                for match in try validation.list("match_subject_alt_names", { matcher throws(ProxyConfigError) in try sanMatch(matcher) }) {
                    config.subjectAltNames += [SubjectAltNameMatcher(.uri, match), SubjectAltNameMatcher(.dns, match), SubjectAltNameMatcher(.ipAddress, match)]
                }
                validation.ignore("trust_chain_verification", "allow_expired_certificate")
                if validation.has("trusted_ca") {
                    let name = "inline:\(validation.pathText).trusted_ca"
                    config.inlineSecrets[name] = try TLSSecret.readValidation(validation, name: name)
                    config.validationSecret = name
                }
            }
            _ = try common.object("validation_context") { validation throws(ProxyConfigError) in try readValidation(validation) }
            if let name = try common.object("validation_context_sds_secret_config", { secret throws(ProxyConfigError) in try readSDSName(secret) }) {
                config.validationSecret = name
            }
            _ = try common.object("combined_validation_context") { combined throws(ProxyConfigError) in
                _ = try combined.object("default_validation_context") { validation throws(ProxyConfigError) in try readValidation(validation) }
                if let name = try combined.object("validation_context_sds_secret_config", { secret throws(ProxyConfigError) in try readSDSName(secret) }) {
                    config.validationSecret = name
                }
            }
        }
        return config
    }

    /// A SAN `StringMatcher`: exact, prefix or suffix.
    static func sanMatch(_ reader: ConfigReader) throws(ProxyConfigError) -> SubjectAltNameMatcher.Match {
        switch try StringMatcher.read(reader).rule {
        case .exact(let text): return .exact(text)
        case .prefix(let text): return .prefix(text)
        case .suffix(let text): return .suffix(text)
        default: throw reader.error("only exact, prefix and suffix matchers are supported for subject alt names")
        }
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

    /// The filter when it is `envoy.filters.network.rbac`; nil for another type (nothing read).
    static func readRBAC(_ reader: ConfigReader) throws(ProxyConfigError) -> RBACConfig? {
        guard let type = reader.node["typed_config"]?["@type"]?.scalarText, type.hasSuffix("/" + RBACConfig.networkType) || type == RBACConfig.networkType else { return nil }
        _ = try reader.requiredString("name")
        return try reader.object("typed_config") { typed throws(ProxyConfigError) in
            _ = try typed.typeName()
            return try RBACConfig.read(typed, network: true)
        }
    }

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
        let codec = try reader.enumeration("codec_type", allowed: ["AUTO", "HTTP1", "HTTP2"]).flatMap(HTTPCodecType.init(rawValue:)) ?? .auto
        var maxStreams = 2_147_483_647
        var streamWindow: Int?, connectionWindow: Int?
        var emptyFrames: Int?, priorityFrames: Int?, windowUpdates: Int?
        _ = try reader.object("http2_protocol_options") { options throws(ProxyConfigError) in
            if let value = try options.integer("max_concurrent_streams", maximum: 2_147_483_647) { maxStreams = max(1, value) }
            if let value = try options.integer("initial_stream_window_size", maximum: 2_147_483_647) {
                guard value >= 65_535 else {
                    throw options.error("initial_stream_window_size must be at least 65535", at: options.field("initial_stream_window_size"),
                                        path: [.key("initial_stream_window_size")])
                }
                streamWindow = value
            }
            if let value = try options.integer("initial_connection_window_size", maximum: 2_147_483_647) {
                guard value >= 65_535 else {
                    throw options.error("initial_connection_window_size must be at least 65535", at: options.field("initial_connection_window_size"),
                                        path: [.key("initial_connection_window_size")])
                }
                connectionWindow = value
            }
            emptyFrames = try options.integer("max_consecutive_inbound_frames_with_empty_payload")
            priorityFrames = try options.integer("max_inbound_priority_frames_per_stream")
            windowUpdates = try options.integer("max_inbound_window_update_frames_per_data_frame_sent")
            options.ignore("hpack_table_size", "allow_connect", "connection_keepalive", "max_outbound_frames",
                           "override_stream_error_on_invalid_http_message", "stream_error_on_invalid_http_messaging")
        }
        // Settings that change nothing for plaintext HTTP/1.1 as the proxy serves it today.
        _ = try reader.bool("use_remote_address")
        _ = try reader.bool("normalize_path")
        _ = try reader.bool("merge_slashes")
        _ = try reader.enumeration("path_with_escaped_slashes_action", allowed: ["KEEP_UNCHANGED", "IMPLEMENTATION_SPECIFIC_DEFAULT"])
        _ = try reader.enumeration("forward_client_cert_details", allowed: ["SANITIZE", "FORWARD_ONLY", "APPEND_FORWARD", "SANITIZE_SET", "ALWAYS_FORWARD_ONLY"])
        _ = try reader.object("set_current_client_cert_details") { details throws(ProxyConfigError) in
            for key in ["subject", "dns", "uri", "chain", "cert"] { _ = try details.bool(key) }
        }
        let upgrades = try reader.list("upgrade_configs") { upgrade throws(ProxyConfigError) -> String? in
            let type = try upgrade.requiredString("upgrade_type").lowercased()
            if !(try upgrade.list("filters") { _ throws(ProxyConfigError) in () }).isEmpty {
                throw upgrade.error("upgrade filter chains are not supported", path: [.key("filters")])
            }
            return try upgrade.bool("enabled") ?? true ? type : nil
        }
        var connectionIdle = 3600.0
        var underscores = UnderscoreHeaderAction.allow
        _ = try reader.object("common_http_protocol_options") { common throws(ProxyConfigError) in
            connectionIdle = try common.duration("idle_timeout") ?? 3600
            underscores = try common.enumeration("headers_with_underscores_action", allowed: ["ALLOW", "REJECT_REQUEST", "DROP_HEADER"])
                .flatMap(UnderscoreHeaderAction.init(rawValue:)) ?? .allow
            // Limits that change nothing for HTTP/1.1 as the proxy serves it today.
            common.ignore("max_headers_count", "max_requests_per_connection", "max_connection_duration",
                          "max_stream_duration")
        }
        let headersTimeout = try reader.duration("request_headers_timeout") ?? 0
        reader.ignore("tracing", "http_protocol_options",
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
        var config = HTTPConnectionManagerConfig(statPrefix: prefix, serverName: serverName, routes: routes, httpFilters: filters, accessLogs: logs,
                                                 streamIdleTimeout: idle, requestTimeout: requestTimeout, upgradeTypes: Set(upgrades.compactMap { $0 }),
                                                 connectionIdleTimeout: connectionIdle, requestHeadersTimeout: headersTimeout)
        let protocolOptions = reader.json("http_protocol_options")
        if protocolOptions?["allow_absolute_url"]?.bool == false { config.allowAbsoluteURL = false }
        config.acceptHTTP10 = protocolOptions?["accept_http_10"]?.bool ?? false
        config.defaultHostForHTTP10 = protocolOptions?["default_host_for_http_10"]?.string.flatMap { $0.isEmpty ? nil : $0 }
        config.codecType = codec
        config.http2MaxConcurrentStreams = maxStreams
        config.http2StreamWindowSetting = streamWindow
        config.http2ConnectionWindowSetting = connectionWindow
        config.http2EmptyFramesLimit = emptyFrames
        config.http2PriorityFramesLimit = priorityFrames
        config.http2WindowUpdatesLimit = windowUpdates
        config.headersWithUnderscores = underscores
        return config
    }
}

extension HTTPFilter {
    static func read(_ reader: ConfigReader) throws(ProxyConfigError) -> HTTPFilter {
        let name = try reader.requiredString("name")
        guard let filter = try reader.object("typed_config", { typed throws(ProxyConfigError) -> HTTPFilter in
            switch try typed.typeName() {
            case "envoy.extensions.filters.http.fault.v3.HTTPFault": return .fault(try FaultConfig.read(typed))
            case RBACConfig.httpType: return .rbac(try RBACConfig.read(typed, network: false))
            case LocalRateLimitConfig.type: return .localRateLimit(try LocalRateLimitConfig.read(typed))
            case "envoy.extensions.filters.http.cors.v3.Cors": return .cors
            case JWTAuthnConfig.type: return .jwtAuthn(try JWTAuthnConfig.read(typed))
            case IstioStatsConfig.type: return .istioStats(try IstioStatsConfig.read(typed))
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
