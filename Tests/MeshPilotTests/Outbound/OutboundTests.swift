import ConfigValues
@testable import MeshPilot
import XCTest

final class OutboundTests: XCTestCase {
    private func productpage(adding extra: String = "", meshConfig: JSONValue = .object([])) throws -> ProxyResources {
        Pilot(authority: nil).resources(for: PilotFixtures.productpage, in: try PilotFixtures.snapshot(fixture: "bookinfo.yaml", adding: extra, meshConfig: meshConfig))
    }

    /// `ISTIO_META_HTTP10: "1"` on the istio-proxy container (the proxy's HTTP10 metadata): every HTTP connection
    /// manager of that proxy takes HTTP/1.0 (`accept_http_10`), as istiod builds them; other proxies answer it 426.
    func testHTTP10MetadataAcceptsHTTP10OnEveryHTTPListener() throws {
        func managers(_ out: ProxyResources) -> [JSONValue] {
            out.listeners.flatMap { ($0["filter_chains"]?.array ?? []).compactMap { $0[path: "filters", 0, "typed_config"] } }
                .filter { $0["stat_prefix"]?.string?.hasPrefix("inbound_0.0.0.0") == true || $0["stat_prefix"]?.string?.hasPrefix("outbound_0.0.0.0") == true }
        }
        let plain = managers(try productpage())
        XCTAssertGreaterThanOrEqual(plain.count, 2)
        XCTAssertTrue(plain.allSatisfy { $0["http_protocol_options"] == nil })
        let text = try String(contentsOf: PilotFixtures.testsFolder.appendingPathComponent("Fixtures/bookinfo.yaml"), encoding: .utf8)
        let withHTTP10 = text.replacingOccurrences(of: "  - name: istio-proxy\n    image: meshctl/proxy\nstatus:\n  podIP: 127.10.0.2",
                                                   with: "  - name: istio-proxy\n    image: meshctl/proxy\n    env: [{name: ISTIO_META_HTTP10, value: \"1\"}]\nstatus:\n  podIP: 127.10.0.2")
        XCTAssertNotEqual(withHTTP10, text)
        let accepting = managers(Pilot(authority: nil).resources(for: PilotFixtures.productpage, in: try PilotFixtures.snapshot(yaml: withHTTP10)))
        XCTAssertEqual(accepting.count, plain.count)
        XCTAssertTrue(accepting.allSatisfy { $0["http_protocol_options"] == .object([("accept_http_10", .bool(true))]) }, "\(accepting)")
    }

    func testClustersHaveIstioNamesAndDefaults() throws {
        let out = try productpage()
        XCTAssertEqual(out.clusters.names, [
            "outbound|9080||productpage.default.svc.cluster.local", "outbound|9080||ratings.default.svc.cluster.local",
            "outbound|9080||reviews.default.svc.cluster.local", "outbound|9080|v1|reviews.default.svc.cluster.local",
            "outbound|9080|v2|reviews.default.svc.cluster.local", "outbound|9080|v3|reviews.default.svc.cluster.local",
            "inbound|9080||", "PassthroughCluster", "BlackHoleCluster", "InboundPassthroughCluster",
        ])
        let ratings = try XCTUnwrap(out.clusters.named("outbound|9080||ratings.default.svc.cluster.local"))
        XCTAssertEqual(ratings["type"], .string("EDS"))
        XCTAssertEqual(ratings["connect_timeout"], .string("10s"))
        XCTAssertEqual(ratings["lb_policy"], .string("LEAST_REQUEST"))
        XCTAssertEqual(ratings[path: "circuit_breakers", "thresholds", 0, "max_connections"], .int(4_294_967_295))
        XCTAssertEqual(ratings[path: "eds_cluster_config", "eds_config", "api_config_source", "api_type"], .string("REST"))
        // Auto mTLS: Istio's client context for endpoints labelled tlsMode istio, plaintext for the rest.
        XCTAssertEqual(ratings[path: "transport_socket_matches", 0, "match"], .object([("tlsMode", .string("istio"))]))
        let tls = try XCTUnwrap(ratings[path: "transport_socket_matches", 0, "transport_socket", "typed_config"])
        XCTAssertEqual(tls["sni"], .string("outbound_.9080_._.ratings.default.svc.cluster.local"))
        XCTAssertEqual(tls[path: "common_tls_context", "alpn_protocols"], .array([.string("istio-peer-exchange"), .string("istio")]))
        XCTAssertEqual(tls[path: "common_tls_context", "combined_validation_context", "default_validation_context", "match_typed_subject_alt_names", 0, "matcher", "exact"],
                       .string("spiffe://cluster.local/ns/default/sa/bookinfo-ratings"))
        XCTAssertEqual(tls[path: "common_tls_context", "tls_certificate_sds_secret_configs", 0, "name"], .string("default"))
    }

