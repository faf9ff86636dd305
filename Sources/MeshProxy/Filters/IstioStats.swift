import ConfigValues
import Foundation

/// Istio's `istio.stats` filter (`stats.PluginConfig`), HTTP or network: Istio's standard metrics
/// (`istio_requests_total`, `istio_request_duration_milliseconds`, `istio_request_bytes`, `istio_response_bytes`,
/// `istio_tcp_*`) with Istio's labels, on `/stats/prometheus`.
public struct IstioStatsConfig: Sendable, Equatable {
    public enum Reporter: String, Sendable { case source, destination }
    /// Who reports: the client's sidecar (`source`, outbound listeners) or the server's (`destination`, inbound);
    /// set from the listener's `traffic_direction` when the configuration does not say.
    public var reporter: Reporter = .source
    /// Whether the configuration named the reporter (`SERVER_GATEWAY`).
    var reporterSet = false
    /// `disable_host_header_fallback`: with no Istio service on the cluster, `destination_service` is `unknown`
    /// rather than the request's host (istiod sets it on inbound listeners).
    public var disableHostHeaderFallback = false
    /// `tcp_reporting_duration` (Istio's default 5 s): how often an open TCP connection's byte counts are added to
    /// `istio_tcp_sent_bytes_total` and `istio_tcp_received_bytes_total`, so a long connection shows its traffic
    /// before it closes.
    public var tcpReportingInterval = 5.0

    static let type = "stats.PluginConfig"

    static func read(_ reader: ConfigReader) throws(ProxyConfigError) -> IstioStatsConfig {
        var config = IstioStatsConfig()
        config.disableHostHeaderFallback = try reader.bool("disable_host_header_fallback") ?? false
        if let interval = try reader.duration("tcp_reporting_duration"), interval > 0 { config.tcpReportingInterval = interval }
        // Stat rotation changes nothing here: metrics are kept while the proxy runs.
        _ = try reader.duration("rotation_interval")
        _ = try reader.duration("graceful_deletion_interval")
        if let prefix = try reader.string("stat_prefix"), prefix != "istio" {
            throw reader.error("only the prefix istio is supported", path: [.key("stat_prefix")])
        }
        if let reporter = try reader.enumeration("reporter", allowed: ["UNSPECIFIED", "SERVER_GATEWAY"]), reporter == "SERVER_GATEWAY" {
            config.reporter = .destination
            config.reporterSet = true
        }
        for key in ["metrics", "definitions"] {
            if reader.field(key)?.items?.isEmpty == false {
                throw reader.error("metric overrides and custom metrics (Telemetry metrics.overrides) are not supported", path: [.key(key)])
            }
            reader.ignore(key)
        }
        return config
    }

    /// The filter as a network filter (`istio.stats` before `tcp_proxy`), or nil for another filter.
    static func readNetwork(_ reader: ConfigReader) throws(ProxyConfigError) -> IstioStatsConfig? {
        guard reader.field("typed_config")?["@type"]?.string?.hasSuffix("/" + type) == true else { return nil }
        _ = try reader.string("name")
        return try reader.object("typed_config") { typed throws(ProxyConfigError) in
            _ = try typed.typeName()
            return try read(typed)
        }
    }
}

/// What a sidecar knows of a workload, from Istio's node metadata (`WORKLOAD_NAME`, `NAMESPACE`, `LABELS`,
/// `SERVICE_ACCOUNT`, `CLUSTER_ID`): its own, or a peer's sent in the `x-envoy-peer-metadata` header.
struct WorkloadIdentity: Equatable {
    var workload = "unknown", namespace = "unknown", app = "unknown", version = "unknown"
    var canonicalService = "unknown", canonicalRevision = "unknown", cluster = "unknown"
    var serviceAccount: String?

    static let unknown = WorkloadIdentity()

    init() {}

