import ConfigValues
import Foundation
@testable import MeshPilot
@testable import MeshProxy
import MeshTestSupport
import XCTest

/// EnvoyFilter patches on a small hand-written sidecar configuration, and Istio's local rate limit EnvoyFilter
/// from its docs run by meshctl's proxy.
final class EnvoyFilterPatchesTests: XCTestCase {
    static func json(_ text: String) -> JSONValue { (try? JSONValue.parse(text)) ?? .null }

    /// A sidecar's inbound side for port 9080 (virtualInbound, RDS `inbound|9080||`, cluster `inbound|9080||`),
    /// an outbound listener and cluster for reviews.
    static func resources(upstreamPort: Int = 9) -> ProxyResources {
        ProxyResources(
            listeners: [json(#"""
            {"name": "virtualInbound", "address": {"socket_address": {"address": "127.0.0.1", "port_value": 15006}}, "traffic_direction": "INBOUND",
             "filter_chains": [{"name": "0.0.0.0_9080", "filter_chain_match": {"destination_port": 9080, "transport_protocol": "raw_buffer"},
               "filters": [{"name": "envoy.filters.network.http_connection_manager", "typed_config": {
                 "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager", "stat_prefix": "inbound_0.0.0.0_9080",
                 "rds": {"route_config_name": "inbound|9080||"},
                 "http_filters": [{"name": "istio.metadata_exchange", "typed_config": {"@type": "type.googleapis.com/udpa.type.v1.TypedStruct"}},
                                  {"name": "envoy.filters.http.router", "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}}]}}]}]}
            """#), json(#"""
            {"name": "0.0.0.0_9080", "address": {"socket_address": {"address": "0.0.0.0", "port_value": 9080}}, "traffic_direction": "OUTBOUND",
             "filter_chains": [{"filters": [{"name": "envoy.filters.network.http_connection_manager", "typed_config": {
                 "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager", "stat_prefix": "outbound_0.0.0.0_9080",
                 "rds": {"route_config_name": "9080"},
                 "http_filters": [{"name": "envoy.filters.http.router", "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}}]}}]}]}
            """#)],
            clusters: [json(#"""
            {"name": "inbound|9080||", "type": "STATIC", "connect_timeout": "10s",
             "load_assignment": {"cluster_name": "inbound|9080||", "endpoints": [{"lb_endpoints": [{"endpoint": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": \#(upstreamPort)}}}}]}]}}
            """#), json(#"{"name": "outbound|9080|v1|reviews.default.svc.cluster.local", "type": "EDS", "connect_timeout": "10s"}"#)],
            routes: [json(#"""
            {"name": "inbound|9080||", "validate_clusters": false, "virtual_hosts": [{"name": "inbound|http|9080", "domains": ["*"],
              "routes": [{"name": "default", "match": {"prefix": "/"}, "route": {"cluster": "inbound|9080||", "timeout": "0s"}}]}]}
            """#), json(#"""
            {"name": "9080", "virtual_hosts": [{"name": "reviews.default.svc.cluster.local:9080", "domains": ["reviews", "reviews.default.svc.cluster.local"],
              "routes": [{"name": "default", "match": {"prefix": "/"}, "route": {"cluster": "outbound|9080|v1|reviews.default.svc.cluster.local"}}]}]}
            """#)])
    }

    static func envoyFilter(_ name: String, namespace: String = "shop", priority: Int = 0, selector: String = "", patches: String) -> JSONValue {
        json(#"""
        {"apiVersion": "networking.istio.io/v1alpha3", "kind": "EnvoyFilter", "metadata": {"name": "\#(name)", "namespace": "\#(namespace)"},
         "spec": {\#(selector.isEmpty ? "" : #""workloadSelector": {"labels": \#(selector)},"#) "priority": \#(priority), "configPatches": \#(patches)}}
        """#)
    }

    /// Istio's docs' local rate limit EnvoyFilter (with its TypedStructs), 10 tokens a minute for the workload's
    /// inbound route.
    static let localRateLimit = envoyFilter("filter-local-ratelimit-svc", namespace: "istio-system", selector: #"{"app": "productpage"}"#, patches: #"""
    [{"applyTo": "HTTP_FILTER",
      "match": {"context": "SIDECAR_INBOUND", "listener": {"filterChain": {"filter": {"name": "envoy.filters.network.http_connection_manager"}}}},
      "patch": {"operation": "INSERT_BEFORE", "value": {"name": "envoy.filters.http.local_ratelimit", "typed_config": {
        "@type": "type.googleapis.com/udpa.type.v1.TypedStruct",
        "type_url": "type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit",
        "value": {"stat_prefix": "http_local_rate_limiter"}}}}},
     {"applyTo": "HTTP_ROUTE",
      "match": {"context": "SIDECAR_INBOUND", "routeConfiguration": {"vhost": {"name": "inbound|http|9080", "route": {"action": "ANY"}}}},
      "patch": {"operation": "MERGE", "value": {"typed_per_filter_config": {"envoy.filters.http.local_ratelimit": {
        "@type": "type.googleapis.com/udpa.type.v1.TypedStruct",
        "type_url": "type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit",
        "value": {"stat_prefix": "http_local_rate_limiter",
                  "token_bucket": {"max_tokens": 10, "tokens_per_fill": 10, "fill_interval": "60s"},
                  "filter_enabled": {"runtime_key": "local_rate_limit_enabled", "default_value": {"numerator": 100, "denominator": "HUNDRED"}},
                  "filter_enforced": {"runtime_key": "local_rate_limit_enforced", "default_value": {"numerator": 100, "denominator": "HUNDRED"}},
                  "response_headers_to_add": [{"append_action": "APPEND_IF_EXISTS_OR_ADD", "header": {"key": "x-local-rate-limit", "value": "true"}}]}}}}}}]
    """#)

    private func apply(_ filters: [JSONValue], labels: [String: String] = ["app": "productpage"], namespace: String = "shop",
                       to resources: ProxyResources = resources()) -> ProxyResources {
        var patched = resources
        EnvoyFilterPatches.apply(MeshSnapshot(objects: [EnvoyFilterPatches.storageKey: filters]), to: &patched, proxyLabels: labels, namespace: namespace, kind: .sidecar)
        return patched
    }

    private func httpFilterNames(_ resources: ProxyResources, listener: Int = 0) -> [String] {
        (resources.listeners[listener]["filter_chains"]?.array?[0]["filters"]?.array?[0]["typed_config"]?["http_filters"]?.array ?? [])
            .compactMap { $0["name"]?.string }
    }

    func testIstiosLocalRateLimitFilterLimitsTheEleventhRequestInMeshctlsProxy() throws {
        let patched = apply([Self.localRateLimit])
        XCTAssertEqual(httpFilterNames(patched), ["envoy.filters.http.local_ratelimit", "istio.metadata_exchange", "envoy.filters.http.router"])
        XCTAssertEqual(httpFilterNames(patched, listener: 1), ["envoy.filters.http.router"], "SIDECAR_INBOUND only")
        let route = try XCTUnwrap(patched.routes[0]["virtual_hosts"]?.array?[0]["routes"]?.array?[0])
        XCTAssertEqual(route["typed_per_filter_config"]?["envoy.filters.http.local_ratelimit"]?["@type"]?.string,
                       "type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit")
        XCTAssertEqual(route["route"]?["cluster"]?.string, "inbound|9080||", "MERGE keeps the route's own fields")
        XCTAssertNil(patched.routes[1]["virtual_hosts"]?.array?[0]["routes"]?.array?[0]["typed_per_filter_config"])
        XCTAssertEqual(apply([Self.localRateLimit], labels: ["app": "reviews"]).listeners[0], Self.resources().listeners[0], "workloadSelector")

        // Run the patched inbound side: 10 requests in the minute's bucket, the 11th answered 429.
        let upstream = try EchoUpstream()
        defer { upstream.stop() }
        let port = freeLocalPort()
        let bootstrap = try Self.staticBootstrap(apply([Self.localRateLimit], to: Self.resources(upstreamPort: upstream.port)), listener: "virtualInbound", port: port)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("envoyfilter-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("bootstrap.json")
        try bootstrap.serialized.write(to: file, atomically: true, encoding: .utf8)
        let proxy = try ProxyServer(configuration: try ProxyConfiguration.load(file: file.path), concurrency: 2,
                                    log: ProxyLog(level: .error) { FileHandle.standardError.write(Data($0.utf8)) })
        proxy.start()
        defer { proxy.stop() }
        let statuses = try (0..<11).map { _ in try upstream.get(port: port, path: "/productpage") }
        XCTAssertEqual(statuses, Array(repeating: 200, count: 10) + [429])
        XCTAssertEqual(proxy.stats.value("http_local_rate_limiter.http_local_rate_limit.rate_limited"), 1)
    }

    /// The resources as a static bootstrap for meshctl's proxy: one listener on `port`, its RDS route inlined, the
    /// STATIC clusters.
    static func staticBootstrap(_ resources: ProxyResources, listener name: String, port: Int) throws -> JSONValue {
        var listener = try XCTUnwrap(resources.listeners.first { $0["name"]?.string == name })
        listener["address"] = json(#"{"socket_address": {"address": "127.0.0.1", "port_value": \#(port)}}"#)
        listener["traffic_direction"] = nil
        var chains = listener["filter_chains"]?.array ?? []
        for index in chains.indices {
            chains[index]["filter_chain_match"] = nil
            var filter = try XCTUnwrap(chains[index]["filters"]?.array?[0])
            var manager = try XCTUnwrap(filter["typed_config"])
            let routeName = manager["rds"]?["route_config_name"]?.string
            manager["rds"] = nil
            manager["route_config"] = resources.routes.first { $0["name"]?.string == routeName }.map { route in
                var route = route
                route["validate_clusters"] = nil
                return route
            }
            manager["http_filters"] = .array((manager["http_filters"]?.array ?? []).filter { $0["name"]?.string != "istio.metadata_exchange" })
            filter["typed_config"] = manager
            chains[index]["filters"] = .array([filter])
        }
        listener["filter_chains"] = .array(chains)
        let clusters = resources.clusters.filter { $0["type"]?.string == "STATIC" }.map { cluster in
            var cluster = cluster
            cluster["type"] = nil
            return cluster
        }
        return .object([("static_resources", .object([("listeners", .array([listener])), ("clusters", .array(clusters))]))])
    }
}
