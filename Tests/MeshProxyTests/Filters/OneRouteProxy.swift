import Foundation
@testable import MeshProxy
import MeshTestSupport

/// meshctl's proxy with one listener, one HTTP filter before the router, and one route to `upstream` carrying the
/// given `typed_per_filter_config` (YAML, one entry), for tests of a filter's per-route behaviour.
enum OneRouteProxy {
    static func start(to upstream: SampleUpstream, filter: String, config type: String, perRoute: String) throws -> (ProxyServer, Int) {
        let port = freeLocalPort()
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("one-route-\(UUID().uuidString).yaml").path
        let indented = perRoute.split(separator: "\n").map { "                  " + $0 }.joined(separator: "\n")
        try """
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
                            typed_per_filter_config:
            \(indented)
                      http_filters:
                      - {name: envoy.filters.http.\(filter), typed_config: {"@type": type.googleapis.com/\(type)}}
                      - {name: envoy.filters.http.router, typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}}
              clusters:
              - name: c
                type: STATIC
                load_assignment: {cluster_name: c, endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: \(upstream.port)}}}}]}]}

            """.write(toFile: path, atomically: true, encoding: .utf8)
        let proxy = try ProxyServer(configuration: try ProxyConfiguration.load(file: path), log: ProxyLog(level: .error) { _ in })
        proxy.start()
        return (proxy, port)
    }
}
