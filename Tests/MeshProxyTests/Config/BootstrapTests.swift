import ConfigValues
import Foundation
@testable import MeshProxy
import MeshTestSupport
import XCTest

final class BootstrapTests: XCTestCase {
    func testEnvoyAdminSampleLoadsWithItsRoutesAndSecrets() throws {
        let sample = try EnvoyAdminSample()
        defer { sample.remove() }
        let config = try ProxyConfiguration.load(file: sample.bootstrap.path)
        XCTAssertEqual(config.node.id, "sidecar~127.0.0.1~productpage-v1-6b746f74dc-9stvs.default~default.svc.cluster.local")
        XCTAssertEqual(config.admin?.address, SocketAddress(host: "127.0.0.1", port: 15000))
        XCTAssertEqual(config.listeners.map(\.name), ["virtualInbound", "127.0.0.1_9080", nil])
        XCTAssertEqual(config.listeners[0].filterChains.count, 3)
        XCTAssertEqual(config.listeners[0].filterChains[1].tls?.certificateSecrets, ["default"])
        XCTAssertEqual(config.listeners[0].filterChains[1].tls?.validationSecret, "ROOTCA")
        XCTAssertEqual(config.clusters.count, 8)
        let v2 = try XCTUnwrap(config.cluster(named: "outbound|9080|v2|reviews.default.svc.cluster.local"))
        XCTAssertEqual(v2.thresholds.maxConnections, 1)
        XCTAssertEqual(v2.thresholds.maxRetries, 3)
        XCTAssertEqual(v2.loadBalancing, .leastRequest)
        XCTAssertEqual(v2.healthyPanicThreshold, 0)
        XCTAssertEqual(v2.outlierDetection?.consecutive5xx, 5)
        XCTAssertEqual(v2.outlierDetection?.maxEjectionPercent, 100)
        XCTAssertEqual(config.cluster(named: "prometheus_stats")?.connectTimeout, 0.25)
        XCTAssertEqual(config.cluster(named: "BlackHoleCluster")?.endpoints.count, 0)
        XCTAssertEqual(config.cluster(named: "inbound|9080||")?.healthyPanicThreshold, 0.5)
        let routes = try XCTUnwrap(config.dynamicRoutes["9080"])
        XCTAssertEqual(routes.version, "2026-11-27T16:00:00Z/7")
        XCTAssertEqual(routes.virtualHosts.map(\.name), ["reviews.default.svc.cluster.local:9080", "ratings.default.svc.cluster.local:9080"])
        let reviews = routes.virtualHosts[0]
        XCTAssertEqual(reviews.routes.map { $0.name ?? "" },
                       ["fault-abort", "fault-delay", "timeout", "retry-503", "v3-noretry", "v3", "circuit-breaker", "blackhole", "jason", "default"])
        XCTAssertEqual(reviews.routes[0].fault?.abortStatus, 500)
        XCTAssertEqual(reviews.routes[0].fault?.abortFraction, 1)
        XCTAssertEqual(reviews.routes[1].fault?.delaySeconds, 0.2)
        guard case .forward(let timeout) = reviews.routes[2].action, case .forward(let retry) = reviews.routes[3].action,
              case .forward(let weighted) = reviews.routes[9].action else { return XCTFail("routes forward") }
        XCTAssertEqual(timeout.timeout, 0.5)
        XCTAssertEqual(retry.retryPolicy?.retriableStatusCodes, [503])
        XCTAssertEqual(retry.retryPolicy?.numRetries, 2)
        XCTAssertEqual(retry.retryPolicy?.previousHosts, true)
        XCTAssertEqual(retry.retryPolicy?.hostSelectionMaxAttempts, 5)
        XCTAssertEqual(retry.retryPolicy?.retryOn, ["connect-failure", "refused-stream", "unavailable", "cancelled", "retriable-status-codes"])
        guard case .weighted(let clusters) = weighted.target else { return XCTFail("weighted") }
        XCTAssertEqual(clusters.map(\.weight), [90, 10])
        XCTAssertEqual(config.secrets.map(\.name), ["default", "ROOTCA"])
        XCTAssertTrue(config.secrets[0].hasCertificate)
        XCTAssertTrue(config.secrets[1].hasValidationContext)
    }