    init(metadata: JSONValue) {
        let labels = metadata["LABELS"]
        func label(_ name: String) -> String? { labels?[name]?.string.flatMap { $0.isEmpty ? nil : $0 } }
        workload = metadata["WORKLOAD_NAME"]?.string ?? metadata["NAME"]?.string ?? "unknown"
        namespace = metadata["NAMESPACE"]?.string ?? "unknown"
        app = label("app") ?? label("app.kubernetes.io/name") ?? "unknown"
        version = label("version") ?? label("app.kubernetes.io/version") ?? "unknown"
        canonicalService = label("service.istio.io/canonical-name") ?? label("app.kubernetes.io/name") ?? label("app") ?? workload
        canonicalRevision = label("service.istio.io/canonical-revision") ?? label("app.kubernetes.io/version") ?? label("version") ?? "latest"
        cluster = metadata["CLUSTER_ID"]?.string ?? "Kubernetes"
        serviceAccount = metadata["SERVICE_ACCOUNT"]?.string
    }

    /// The SPIFFE identity the workload's certificate carries.
    var principal: String {
        guard let serviceAccount, namespace != "unknown" else { return "unknown" }
        return "spiffe://cluster.local/ns/\(namespace)/sa/\(serviceAccount)"
    }
}

/// Peer metadata over HTTP, as Istio's metadata exchange sends it where ALPN cannot: the client's sidecar adds
/// `x-envoy-peer-metadata-id` and `x-envoy-peer-metadata` to the request, the server's sidecar to the answer,
/// and each takes them off before the application sees them. meshctl writes the metadata as base64 JSON of the
/// node metadata's keys it uses (Istio writes a protobuf Struct), so meshctl's sidecars understand each other.
enum PeerMetadataHeaders {
    static let idHeader = "x-envoy-peer-metadata-id"
    static let metadataHeader = "x-envoy-peer-metadata"

    /// The headers that carry a node's metadata.
    static func headers(nodeID: String, metadata: JSONValue) -> [(name: String, value: String)] {
        var kept: [(key: String, value: JSONValue)] = []
        for key in ["WORKLOAD_NAME", "NAME", "NAMESPACE", "LABELS", "SERVICE_ACCOUNT", "CLUSTER_ID"] {
            if let value = metadata[key] { kept.append((key, value)) }
        }
        return [(idHeader, nodeID), (metadataHeader, Data(JSONValue.object(kept).serialized.utf8).base64EncodedString())]
    }

    /// The peer a message's headers name, or nil when they name none (a client or server outside the mesh).
    static func peer(in headers: [(name: String, value: String)]) -> WorkloadIdentity? {
        guard let text = headers.first(where: { $0.name.lowercased() == metadataHeader })?.value,
              let data = Data(base64Encoded: text), let metadata = try? JSONValue.parse(Array(data)), metadata.object != nil else { return nil }
        return WorkloadIdentity(metadata: metadata)
    }

    static func isPeerHeader(_ name: String) -> Bool {
        let lowered = name.lowercased()
        return lowered == idHeader || lowered == metadataHeader
    }
}

/// One request or connection as the stats filter sees it when it ends.
struct IstioExchange {
    var protocolName: String
    var responseCode: Int?
    var grpcStatus: String?
    var flags: [ResponseFlag]
    /// The client's certificate identity (inbound mTLS).
    var downstreamPeerPrincipal: String?
    /// Whether the upstream connection used TLS (outbound mTLS).
    var upstreamTLS: Bool
    var peer: WorkloadIdentity?
    /// The cluster's Istio service (`filter_metadata.istio.services[0]`).
    var service: IstioService?
    var authority: String?
}

/// Turns an exchange into Istio's labels and records the metrics.
enum IstioMetrics {
    static let requestsTotal = "istio_requests_total"
    static let requestDuration = "istio_request_duration_milliseconds"
    static let requestBytes = "istio_request_bytes"
    static let responseBytes = "istio_response_bytes"