    func testDestinationRuleSubsetsAndPolicies() throws {
        let out = try productpage()
        let v2 = try XCTUnwrap(out.clusters.named("outbound|9080|v2|reviews.default.svc.cluster.local"))
        XCTAssertEqual(v2[path: "circuit_breakers", "thresholds", 0, "max_connections"], .int(1))
        XCTAssertEqual(v2[path: "circuit_breakers", "thresholds", 0, "max_pending_requests"], .int(1))
        XCTAssertEqual(v2[path: "circuit_breakers", "thresholds", 0, "max_requests"], .int(1))
        XCTAssertEqual(v2[path: "circuit_breakers", "thresholds", 0, "max_retries"], .int(3))
        XCTAssertEqual(v2[path: "outlier_detection", "consecutive_5xx"], .int(5))
        XCTAssertEqual(v2[path: "outlier_detection", "max_ejection_percent"], .int(100))
        XCTAssertEqual(v2[path: "common_lb_config", "healthy_panic_threshold"], .object([]))
        XCTAssertEqual(v2[path: "metadata", "filter_metadata", "istio", "config"], .string("/apis/networking.istio.io/v1alpha3/namespaces/default/destination-rule/reviews"))
        XCTAssertEqual(v2[path: "metadata", "filter_metadata", "istio", "subset"], .string("v2"))
        XCTAssertEqual(out.clusters.named("outbound|9080|v3|reviews.default.svc.cluster.local")?["connect_timeout"], .string("1s"))
        // The subset's SNI names it.
        XCTAssertEqual(v2[path: "transport_socket_matches", 0, "transport_socket", "typed_config", "sni"], .string("outbound_.9080_.v2_.reviews.default.svc.cluster.local"))

        let v1 = try XCTUnwrap(out.endpoints.named("outbound|9080|v1|reviews.default.svc.cluster.local"))
        XCTAssertEqual(v1[path: "endpoints", 0, "locality"], .object([("region", .string("us-central1")), ("zone", .string("us-central1-a"))]))
        XCTAssertEqual(v1[path: "endpoints", 0, "lb_endpoints", 0, "endpoint", "address", "socket_address", "address"], .string("127.10.0.3"))
        XCTAssertEqual(v1[path: "endpoints", 0, "lb_endpoints", 0, "metadata", "filter_metadata", "envoy.transport_socket_match", "tlsMode"], .string("istio"))
        XCTAssertEqual(v1[path: "endpoints", 0, "lb_endpoints", 0, "metadata", "filter_metadata", "istio", "workload"], .string("reviews-v1;default;reviews;v1;Kubernetes"))
        XCTAssertEqual(out.endpoints.named("outbound|9080||reviews.default.svc.cluster.local")?["endpoints"]?.array?.count, 3)
    }