    func testTheSameBootstrapAsJSONLoadsAlike() throws {
        let sample = try EnvoyAdminSample()
        defer { sample.remove() }
        let yaml = try YAMLParser.parse(String(contentsOf: sample.bootstrap, encoding: .utf8))[0].root
        let json = sample.directory.appendingPathComponent("envoy.json")
        try JSONValue(yaml: yaml).serialized.write(to: json, atomically: true, encoding: .utf8)
        let config = try ProxyConfiguration.load(file: json.path)
        XCTAssertEqual(config.clusters.map(\.name), try ProxyConfiguration.load(file: sample.bootstrap.path).clusters.map(\.name))
    }

    /// Each bad input with the path and problem the error names (positions are checked in the first cases).
    func testUnsupportedAndInvalidInputsAreErrorsNamingTheirPath() throws {
        let hcm = """
        static_resources:
          listeners:
          - name: l
            address: {socket_address: {address: 127.0.0.1, port_value: 1}}
            filter_chains:
            - filters:
              - name: envoy.filters.network.http_connection_manager
                typed_config:
                  "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                  stat_prefix: s
                  route_config: {virtual_hosts: [{name: v, domains: ["*"], routes: [ROUTE]}]}
                  http_filters:
                  - {name: envoy.filters.http.fault, typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault}}
                  - {name: envoy.filters.http.cors, typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors}}
                  - FILTER
                  - {name: envoy.filters.http.router, typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}}
        """
        let okRoute = "{match: {prefix: /}, route: {cluster: c}}"
        let okFilter = "{name: envoy.filters.http.cors, typed_config: {\"@type\": type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors}}"
        func listener(route: String = okRoute, filter: String = okFilter) -> String {
            hcm.replacingOccurrences(of: "ROUTE", with: route).replacingOccurrences(of: "FILTER", with: filter)
        }
        let prefix = "static_resources.listeners[0].filter_chains[0].filters[0].typed_config"
        let cases: [(String, String, String)] = [
            (listener(filter: "{name: envoy.filters.http.lua, typed_config: {\"@type\": type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua}}"),
             "\(prefix).http_filters[2]", "envoy.filters.http.lua is not supported"),
            (listener(route: "{match: {prefix: /, grpc: {}}, route: {cluster: c}}"), "\(prefix).route_config.virtual_hosts[0].routes[0].match.grpc",
             "field is not supported by meshctl's proxy"),
            (listener(route: "{match: {prefix: /}, route: {cluster: c, timeout: 5}}"), "\(prefix).route_config.virtual_hosts[0].routes[0].route.timeout",
             "must be a duration such as \"1.5s\""),
            (listener(route: "{match: {prefix: /}, route: {cluster: c, retry_policy: {retry_on: \"5xx,bogus\"}}}"),
             "\(prefix).route_config.virtual_hosts[0].routes[0].route.retry_policy.retry_on", "bogus is not a retry_on condition"),
            (listener(route: "{match: {prefix: /, path: /x}, route: {cluster: c}}"), "\(prefix).route_config.virtual_hosts[0].routes[0].match",
             "needs exactly one of prefix, path"),
            (listener(route: "{match: {safe_regex: {regex: \"(\"}}, route: {cluster: c}}"),
             "\(prefix).route_config.virtual_hosts[0].routes[0].match.safe_regex.regex", "is not a valid regular expression"),
            (listener(route: "{match: {prefix: /}, route: {cluster: c}, typed_per_filter_config: {envoy.filters.http.fault: {\"@type\": type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault, abort: {http_status: 500, percentage: {numerator: 1, denominator: BILLION}}}}}"),
             "\(prefix).route_config.virtual_hosts[0].routes[0].typed_per_filter_config.envoy.filters.http.fault.abort.percentage.denominator",
             "BILLION is not a denominator"),
            // range_match bounds past Int64 used to trap converting the number.
            (listener(route: "{match: {prefix: /, headers: [{name: x, range_match: {start: 0, end: 1e30}}]}, route: {cluster: c}}"),
             "\(prefix).route_config.virtual_hosts[0].routes[0].match.headers[0].range_match.end", "must be a whole number"),
            (listener(route: "{match: {prefix: /, headers: [{name: x, range_match: {start: 1.5, end: 3}}]}, route: {cluster: c}}"),
             "\(prefix).route_config.virtual_hosts[0].routes[0].match.headers[0].range_match.start", "must be a whole number"),
            ("static_resources: {clusters: [{name: c, type: STRICT_DNS_V2}]}", "static_resources.clusters[0].type", "STRICT_DNS_V2 is not supported: use STATIC"),
            ("static_resources: {clusters: [{name: c, load_assignment: {endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: db.example, port_value: 5432}}}}]}]}}]}",
             "static_resources.clusters[0].load_assignment", "endpoint db.example:5432 names a host; a STATIC cluster takes IP addresses"),
            ("static_resources: {clusters: [{name: c, lb_policy: CLUSTER_PROVIDED}]}", "static_resources.clusters[0].lb_policy", "CLUSTER_PROVIDED is not supported"),
            ("static_resources: {clusters: [{name: c, circuit_breakers: {thresholds: [{max_connections: -1}]}}]}",
             "static_resources.clusters[0].circuit_breakers.thresholds[0].max_connections", "must be a whole number from 0 to 4294967295"),
            ("static_resources: {clusters: [{name: c}, {name: c}]}", "static_resources.clusters[1].name", "a second cluster named c"),
            ("static_resources: {clusters: [{name: c, per_connection_buffer_limit_bytes: 0}]}", "static_resources.clusters[0].per_connection_buffer_limit_bytes",
             "0 (no limit) is not supported"),
            ("static_resources: {clusters: [{name: c, per_connection_buffer_limit_bytes: 4294967296}]}",
             "static_resources.clusters[0].per_connection_buffer_limit_bytes", "must be a whole number from 0 to 4294967295"),
            ("static_resources: {listeners: [{name: l, address: {socket_address: {address: 127.0.0.1, port_value: 1}}, per_connection_buffer_limit_bytes: {value: 0}, filter_chains: []}]}",
             "static_resources.listeners[0].per_connection_buffer_limit_bytes", "0 (no limit) is not supported"),
            ("static_resources: {listeners: [{name: l, address: {socket_address: {address: 127.0.0.1, port_value: 1}}, per_connection_buffer_limit_bytes: 1MiB, filter_chains: []}]}",
             "static_resources.listeners[0].per_connection_buffer_limit_bytes", "must be a whole number"),
            ("dynamic_resources: {ads_config: {}}", "dynamic_resources.ads_config", "ADS is not supported"),
            ("dynamic_resources: {lds_config: {api_config_source: {api_type: GRPC, cluster_names: [x]}}}",
             "dynamic_resources.lds_config.api_config_source.api_type", "GRPC is not supported"),
            ("dynamic_resources: {cds_config: {api_config_source: {api_type: REST, cluster_names: [x], refresh_delay: 1s, request_timeout: 30s}}}",
             "dynamic_resources.cds_config.api_config_source.cluster_names[0]", "x is not a static cluster of this bootstrap"),
            ("dynamic_resources: {cds_config: {path_config_source: {path: /tmp/cds.yaml}}}", "dynamic_resources.cds_config",
             "only api_config_source (REST) is supported here"),
            ("dynamic_resources: {lds_config: {api_config_source: {api_type: REST, cluster_names: [x], refresh_delay: 1s, poll: true}}}",
             "dynamic_resources.lds_config.api_config_source.poll", "field is not supported"),
            ("static_resources: {clusters: [{name: c, type: EDS}]}", "static_resources.clusters[0].eds_cluster_config", "type EDS needs an eds_cluster_config"),
            ("admin: {address: {pipe: {path: /tmp/x}}}", "admin.address", "needs a socket_address"),
            ("static_resources: {listeners: [{name: l, address: {socket_address: {address: 127.0.0.1, port_value: 70000}}, filter_chains: []}]}",
             "static_resources.listeners[0].address.socket_address.port_value", "must be a whole number from 0 to 65535"),
            ("[1, 2]", "", "must be a mapping"),
            (listener().replacingOccurrences(of: "    filter_chains:\n", with: "    listener_filters:\n    - {name: pp, typed_config: "
                + "{\"@type\": type.googleapis.com/envoy.extensions.filters.listener.proxy_protocol.v3.ProxyProtocol, allow_requests_without_proxy_protocol: true}}\n"
                + "    filter_chains:\n"),
             "static_resources.listeners[0].listener_filters[0].typed_config.allow_requests_without_proxy_protocol", "is not supported"),
            ("""
            static_resources:
              listeners:
              - address: {socket_address: {address: 127.0.0.1, port_value: 1}}
                filter_chains:
                - {filter_chain_match: {destination_port: 80}, filters: [{name: t, typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy, stat_prefix: a, cluster: a}}]}
                - {filter_chain_match: {destination_port: 80}, filters: [{name: t, typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy, stat_prefix: b, cluster: b}}]}
            """, "static_resources.listeners[0].filter_chains[1].filter_chain_match", "filter chains 0 and 1 have the same filter_chain_match"),
            ("static_resources: {clusters: [{name: c, type: ORIGINAL_DST, lb_policy: CLUSTER_PROVIDED, load_assignment: {endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: 1}}}}]}]}}]}",
             "static_resources.clusters[0].load_assignment", "an ORIGINAL_DST cluster takes no load_assignment endpoints"),
            ("static_resources: {clusters: [{name: c, transport_socket: {name: tls, typed_config: {\"@type\": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext, common_tls_context: {validation_context: {match_typed_subject_alt_names: [{san_type: URI, matcher: {safe_regex: {regex: \"x.*\"}}}]}}}}}]}",
             "static_resources.clusters[0].transport_socket.typed_config.common_tls_context.validation_context.match_typed_subject_alt_names[0].matcher",
             "only exact, prefix and suffix matchers are supported"),
        ]
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("meshproxy-bad-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        for (index, (text, path, problem)) in cases.enumerated() {
            let file = directory.appendingPathComponent("case\(index).yaml").path
            try text.write(toFile: file, atomically: true, encoding: .utf8)
            do {
                _ = try ProxyConfiguration.load(file: file)
                XCTFail("case \(index) (\(path)) loaded")
            } catch {
                XCTAssertEqual(error.path, path, "case \(index): \(error)")
                XCTAssertTrue(error.problem.hasPrefix(problem), "case \(index): \(error.problem)")
                XCTAssertTrue(error.description.hasPrefix(file + ":"), "case \(index): \(error)")
            }
        }
    }