    /// The labels of Istio's standard metrics, in Istio's order.
    static func labels(_ config: IstioStatsConfig, own: WorkloadIdentity, exchange: IstioExchange) -> [(String, String)] {
        let destinationReport = config.reporter == .destination
        let source = destinationReport ? exchange.peer ?? .unknown : own
        let destination = destinationReport ? own : exchange.peer ?? .unknown
        let sourcePrincipal: String, destinationPrincipal: String, security: String
        if destinationReport {
            sourcePrincipal = exchange.downstreamPeerPrincipal ?? "unknown"
            destinationPrincipal = exchange.downstreamPeerPrincipal != nil ? own.principal : "unknown"
            security = exchange.downstreamPeerPrincipal != nil ? "mutual_tls" : "none"
        } else {
            sourcePrincipal = exchange.upstreamTLS ? own.principal : "unknown"
            destinationPrincipal = exchange.upstreamTLS ? destination.principal : "unknown"
            security = "unknown"
        }
        var serviceHost = exchange.service?.host
        if serviceHost == nil, !config.disableHostHeaderFallback, let authority = exchange.authority, !authority.isEmpty {
            serviceHost = DownstreamConnectionInfo.host(of: authority)
        }
        let serviceName = exchange.service?.name ?? serviceHost.map { String($0.prefix { $0 != "." }) } ?? "unknown"
        let serviceNamespace = exchange.service?.namespace ?? (destinationReport ? own.namespace : "unknown")
        var labels: [(String, String)] = [
            ("reporter", config.reporter.rawValue),
            ("source_workload", source.workload), ("source_canonical_service", source.canonicalService),
            ("source_canonical_revision", source.canonicalRevision), ("source_workload_namespace", source.namespace),
            ("source_principal", sourcePrincipal), ("source_app", source.app), ("source_version", source.version),
            ("source_cluster", source.cluster),
            ("destination_workload", destination.workload), ("destination_workload_namespace", destination.namespace),
            ("destination_principal", destinationPrincipal), ("destination_app", destination.app),
            ("destination_version", destination.version), ("destination_service", serviceHost ?? "unknown"),
            ("destination_canonical_service", destination.canonicalService),
            ("destination_canonical_revision", destination.canonicalRevision),
            ("destination_service_name", serviceName), ("destination_service_namespace", serviceNamespace),
            ("destination_cluster", destination.cluster), ("request_protocol", exchange.protocolName),
        ]
        if let code = exchange.responseCode {
            labels += [("response_code", String(code)), ("grpc_response_status", exchange.grpcStatus ?? "")]
        }
        labels += [("response_flags", exchange.flags.isEmpty ? "-" : exchange.flags.sorted().map(\.rawValue).joined(separator: ",")),
                   ("connection_security_policy", security)]
        return labels
    }

    /// One finished HTTP request.
    static func recordRequest(_ config: IstioStatsConfig, own: WorkloadIdentity, exchange: IstioExchange, duration: Double,
                              requestBytes: Int, responseBytes: Int, into metrics: LabeledMetrics) {
        let labels = labels(config, own: own, exchange: exchange)
        metrics.add(requestsTotal, labels: labels)
        metrics.observe(requestDuration, labels: labels, value: duration * 1000)
        metrics.observe(Self.requestBytes, labels: labels, value: Double(requestBytes))
        metrics.observe(Self.responseBytes, labels: labels, value: Double(responseBytes))
    }

    /// A TCP connection's event: opened, a periodic report, or closed; `sent` and `received` are the bytes since
    /// the last report.
    enum ConnectionEvent { case opened, report, closed }

    static func recordConnection(_ config: IstioStatsConfig, own: WorkloadIdentity, exchange: IstioExchange, event: ConnectionEvent,
                                 sent: Int, received: Int, into metrics: LabeledMetrics) {
        let labels = labels(config, own: own, exchange: exchange)
        switch event {
        case .opened: return metrics.add("istio_tcp_connections_opened_total", labels: labels)
        case .closed: metrics.add("istio_tcp_connections_closed_total", labels: labels)
        case .report: break
        }
        metrics.add("istio_tcp_sent_bytes_total", labels: labels, by: sent)
        metrics.add("istio_tcp_received_bytes_total", labels: labels, by: received)
    }
}