    func testTrafficPolicyMappings() throws {
        let rule = """
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: {name: ratings, namespace: default}
        spec:
          host: ratings
          trafficPolicy:
            loadBalancer: {consistentHash: {httpHeaderName: x-user}}
            connectionPool: {http: {maxRequestsPerConnection: 10, idleTimeout: 30s}}
            outlierDetection: {consecutiveGatewayErrors: 3, minHealthPercent: 20}
            tls: {mode: SIMPLE, sni: ratings.example, caCertificates: /etc/ca.pem}
            portLevelSettings:
            - port: {number: 9080}
              loadBalancer: {simple: ROUND_ROBIN}
          subsets:
          - name: hash
            labels: {version: v1}
            trafficPolicy: {loadBalancer: {consistentHash: {maglev: {tableSize: 65537}, useSourceIp: true}}, tls: {mode: DISABLE}}
        """
        let out = try productpage(adding: rule)
        let ratings = try XCTUnwrap(out.clusters.named("outbound|9080||ratings.default.svc.cluster.local"))
        XCTAssertEqual(ratings["lb_policy"], .string("ROUND_ROBIN"), "port-level settings override the rule's")
        XCTAssertEqual(ratings[path: "typed_extension_protocol_options", "envoy.extensions.upstreams.http.v3.HttpProtocolOptions", "common_http_protocol_options", "max_requests_per_connection"], .int(10))
        XCTAssertEqual(ratings[path: "outlier_detection", "consecutive_gateway_failure"], .int(3))
        XCTAssertEqual(ratings[path: "outlier_detection", "enforcing_consecutive_gateway_failure"], .int(100))
        XCTAssertEqual(ratings[path: "common_lb_config", "healthy_panic_threshold", "value"], .int(20))
        XCTAssertEqual(ratings[path: "transport_socket", "typed_config", "sni"], .string("ratings.example"))
        XCTAssertNil(ratings["transport_socket_matches"])
        let hash = try XCTUnwrap(out.clusters.named("outbound|9080|hash|ratings.default.svc.cluster.local"))
        XCTAssertEqual(hash["lb_policy"], .string("MAGLEV"))
        XCTAssertNil(hash["transport_socket"])
        XCTAssertNil(hash["transport_socket_matches"])
        // A consistent-hash destination gets the hash policy on its route and no previous-hosts retry predicate.
        let vhost = try XCTUnwrap(out.routes.named("9080")?["virtual_hosts"]?.array?.named("ratings.default.svc.cluster.local:9080"))
        XCTAssertNil(vhost[path: "routes", 0, "route", "hash_policy"], "port 9080's policy is ROUND_ROBIN")
    }

    func testListeners() throws {
        let out = try productpage()
        XCTAssertEqual(out.listeners.names, ["virtualInbound", "virtualOutbound", "0.0.0.0_9080"])
        let outbound = try XCTUnwrap(out.listeners.named("virtualOutbound"))
        XCTAssertEqual(outbound[path: "address", "socket_address", "address"], .string("127.10.0.2"))
        XCTAssertEqual(outbound[path: "address", "socket_address", "port_value"], .int(15001))
        XCTAssertEqual(outbound["use_original_dst"], .bool(true))
        XCTAssertEqual(outbound[path: "listener_filters", 0, "name"], .string("envoy.filters.listener.proxy_protocol"))
        XCTAssertEqual(outbound[path: "filter_chains", 0, "filters", 1, "typed_config", "cluster"], .string("PassthroughCluster"))
        let http = try XCTUnwrap(out.listeners.named("0.0.0.0_9080"))
        XCTAssertEqual(http["bind_to_port"], .bool(false))
        let hcm = try XCTUnwrap(http[path: "filter_chains", 0, "filters", 0, "typed_config"])
        XCTAssertEqual(hcm[path: "rds", "route_config_name"], .string("9080"))
        XCTAssertEqual(hcm["http_filters"]?.array?.compactMap { $0["name"]?.string }, ["envoy.filters.http.fault", "envoy.filters.http.cors", "istio.stats", "envoy.filters.http.router"])
        XCTAssertEqual(hcm[path: "access_log", 0, "typed_config", "path"], .string("/dev/stdout"))
        XCTAssertEqual(hcm[path: "access_log", 0, "typed_config", "log_format", "text_format_source", "inline_string"], .string(NetworkFilters.accessLogFormat))

        let registryOnly = try productpage(meshConfig: .object([("outboundTrafficPolicy", .object([("mode", .string("REGISTRY_ONLY"))]))]))
        XCTAssertEqual(registryOnly.listeners.named("virtualOutbound")?[path: "filter_chains", 0, "filters", 1, "typed_config", "cluster"], .string("BlackHoleCluster"))
        XCTAssertEqual(registryOnly.routes.named("9080")?["virtual_hosts"]?.array?.last?["name"], .string("block_all"))
        let sidecarRegistryOnly = """
        apiVersion: networking.istio.io/v1
        kind: Sidecar
        metadata: {name: default, namespace: default}
        spec: {outboundTrafficPolicy: {mode: REGISTRY_ONLY}}
        """
        XCTAssertEqual(try productpage(adding: sidecarRegistryOnly).listeners.named("virtualOutbound")?[path: "filter_chains", 0, "filters", 1, "typed_config", "cluster"],
                       .string("BlackHoleCluster"))
    }