    func testMaglevTableSizesThatAreNotPrimeAreErrors() throws {
        // table_size 0 or 1 used to trap (a modulus of zero) when the load balancer built its table.
        for size in [0, 1, 4, 65536] {
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("meshproxy-maglev-\(UUID().uuidString).yaml").path
            defer { try? FileManager.default.removeItem(atPath: file) }
            try "static_resources: {clusters: [{name: c, lb_policy: MAGLEV, maglev_lb_config: {table_size: \(size)}}]}".write(toFile: file, atomically: true, encoding: .utf8)
            XCTAssertThrowsError(try ProxyConfiguration.load(file: file), "table_size \(size)") { error in
                guard let error = error as? ProxyConfigError else { return XCTFail("\(error)") }
                XCTAssertEqual(error.path, "static_resources.clusters[0].maglev_lb_config.table_size")
                XCTAssertTrue(error.problem.hasPrefix("must be a prime number"), error.problem)
            }
        }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("meshproxy-maglev-\(UUID().uuidString).yaml").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        try "static_resources: {clusters: [{name: c, lb_policy: MAGLEV, maglev_lb_config: {table_size: 2}}]}".write(toFile: file, atomically: true, encoding: .utf8)
        let cluster = try XCTUnwrap(ProxyConfiguration.load(file: file).cluster(named: "c"))
        XCTAssertEqual(cluster.maglevTableSize, 2)
        XCTAssertEqual(LoadBalancer.buildMaglev(names: ["a:1", "b:1"], weights: [1, 1], size: 2).sorted(), [0, 1])
    }