/// The stats filter's part in one HTTP stream: peer metadata in and out of the headers, and the metrics when the
/// stream ends. Loop thread only.
final class IstioStreamStats {
    private let config: IstioStatsConfig
    private let node: NodeInfo
    private let own: WorkloadIdentity
    private var peer: WorkloadIdentity?
    /// Whether the client's sidecar sent its metadata (then the answer carries this sidecar's back).
    private var clientSentMetadata = false

    /// nil when the connection manager has no `istio.stats` filter. `node` is only read when it has one: a copy of
    /// it, and an object made and freed again by a failing initializer, cost ~0.8k instructions and an allocation
    /// per request without the filter (callgrind, bench/malloc_counter.c).
    static func forStream(manager: HTTPConnectionManagerConfig, node: @autoclosure () -> NodeInfo) -> IstioStreamStats? {
        // A plain loop: this runs for every request, with or without the filter.
        for filter in manager.httpFilters {
            if case .istioStats(let config) = filter { return IstioStreamStats(config: config, node: node()) }
        }
        return nil
    }

    private init(config: IstioStatsConfig, node: NodeInfo) {
        self.config = config
        self.node = node
        own = WorkloadIdentity(metadata: node.metadata)
    }

    /// The client's request arrived: on the server's side its peer metadata names the source.
    func requestArrived(_ headers: [(name: String, value: String)]) {
        guard config.reporter == .destination else { return }
        peer = PeerMetadataHeaders.peer(in: headers)
        clientSentMetadata = peer != nil
    }

    /// The request as it goes upstream: peer headers taken off, and on the client's side this sidecar's added.
    func prepareUpstreamRequest(_ headers: inout [(name: String, value: String)]) {
        headers.removeAll { PeerMetadataHeaders.isPeerHeader($0.name) }
        if config.reporter == .source { headers += PeerMetadataHeaders.headers(nodeID: node.id, metadata: node.metadata) }
    }

    /// The answer as it goes to the client: on the client's side the server's metadata is read and taken off; on
    /// the server's side this sidecar's is added for a client that sent its own.
    func prepareResponse(_ headers: inout [(name: String, value: String)]) {
        if config.reporter == .source, let server = PeerMetadataHeaders.peer(in: headers) { peer = server }
        headers.removeAll { PeerMetadataHeaders.isPeerHeader($0.name) }
        if config.reporter == .destination && clientSentMetadata { headers += PeerMetadataHeaders.headers(nodeID: node.id, metadata: node.metadata) }
    }

    /// The stream ended: its requests, duration and sizes.
    func record(_ log: AccessLogEntry, cluster: Cluster?, upstreamTLS: Bool, metrics: LabeledMetrics) {
        let grpc = log.requestHeader("content-type")?.lowercased().hasPrefix("application/grpc") ?? false
        let exchange = IstioExchange(protocolName: grpc ? "grpc" : "http", responseCode: log.responseCode,
                                     grpcStatus: grpc ? (log.responseTrailers + log.responseHeaders).first { $0.name.lowercased() == "grpc-status" }?.value : nil,
                                     flags: log.flags, downstreamPeerPrincipal: log.downstreamPeerURISAN, upstreamTLS: upstreamTLS,
                                     peer: peer, service: cluster?.istioService, authority: log.authority)
        let headBytes = { (headers: [(name: String, value: String)]) in headers.reduce(0) { $0 + $1.name.utf8.count + $1.value.utf8.count + 4 } }
        IstioMetrics.recordRequest(config, own: own, exchange: exchange, duration: log.duration,
                                   requestBytes: log.bytesReceived + headBytes(log.requestHeaders),
                                   responseBytes: log.bytesSent + headBytes(log.responseHeaders), into: metrics)
    }
}