    func testTCPServicesGetClusterIPListeners() throws {
        let extra = """
        apiVersion: v1
        kind: Service
        metadata: {name: db, namespace: default}
        spec: {clusterIP: 10.96.5.5, ports: [{name: tcp-db, port: 5432}], selector: {app: db}}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: db2, namespace: default}
        spec: {clusterIP: 10.96.5.6, ports: [{name: tcp-db, port: 5432}]}
        ---
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: db, namespace: default}
        spec: {hosts: [db], tcp: [{route: [{destination: {host: db}, weight: 80}, {destination: {host: db2}, weight: 20}]}]}
        """
        let out = try productpage(adding: extra)
        let db = try XCTUnwrap(out.listeners.named("10.96.5.5_5432"))
        XCTAssertEqual(db["bind_to_port"], .bool(false))
        XCTAssertEqual(db[path: "filter_chains", 0, "filters", 1, "typed_config", "weighted_clusters", "clusters", 1, "name"], .string("outbound|5432||db2.default.svc.cluster.local"))
        XCTAssertEqual(out.listeners.named("10.96.5.6_5432")?[path: "filter_chains", 0, "filters", 1, "typed_config", "cluster"], .string("outbound|5432||db2.default.svc.cluster.local"))
    }

    func testServiceEntriesForExternalHosts() throws {
        let extras = try String(contentsOf: PilotFixtures.testsFolder.appendingPathComponent("Fixtures/extras.yaml"), encoding: .utf8)
        let out = try productpage(adding: extras)
        let http = try XCTUnwrap(out.clusters.named("outbound|80||httpbin.org"))
        XCTAssertEqual(http["type"], .string("STRICT_DNS"))
        XCTAssertEqual(http[path: "load_assignment", "endpoints", 0, "lb_endpoints", 0, "endpoint", "address", "socket_address", "address"], .string("httpbin.org"))
        XCTAssertNil(http["transport_socket_matches"], "MESH_EXTERNAL: no auto mTLS")
        XCTAssertEqual(http[path: "metadata", "filter_metadata", "istio", "services", 0, "host"], .string("httpbin.org"))
        let tls = try XCTUnwrap(out.clusters.named("outbound|443||httpbin.org"))
        XCTAssertEqual(tls[path: "transport_socket", "typed_config", "sni"], .string("httpbin.org"))
        XCTAssertEqual(tls[path: "transport_socket", "typed_config", "common_tls_context", "validation_context", "trusted_ca", "filename"],
                       .string("/etc/ssl/certs/ca-certificates.crt"))
        XCTAssertEqual(out.routes.named("80")?[path: "virtual_hosts", 0, "domains"], .array([.string("httpbin.org"), .string("httpbin.org:80")]))
        XCTAssertTrue(out.listeners.names.contains("0.0.0.0_443"), "a TLS ServiceEntry port without an address listens on 0.0.0.0")
        XCTAssertNil(out.endpoints.named("outbound|80||httpbin.org"), "DNS clusters carry their endpoints inline, not over EDS")
    }

    func testTelemetryTurnsAccessLoggingOffAndOn() throws {
        func logPath(_ out: ProxyResources) -> JSONValue? {
            out.listeners.named("0.0.0.0_9080")?[path: "filter_chains", 0, "filters", 0, "typed_config", "access_log", 0, "typed_config", "path"]
        }
        let off = """
        apiVersion: telemetry.istio.io/v1
        kind: Telemetry
        metadata: {name: mesh-default, namespace: istio-system}
        spec: {accessLogging: [{providers: [{name: envoy}], disabled: true}]}
        """
        XCTAssertNil(logPath(try productpage(adding: off)))
        let onForProductpage = off + """

        ---
        apiVersion: telemetry.istio.io/v1
        kind: Telemetry
        metadata: {name: productpage, namespace: default}
        spec: {selector: {matchLabels: {app: productpage}}, accessLogging: [{providers: [{name: envoy}]}]}
        """
        let meshWithoutLogs = JSONValue.object([("accessLogFile", .string(""))])
        XCTAssertEqual(logPath(try productpage(adding: onForProductpage, meshConfig: meshWithoutLogs)), .string("/dev/stdout"))
        XCTAssertNil(logPath(try productpage(meshConfig: meshWithoutLogs)), "an empty accessLogFile turns logging off, as in Istio")
    }
}
