import Foundation
import Glibc
@testable import MeshProxy
import MeshTestSupport
import XCTest

/// Istio's `istio.stats` filters in two of meshctl's proxies, a client's sidecar (outbound) and a server's
/// (inbound), on real sockets: the peer metadata headers go between the sidecars and never reach the apps, and each
/// sidecar's `/stats/prometheus` has Istio's standard metrics with Istio's labels, as reporter source and destination.
final class IstioStatsTests: XCTestCase {
    private var app: SampleUpstream!
    private var proxies: [ProxyServer] = []
    private var directory: URL!
    private let serverAdmin = freeLocalPort(), clientAdmin = freeLocalPort()
    private let inboundPort = freeLocalPort(), tcpPort = freeLocalPort(), outboundPort = freeLocalPort()

    override func setUpWithError() throws {
        app = try SampleUpstream(name: "app")
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("meshproxy-istio-stats-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDown() {
        proxies.forEach { $0.stop() }
        app?.stop()
        try? FileManager.default.removeItem(at: directory)
    }

    private static let router = #"{name: envoy.filters.http.router, typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}}"#
    private static let hcm = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"

    private static func node(pod: String, workload: String, app: String, serviceAccount: String) -> String {
        "node: {id: \"sidecar~127.0.0.1~\(pod).shop~shop.svc.cluster.local\", cluster: \(app).shop, metadata: {NAME: \(pod), NAMESPACE: shop, "
            + "WORKLOAD_NAME: \(workload), SERVICE_ACCOUNT: \(serviceAccount), CLUSTER_ID: Kubernetes, LABELS: {app: \(app), version: v1}}}"
    }

    private static func cluster(_ name: String, port: Int, service: String) -> String {
        "{name: \"\(name)\", connect_timeout: 1s, metadata: {filter_metadata: {istio: {services: [{host: \(service).shop.svc.cluster.local, name: \(service), namespace: shop}]}}}, "
            + "load_assignment: {cluster_name: \"\(name)\", endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: \(port)}}}}]}]}}"
    }

    private func start(_ yaml: String) throws {
        let file = directory.appendingPathComponent("bootstrap-\(UUID().uuidString).yaml")
        try yaml.write(to: file, atomically: true, encoding: .utf8)
        let proxy = try ProxyServer(configuration: try ProxyConfiguration.load(file: file.path), concurrency: 1,
                                    log: ProxyLog(level: .error) { FileHandle.standardError.write(Data($0.utf8)) })
        proxy.start()
        proxies.append(proxy)
    }

    private func startSidecars() throws {
        try start("""
        \(Self.node(pod: "reviews-v1-1", workload: "reviews-v1", app: "reviews", serviceAccount: "bookinfo-reviews"))
        admin: {address: {socket_address: {address: 127.0.0.1, port_value: \(serverAdmin)}}}
        static_resources:
          listeners:
          - name: virtualInbound
            traffic_direction: INBOUND
            address: {socket_address: {address: 127.0.0.1, port_value: \(inboundPort)}}
            filter_chains:
            - filters:
              - name: envoy.filters.network.http_connection_manager
                typed_config:
                  "@type": \(Self.hcm)
                  stat_prefix: inbound_0.0.0.0_9080
                  route_config: {name: "inbound|9080||", virtual_hosts: [{name: inbound, domains: ["*"], routes: [{match: {prefix: /}, route: {cluster: "inbound|9080||"}}]}]}
                  http_filters:
                  - {name: istio.stats, typed_config: {"@type": type.googleapis.com/stats.PluginConfig, disable_host_header_fallback: true}}
                  - \(Self.router)
          - name: tcpInbound
            traffic_direction: INBOUND
            address: {socket_address: {address: 127.0.0.1, port_value: \(tcpPort)}}
            filter_chains:
            - filters:
              - {name: istio.stats, typed_config: {"@type": type.googleapis.com/stats.PluginConfig, tcp_reporting_duration: 0.2s}}
              - {name: envoy.filters.network.tcp_proxy, typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy, stat_prefix: "inbound|9080||", cluster: "inbound|9080||"}}
          clusters:
          - \(Self.cluster("inbound|9080||", port: app.port, service: "reviews"))
        """)
        try start("""
        \(Self.node(pod: "productpage-v1-1", workload: "productpage-v1", app: "productpage", serviceAccount: "bookinfo-productpage"))
        admin: {address: {socket_address: {address: 127.0.0.1, port_value: \(clientAdmin)}}}
        static_resources:
          listeners:
          - name: 0.0.0.0_9080
            traffic_direction: OUTBOUND
            address: {socket_address: {address: 127.0.0.1, port_value: \(outboundPort)}}
            filter_chains:
            - filters:
              - name: envoy.filters.network.http_connection_manager
                typed_config:
                  "@type": \(Self.hcm)
                  stat_prefix: outbound_0.0.0.0_9080
                  route_config: {name: "9080", virtual_hosts: [{name: reviews, domains: ["*"], routes: [{match: {prefix: /}, route: {cluster: "outbound|9080||reviews.shop.svc.cluster.local"}}]}]}
                  http_filters:
                  - {name: istio.stats, typed_config: {"@type": type.googleapis.com/stats.PluginConfig}}
                  - \(Self.router)
          clusters:
          - \(Self.cluster("outbound|9080||reviews.shop.svc.cluster.local", port: inboundPort, service: "reviews"))
        """)
    }

    private func prometheus(_ port: Int) throws -> String {
        try TestClient.get(port: port, path: "/stats/prometheus", host: "admin").body
    }

    /// Istio's labels for productpage-v1 calling reviews-v1 in plaintext, as `reporter` writes them.
    private static func labels(reporter: String, code: Int) -> String {
        let principals = reporter == "destination" ? ("unknown", "unknown", "none") : ("unknown", "unknown", "unknown")
        return "{reporter=\"\(reporter)\",source_workload=\"productpage-v1\",source_canonical_service=\"productpage\",source_canonical_revision=\"v1\","
            + "source_workload_namespace=\"shop\",source_principal=\"\(principals.0)\",source_app=\"productpage\",source_version=\"v1\",source_cluster=\"Kubernetes\","
            + "destination_workload=\"reviews-v1\",destination_workload_namespace=\"shop\",destination_principal=\"\(principals.1)\",destination_app=\"reviews\","
            + "destination_version=\"v1\",destination_service=\"reviews.shop.svc.cluster.local\",destination_canonical_service=\"reviews\","
            + "destination_canonical_revision=\"v1\",destination_service_name=\"reviews\",destination_service_namespace=\"shop\",destination_cluster=\"Kubernetes\","
            + "request_protocol=\"http\",response_code=\"\(code)\",grpc_response_status=\"\",response_flags=\"-\",connection_security_policy=\"\(principals.2)\"}"
    }

    func testSidecarsReportIstiosStandardMetricsBothWays() throws {
        try startSidecars()
        let ok = try TestClient.get(port: outboundPort, path: "/hello", host: "reviews.shop:9080")
        XCTAssertEqual(ok.status, 200)
        XCTAssertEqual(ok.body, "app GET /hello\n")
        XCTAssertNil(ok.header("x-envoy-peer-metadata"), "the client app never sees the server's metadata")
        XCTAssertEqual(try TestClient.get(port: outboundPort, path: "/status/503", host: "reviews.shop:9080").status, 503)
        XCTAssertEqual(try TestClient.get(port: outboundPort, path: "/status/503", host: "reviews.shop:9080").status, 503)
        XCTAssertFalse(app.received.contains { $0.headers.contains { PeerMetadataHeaders.isPeerHeader($0.name) } }, "the server app never sees the client's metadata")

        for (port, reporter) in [(clientAdmin, "source"), (serverAdmin, "destination")] {
            var text = ""
            XCTAssertTrue(eventually { text = (try? prometheus(port)) ?? ""; return text.contains("istio_requests_total" + Self.labels(reporter: reporter, code: 503) + " 2") },
                          "\(reporter): \(text.split(separator: "\n").filter { $0.hasPrefix("istio_requests_total") })")
            XCTAssertTrue(text.contains("# TYPE istio_requests_total counter\n"))
            XCTAssertTrue(text.contains("istio_requests_total" + Self.labels(reporter: reporter, code: 200) + " 1"), reporter)
            let durationLabels = Self.labels(reporter: reporter, code: 200).dropLast()
            XCTAssertTrue(text.contains("# TYPE istio_request_duration_milliseconds histogram\n"))
            XCTAssertTrue(text.contains("istio_request_duration_milliseconds_bucket\(durationLabels),le=\"+Inf\"} 1"), reporter)
            XCTAssertTrue(text.contains("istio_request_duration_milliseconds_bucket\(durationLabels),le=\"3.6e+06\"} 1"), reporter)
            XCTAssertTrue(text.contains("istio_request_duration_milliseconds_count\(Self.labels(reporter: reporter, code: 200)) 1"), reporter)
            XCTAssertTrue(text.contains("istio_request_bytes_count\(Self.labels(reporter: reporter, code: 503)) 2"), reporter)
            XCTAssertTrue(text.contains("istio_response_bytes_count\(Self.labels(reporter: reporter, code: 503)) 2"), reporter)
        }
        let client = try prometheus(clientAdmin)
        XCTAssertTrue(client.contains("envoy_cluster_upstream_rq_time_count{envoy_cluster_name=\"outbound|9080||reviews.shop.svc.cluster.local\"} 3"), client)
        XCTAssertTrue(client.contains("envoy_http_downstream_rq_time_count{envoy_http_conn_manager_prefix=\"outbound_0.0.0.0_9080\"} 3"), client)
        let stats = try TestClient.get(port: clientAdmin, path: "/stats?filter=upstream_rq_time", host: "admin").body
        XCTAssertTrue(stats.contains("\ncluster.outbound|9080||reviews.shop.svc.cluster.local.upstream_rq_time: P0(nan,"), stats)
    }

    func testTCPConnectionsAreCountedWithTheirBytes() throws {
        try startSidecars()
        let request = Array("GET /tcp HTTP/1.1\r\nhost: reviews\r\nconnection: close\r\n\r\n".utf8)
        let answer = try TestClient.exchange(port: tcpPort, bytes: request)
        XCTAssertTrue(String(decoding: answer, as: UTF8.self).contains("app GET /tcp"))
        var text = ""
        XCTAssertTrue(eventually { text = (try? prometheus(serverAdmin)) ?? ""; return text.contains("istio_tcp_connections_closed_total{") },
                      text)
        let labels = "{reporter=\"destination\",source_workload=\"unknown\",source_canonical_service=\"unknown\",source_canonical_revision=\"unknown\","
            + "source_workload_namespace=\"unknown\",source_principal=\"unknown\",source_app=\"unknown\",source_version=\"unknown\",source_cluster=\"unknown\","
            + "destination_workload=\"reviews-v1\",destination_workload_namespace=\"shop\",destination_principal=\"unknown\",destination_app=\"reviews\","
            + "destination_version=\"v1\",destination_service=\"reviews.shop.svc.cluster.local\",destination_canonical_service=\"reviews\","
            + "destination_canonical_revision=\"v1\",destination_service_name=\"reviews\",destination_service_namespace=\"shop\",destination_cluster=\"Kubernetes\","
            + "request_protocol=\"tcp\",response_flags=\"-\",connection_security_policy=\"none\"}"
        XCTAssertTrue(text.contains("istio_tcp_connections_opened_total\(labels) 1"), text)
        XCTAssertTrue(text.contains("istio_tcp_connections_closed_total\(labels) 1"), text)
        XCTAssertTrue(text.contains("istio_tcp_received_bytes_total\(labels) \(request.count)"), text)
        XCTAssertTrue(text.contains("istio_tcp_sent_bytes_total\(labels) \(answer.count)"), text)
    }

    func testAnOpenTCPConnectionReportsItsBytesEveryReportingInterval() throws {
        try startSidecars()
        let client = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(client) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(tcpPort).bigEndian
        let connected = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(client, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        XCTAssertEqual(connected, 0)
        let request = Array("GET /kept HTTP/1.1\r\nhost: reviews\r\n\r\n".utf8)  // keep-alive: the connection stays open
        XCTAssertEqual(send(client, request, request.count, Int32(MSG_NOSIGNAL)), request.count)
        var buffer = [UInt8](repeating: 0, count: 4096)
        XCTAssertGreaterThan(read(client, &buffer, buffer.count), 0)
        // Still open: the 0.2 s report has the request's bytes, and no close is counted.
        var text = ""
        XCTAssertTrue(eventually { text = (try? prometheus(serverAdmin)) ?? ""; return text.contains("istio_tcp_received_bytes_total{") && text.contains("\(request.count)\n") },
                      text)
        XCTAssertFalse(text.contains("istio_tcp_connections_closed_total{"), text)
        XCTAssertTrue(text.split(separator: "\n").contains { $0.hasPrefix("istio_tcp_received_bytes_total{") && $0.hasSuffix(" \(request.count)") }, text)
        // Closed: counted once, and the bytes are not counted twice.
        close(client)
        XCTAssertTrue(eventually { text = (try? prometheus(serverAdmin)) ?? ""; return text.contains("istio_tcp_connections_closed_total{") }, text)
        XCTAssertTrue(text.split(separator: "\n").contains { $0.hasPrefix("istio_tcp_received_bytes_total{") && $0.hasSuffix(" \(request.count)") }, text)
    }

    func testMetricOverridesAreRefusedNotIgnored() throws {
        let file = directory.appendingPathComponent("overrides.yaml")
        try """
        static_resources:
          listeners:
          - address: {socket_address: {address: 127.0.0.1, port_value: \(freeLocalPort())}}
            filter_chains:
            - filters:
              - name: envoy.filters.network.http_connection_manager
                typed_config:
                  "@type": \(Self.hcm)
                  stat_prefix: x
                  route_config: {virtual_hosts: [{name: a, domains: ["*"], routes: [{match: {prefix: /}, direct_response: {status: 200}}]}]}
                  http_filters:
                  - {name: istio.stats, typed_config: {"@type": type.googleapis.com/stats.PluginConfig, metrics: [{name: requests_total, dimensions: {a: b}}]}}
                  - \(Self.router)
        """.write(to: file, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try ProxyConfiguration.load(file: file.path)) { error in
            guard let error = error as? ProxyConfigError else { return XCTFail("\(error)") }
            XCTAssertTrue(error.path.hasSuffix("http_filters[0].typed_config.metrics"), error.path)
        }
    }
}
