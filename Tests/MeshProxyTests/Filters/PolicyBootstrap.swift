import Foundation
@testable import MeshProxy
import MeshTestSupport
import XCTest

/// A bootstrap for the policy filters' tests that Envoy runs too: an admin port, one HTTP listener whose
/// `http_filters` come before the router, routes to the test upstream `app`, and an access log of status, flags
/// and details; optionally a tcp_proxy listener with network filters in front.
struct PolicyBootstrap {
    let directory: URL
    let upstreamPort: Int
    var adminPort = freeLocalPort()
    var httpPort = freeLocalPort()
    var tcpPort = freeLocalPort()
    /// YAML flow items of `http_filters`, before the router.
    var httpFilters: [String] = []
    /// YAML flow items of the routes (default: everything to `app`).
    var routes = ["{name: all, match: {prefix: /}, route: {cluster: app}}"]
    /// More fields of the route configuration, YAML lines (`validate_clusters: false`).
    var routeConfigFields: [String] = []
    /// More fields of the virtual host `app`, YAML lines (`response_headers_to_add: [...]`).
    var virtualHostFields: [String] = []
    /// YAML flow items of the tcp_proxy chain's filters before tcp_proxy; nil: no TCP listener.
    var tcpFilters: [String]?
    /// YAML flow items of more clusters (`PolicyBootstrap.cluster(name:port:)`).
    var extraClusters: [String] = []
    /// The connection manager's `upgrade_configs` types.
    var upgradeTypes: [String] = []
    /// More fields of the connection manager, YAML lines (`request_headers_timeout: 1s`).
    var managerFields: [String] = []
    /// YAML flow items of the HTTP listener's `listener_filters`.
    var listenerFilters: [String] = []
    /// More fields of the HTTP listener, YAML lines (`per_connection_buffer_limit_bytes: 16384`).
    var listenerFields: [String] = []
    /// More fields of the cluster `app`, YAML lines.
    var clusterFields: [String] = []
    /// The access log's text format.
    var logFormat = "%REQ(:PATH)% %RESPONSE_CODE% %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS%"

    var accessLog: URL { directory.appendingPathComponent("access.log") }
    var tcpAccessLog: URL { directory.appendingPathComponent("tcp.log") }

    var text: String {
        var yaml = """
        admin: {address: {socket_address: {address: 127.0.0.1, port_value: \(adminPort)}}}
        static_resources:
          listeners:
          - name: http
            address: {socket_address: {address: 127.0.0.1, port_value: \(httpPort)}}
            listener_filters: [\(listenerFilters.joined(separator: ", "))]
        \(listenerFields.map { "    " + $0 + "\n" }.joined())    filter_chains:
            - filters:
              - name: envoy.filters.network.http_connection_manager
                typed_config:
                  "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                  stat_prefix: inbound
                  upgrade_configs: [\(upgradeTypes.map { "{upgrade_type: \($0)}" }.joined(separator: ", "))]
        \(managerFields.map { "          " + $0 + "\n" }.joined())
                  route_config:
                    name: local
        \(routeConfigFields.map { "            " + $0 + "\n" }.joined())            virtual_hosts:
                    - name: app
                      domains: ["*"]
        \(virtualHostFields.map { "              " + $0 + "\n" }.joined())              routes:
        \(routes.map { "              - " + $0 }.joined(separator: "\n"))
                  http_filters:
        \((httpFilters + ["{name: envoy.filters.http.router, typed_config: {\"@type\": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}}"]).map { "          - " + $0 }.joined(separator: "\n"))
                  access_log:
                  - name: envoy.access_loggers.file
                    typed_config: {"@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog, path: \(accessLog.path), log_format: {text_format_source: {inline_string: "\(logFormat)\\n"}}}

        """
        if let tcpFilters {
            yaml += """
              - name: tcp
                address: {socket_address: {address: 127.0.0.1, port_value: \(tcpPort)}}
                filter_chains:
                - filters:
            \((tcpFilters + ["{name: envoy.filters.network.tcp_proxy, typed_config: {\"@type\": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy, stat_prefix: tcp, cluster: app, access_log: [{name: envoy.access_loggers.file, typed_config: {\"@type\": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog, path: \(tcpAccessLog.path), log_format: {text_format_source: {inline_string: \"%RESPONSE_FLAGS% %CONNECTION_TERMINATION_DETAILS% %UPSTREAM_HOST% %BYTES_RECEIVED%\\n\"}}}}]}}"]).map { "      - " + $0 }.joined(separator: "\n"))

            """
        }
        yaml += """
          clusters:
          - name: app
            connect_timeout: 1s
            load_assignment: {cluster_name: app, endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: \(upstreamPort)}}}}]}]}
        \(clusterFields.map { "    " + $0 + "\n" }.joined())\(extraClusters.map { "  - " + $0 + "\n" }.joined())
        """
        return yaml
    }

    /// Writes the bootstrap and returns its path.
    func write() throws -> String {
        let file = directory.appendingPathComponent("bootstrap-\(UUID().uuidString).yaml")
        try text.write(to: file, atomically: true, encoding: .utf8)
        return file.path
    }

    /// The access log's lines once it has `count` of them (the proxy writes after answering).
    func accessLogLines(count: Int) -> [String] {
        var lines: [String] = []
        _ = eventually { lines = ((try? String(contentsOf: accessLog, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init); return lines.count >= count }
        return lines
    }

    /// A STATIC cluster to one local port, as a YAML flow item.
    static func cluster(name: String, port: Int) -> String {
        "{name: \(name), connect_timeout: 1s, load_assignment: {cluster_name: \(name), endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: \(port)}}}}]}]}}"
    }

    static func rbacFilter(_ rules: String) -> String {
        "{name: envoy.filters.http.rbac, typed_config: {\"@type\": type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC, \(rules)}}"
    }
}

/// The policy filters' test cases: an upstream `app`, a scratch folder, and the proxy a test starts.
class PolicyFilterTestCase: XCTestCase {
    var upstream: SampleUpstream!
    var proxy: ProxyServer?
    var directory: URL!

    override func setUpWithError() throws {
        upstream = try SampleUpstream(name: "app")
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("meshproxy-policy-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDown() {
        proxy?.stop()
        upstream?.stop()
        try? FileManager.default.removeItem(at: directory)
    }

    /// Runs the bootstrap in meshctl's proxy (stopped at tear-down).
    func start(_ bootstrap: PolicyBootstrap, concurrency: Int = 1) throws -> ProxyServer {
        let proxy = try ProxyServer(configuration: try ProxyConfiguration.load(file: try bootstrap.write()), concurrency: concurrency,
                                    log: ProxyLog(level: .error) { FileHandle.standardError.write(Data($0.utf8)) })
        proxy.start()
        self.proxy = proxy
        return proxy
    }
}
