import Foundation
@testable import MeshProxy
import MeshTestSupport

/// meshctl's proxy with one listener and one route to cluster `c`: optionally one HTTP filter before the router and
/// a `typed_per_filter_config` (YAML, one entry) on the route, for tests of a filter's per-route behaviour or of a
/// cluster type.
enum OneRouteProxy {
    /// Cluster `c` is STATIC, to `upstream`.
    static func start(to upstream: SampleUpstream, filter: String, config type: String, perRoute: String) throws -> (ProxyServer, Int) {
        try start(cluster: "type: STATIC\nload_assignment: {cluster_name: c, endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: \(upstream.port)}}}}]}]}",
                  filter: (filter, type), perRoute: perRoute)
    }

    /// Cluster `c` given as YAML fields (the lines after its name).
    static func start(cluster: String, filter: (name: String, type: String)? = nil, perRoute: String? = nil) throws -> (ProxyServer, Int) {
        let (configuration, port) = try load(cluster: cluster, filter: filter, perRoute: perRoute)
        let proxy = try ProxyServer(configuration: configuration, log: ProxyLog(level: .error) { _ in })
        proxy.start()
        return (proxy, port)
    }

    /// Writes the bootstrap and reads it (the reader's errors come through).
    static func load(cluster: String, filter: (name: String, type: String)? = nil, perRoute: String? = nil) throws -> (configuration: ProxyConfiguration, port: Int) {
        let port = freeLocalPort()
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("one-route-\(UUID().uuidString).yaml").path
        var perRouteLines = ""
        if let perRoute {
            perRouteLines = "                typed_per_filter_config:\n" + perRoute.split(separator: "\n").map { "                  " + $0 + "\n" }.joined()
        }
        let filterLine = filter.map { "          - {name: envoy.filters.http.\($0.name), typed_config: {\"@type\": type.googleapis.com/\($0.type)}}\n" } ?? ""
        let clusterLines = cluster.split(separator: "\n").map { "    " + $0 + "\n" }.joined()
        let text = """
            static_resources:
              listeners:
              - name: one_route
                address: {socket_address: {address: 127.0.0.1, port_value: \(port)}}
                filter_chains:
                - filters:
                  - name: envoy.filters.network.http_connection_manager
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                      stat_prefix: one_route
                      route_config:
                        virtual_hosts:
                        - name: all
                          domains: ["*"]
                          routes:
                          - match: {prefix: /}
                            route: {cluster: c}

            """ + perRouteLines + "          http_filters:\n" + filterLine + """
                      - {name: envoy.filters.http.router, typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}}
              clusters:
              - name: c

            """ + clusterLines
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        return (try ProxyConfiguration.load(file: path), port)
    }
}