    /// As Envoy, a route table written inline is refused when a route names a cluster the bootstrap does not define,
    /// unless `validate_clusters: false` (then the route answers 503 `NC` when taken); Envoy 1.40 agrees on both.
    func testInlineRoutesToUndefinedClustersAreRefusedUnlessValidateClustersIsOff() throws {
        func bootstrap(_ validate: String) -> String {
            """
            static_resources:
              listeners:
              - name: l
                address: {socket_address: {address: 127.0.0.1, port_value: \(freeLocalPort())}}
                filter_chains:
                - filters:
                  - name: envoy.filters.network.http_connection_manager
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                      stat_prefix: s
                      route_config:
                        \(validate)
                        virtual_hosts:
                        - name: v
                          domains: ["*"]
                          routes:
                          - {match: {prefix: /a}, route: {cluster: c}}
                          - {match: {prefix: /}, route: {weighted_clusters: {clusters: [{name: c, weight: 1}, {name: gone, weight: 1}]}}}
                      http_filters:
                      - {name: envoy.filters.http.router, typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}}
              clusters:
              - {name: c, connect_timeout: 1s, load_assignment: {cluster_name: c, endpoints: []}}
            """
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("meshproxy-validate-clusters-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let checked = directory.appendingPathComponent("checked.yaml").path, unchecked = directory.appendingPathComponent("unchecked.yaml").path
        try bootstrap("validate_clusters: true").write(toFile: checked, atomically: true, encoding: .utf8)
        try bootstrap("validate_clusters: false").write(toFile: unchecked, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try ProxyConfiguration.load(file: checked)) { error in
            guard let error = error as? ProxyConfigError else { return XCTFail("\(error)") }
            XCTAssertEqual(error.path, "static_resources.listeners[0].filter_chains[0].filters[0].typed_config.route_config.virtual_hosts[0].routes[1].route"
                           + ".weighted_clusters.clusters[1].name")
            XCTAssertEqual(error.location.line, 18)
            XCTAssertTrue(error.problem.hasPrefix("the route names cluster gone, which is not defined"), error.problem)
        }
        try bootstrap("").write(toFile: checked, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try ProxyConfiguration.load(file: checked), "validate_clusters defaults to true for an inline route table")
        XCTAssertNoThrow(try ProxyConfiguration.load(file: unchecked))
        if let envoy = EnvoyDifferentialTests.envoyBinary {
            func validates(_ file: String) throws -> Bool {
                let process = Process()
                process.executableURL = URL(fileURLWithPath: envoy)
                process.arguments = ["--mode", "validate", "-c", file, "--log-level", "critical"]
                process.standardOutput = FileHandle.nullDevice
                process.standardError = FileHandle.nullDevice
                try process.run()
                process.waitUntilExit()
                return process.terminationStatus == 0
            }
            XCTAssertFalse(try validates(checked), "Envoy refuses it too")
            XCTAssertTrue(try validates(unchecked), "and loads it without the check")
        }
    }

    func testTheFirstErrorNamesLineAndColumn() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("meshproxy-pos-\(UUID().uuidString).yaml").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        try "static_resources:\n  clusters:\n  - name: c\n    wait_for_warm_on_init: true\n".write(toFile: file, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try ProxyConfiguration.load(file: file)) { error in
            XCTAssertEqual("\(error)", "\(file):4:5: static_resources.clusters[0].wait_for_warm_on_init: field is not supported by meshctl's proxy (remove it, or run this configuration in Envoy)")
        }
    }

    func testMissingRouteFileAndRouteNameAreErrors() throws {
        let sample = try EnvoyAdminSample(edit: { $0.replacingOccurrences(of: "route_config_name: \"9080\"", with: "route_config_name: \"9081\"") })
        defer { sample.remove() }
        XCTAssertThrowsError(try ProxyConfiguration.load(file: sample.bootstrap.path)) { error in
            XCTAssertTrue("\(error)".contains("has no route configuration named \"9081\""), "\(error)")
        }
    }

    func testTheStoreSwapsWholeConfigurations() throws {
        let sample = try EnvoyAdminSample()
        defer { sample.remove() }
        let first = try ProxyConfiguration.load(file: sample.bootstrap.path)
        let store = ProxyConfigStore(first)
        let taken = store.current
        var second = first
        second.clusters.removeAll()
        store.replace(with: second)
        XCTAssertEqual(taken.clusters.count, 8, "a request keeps the configuration it started with")
        XCTAssertEqual(store.current.clusters.count, 0)
    }
}
