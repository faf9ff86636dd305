import ConfigValues
@testable import MeshPilot
import XCTest

/// Each patch kind and operation on the hand-written sidecar configuration of EnvoyFilterPatchesTests.
final class EnvoyFilterOperationsTests: XCTestCase {
    private typealias Fixture = EnvoyFilterPatchesTests

    private func apply(_ filters: [JSONValue], labels: [String: String] = ["app": "productpage"], namespace: String = "shop",
                       kind: ProxyNode.Kind = .sidecar) -> ProxyResources {
        var patched = Fixture.resources()
        EnvoyFilterPatches.apply(MeshSnapshot(objects: [EnvoyFilterPatches.storageKey: filters]), to: &patched, proxyLabels: labels, namespace: namespace, kind: kind)
        return patched
    }

    private func httpFilters(_ resources: ProxyResources, listener: Int = 0) -> [String] {
        (resources.listeners[listener]["filter_chains"]?.array?[0]["filters"]?.array?[0]["typed_config"]?["http_filters"]?.array ?? [])
            .compactMap { $0["name"]?.string }
    }

    private static let hcmMatch = #""listener": {"filterChain": {"filter": {"name": "envoy.filters.network.http_connection_manager""#

    private func filter(_ name: String, _ context: String = "SIDECAR_INBOUND", _ operation: String, sub: String? = nil, value: String = #"{"name": "x", "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors"}}"#) -> JSONValue {
        let subFilter = sub.map { #", "subFilter": {"name": "\#($0)"}"# } ?? ""
        return Fixture.envoyFilter(name, patches: #"[{"applyTo": "HTTP_FILTER", "match": {"context": "\#(context)", \#(Self.hcmMatch)\#(subFilter)}}}}, "patch": {"operation": "\#(operation)", "value": \#(value)}}]"#)
    }

    func testHTTPFilterInsertReplaceRemoveAndMerge() {
        XCTAssertEqual(httpFilters(apply([filter("a", "SIDECAR_INBOUND", "INSERT_AFTER", sub: "istio.metadata_exchange")])),
                       ["istio.metadata_exchange", "x", "envoy.filters.http.router"])
        XCTAssertEqual(httpFilters(apply([filter("a", "SIDECAR_INBOUND", "INSERT_BEFORE", sub: "envoy.filters.http.router")])),
                       ["istio.metadata_exchange", "x", "envoy.filters.http.router"])
        XCTAssertEqual(httpFilters(apply([filter("a", "SIDECAR_INBOUND", "INSERT_BEFORE", sub: "no.such.filter")])),
                       ["istio.metadata_exchange", "envoy.filters.http.router"], "a sub-filter that is not there: nothing inserted")
        XCTAssertEqual(httpFilters(apply([filter("a", "SIDECAR_INBOUND", "INSERT_FIRST")])), ["x", "istio.metadata_exchange", "envoy.filters.http.router"])
        XCTAssertEqual(httpFilters(apply([filter("a", "SIDECAR_INBOUND", "ADD")])), ["istio.metadata_exchange", "envoy.filters.http.router", "x"])
        XCTAssertEqual(httpFilters(apply([filter("a", "SIDECAR_INBOUND", "REPLACE", sub: "istio.metadata_exchange")])), ["x", "envoy.filters.http.router"])
        XCTAssertEqual(httpFilters(apply([filter("a", "SIDECAR_INBOUND", "REMOVE", sub: "istio.metadata_exchange")])), ["envoy.filters.http.router"])
        XCTAssertEqual(httpFilters(apply([filter("a", "SIDECAR_OUTBOUND", "REMOVE", sub: "istio.metadata_exchange")])),
                       ["istio.metadata_exchange", "envoy.filters.http.router"], "another context")
        XCTAssertEqual(httpFilters(apply([filter("a", "ANY", "INSERT_FIRST")]), listener: 1), ["x", "envoy.filters.http.router"])
        // MERGE into the router: same @type merges fields (camelCase accepted), another @type leaves it.
        let merged = apply([filter("a", "SIDECAR_INBOUND", "MERGE", sub: "envoy.filters.http.router",
                                   value: #"{"typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router", "suppressEnvoyHeaders": true}}"#)])
        let router = merged.listeners[0]["filter_chains"]?.array?[0]["filters"]?.array?[0]["typed_config"]?["http_filters"]?.array?[1]
        XCTAssertEqual(router?["typed_config"]?["suppress_envoy_headers"], .bool(true))
        let untouched = apply([filter("a", "SIDECAR_INBOUND", "MERGE", sub: "envoy.filters.http.router",
                                      value: #"{"typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors"}}"#)])
        XCTAssertEqual(untouched.listeners, Fixture.resources().listeners)
    }

    func testListenerChainAndNetworkFilterPatches() {
        let patches = #"""
        [{"applyTo": "LISTENER", "match": {"context": "SIDECAR_OUTBOUND", "listener": {"portNumber": 9080}}, "patch": {"operation": "MERGE", "value": {"perConnectionBufferLimitBytes": 1024, "listenerFilters": [{"name": "envoy.filters.listener.tls_inspector"}]}}},
         {"applyTo": "NETWORK_FILTER", "match": {"context": "SIDECAR_INBOUND", "listener": {"portNumber": 9080, "filterChain": {"filter": {"name": "envoy.filters.network.http_connection_manager"}}}},
          "patch": {"operation": "INSERT_BEFORE", "value": {"name": "envoy.filters.network.rbac", "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC", "statPrefix": "tcp."}}}},
         {"applyTo": "NETWORK_FILTER", "match": {"context": "SIDECAR_INBOUND", "listener": {"filterChain": {"filter": {"name": "envoy.filters.network.http_connection_manager"}}}},
          "patch": {"operation": "MERGE", "value": {"typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager", "stat_prefix": "patched", "common_http_protocol_options": {"idle_timeout": "5s"}}}}},
         {"applyTo": "FILTER_CHAIN", "match": {"context": "SIDECAR_INBOUND", "listener": {"name": "virtualInbound"}}, "patch": {"operation": "ADD", "value": {"name": "extra", "filters": []}}},
         {"applyTo": "LISTENER", "match": {"context": "SIDECAR_OUTBOUND"}, "patch": {"operation": "ADD", "value": {"name": "added", "address": {"socket_address": {"address": "0.0.0.0", "port_value": 7000}}}}}]
        """#
        let patched = apply([Fixture.envoyFilter("l", patches: patches)])
        XCTAssertEqual(patched.listeners.compactMap { $0["name"]?.string }, ["virtualInbound", "0.0.0.0_9080", "added"])
        XCTAssertEqual(patched.listeners[1]["per_connection_buffer_limit_bytes"]?.int, 1024)
        XCTAssertEqual(patched.listeners[1]["listener_filters"]?.array?.count, 1)
        XCTAssertNil(patched.listeners[0]["per_connection_buffer_limit_bytes"], "inbound is another context")
        let chains = patched.listeners[0]["filter_chains"]?.array ?? []
        XCTAssertEqual(chains.compactMap { $0["name"]?.string }, ["0.0.0.0_9080", "extra"])
        let filters = chains[0]["filters"]?.array ?? []
        XCTAssertEqual(filters.compactMap { $0["name"]?.string }, ["envoy.filters.network.rbac", "envoy.filters.network.http_connection_manager"])
        XCTAssertEqual(filters[0]["typed_config"]?["stat_prefix"]?.string, "tcp.")
        XCTAssertEqual(filters[1]["typed_config"]?["stat_prefix"]?.string, "patched")
        XCTAssertEqual(filters[1]["typed_config"]?["common_http_protocol_options"]?["idle_timeout"]?.string, "5s")
        XCTAssertEqual(filters[1]["typed_config"]?["http_filters"]?.array?.count, 2, "the rest of the HCM kept")

        let removed = apply([Fixture.envoyFilter("r", patches: #"[{"applyTo": "LISTENER", "match": {"listener": {"name": "0.0.0.0_9080"}}, "patch": {"operation": "REMOVE"}}, {"applyTo": "FILTER_CHAIN", "match": {"listener": {"portNumber": 9080}}, "patch": {"operation": "REMOVE"}}]"#)])
        XCTAssertEqual(removed.listeners.compactMap { $0["name"]?.string }, ["virtualInbound"])
        XCTAssertEqual(removed.listeners[0]["filter_chains"]?.array?.count, 0, "virtualInbound's chain for destination port 9080")
    }

    func testRouteConfigurationVirtualHostAndRoutePatches() {
        let patches = #"""
        [{"applyTo": "ROUTE_CONFIGURATION", "match": {"context": "SIDECAR_OUTBOUND", "routeConfiguration": {"portNumber": 9080}}, "patch": {"operation": "MERGE", "value": {"requestHeadersToAdd": [{"header": {"key": "x-a", "value": "1"}}]}}},
         {"applyTo": "VIRTUAL_HOST", "match": {"context": "SIDECAR_OUTBOUND", "routeConfiguration": {"vhost": {"name": "reviews.default.svc.cluster.local:9080"}}}, "patch": {"operation": "MERGE", "value": {"domains": ["reviews.example"]}}},
         {"applyTo": "VIRTUAL_HOST", "match": {"context": "SIDECAR_OUTBOUND"}, "patch": {"operation": "ADD", "value": {"name": "extra", "domains": ["extra.local"], "routes": []}}},
         {"applyTo": "HTTP_ROUTE", "match": {"context": "SIDECAR_OUTBOUND", "routeConfiguration": {"vhost": {"name": "reviews.default.svc.cluster.local:9080", "route": {"name": "default"}}}},
          "patch": {"operation": "INSERT_BEFORE", "value": {"name": "health", "match": {"path": "/healthz"}, "direct_response": {"status": 200}}}},
         {"applyTo": "HTTP_ROUTE", "match": {"context": "SIDECAR_OUTBOUND", "routeConfiguration": {"vhost": {"route": {"action": "ROUTE"}}}},
          "patch": {"operation": "MERGE", "value": {"route": {"timeout": "3s"}}}}]
        """#
        let patched = apply([Fixture.envoyFilter("r", patches: patches)])
        XCTAssertNil(patched.routes[0]["request_headers_to_add"], "inbound route configuration untouched")
        XCTAssertEqual(patched.routes[0], Fixture.resources().routes[0])
        let outbound = patched.routes[1]
        XCTAssertEqual(outbound["request_headers_to_add"]?.array?.count, 1)
        let hosts = outbound["virtual_hosts"]?.array ?? []
        XCTAssertEqual(hosts.compactMap { $0["name"]?.string }, ["reviews.default.svc.cluster.local:9080", "extra"])
        XCTAssertEqual(hosts[0]["domains"]?.array?.count, 3, "lists append")
        let routes = hosts[0]["routes"]?.array ?? []
        XCTAssertEqual(routes.compactMap { $0["name"]?.string }, ["health", "default"])
        XCTAssertEqual(routes[1]["route"]?["timeout"]?.string, "3s")
        XCTAssertEqual(routes[1]["route"]?["cluster"]?.string, "outbound|9080|v1|reviews.default.svc.cluster.local")
        XCTAssertNil(routes[0]["route"], "MERGE matched ROUTE actions only")

        let removed = apply([Fixture.envoyFilter("r", patches: #"[{"applyTo": "VIRTUAL_HOST", "match": {"routeConfiguration": {"vhost": {"name": "inbound|http|9080"}}}, "patch": {"operation": "REMOVE"}}]"#)])
        XCTAssertEqual(removed.routes[0]["virtual_hosts"]?.array?.count, 0)
    }

    func testClusterPatchesMatchByServicePortAndSubset() {
        let patches = #"""
        [{"applyTo": "CLUSTER", "match": {"context": "SIDECAR_OUTBOUND", "cluster": {"service": "reviews.default.svc.cluster.local", "portNumber": 9080, "subset": "v1"}}, "patch": {"operation": "MERGE", "value": {"connectTimeout": "1s", "circuitBreakers": {"thresholds": [{"maxConnections": 5}]}}}},
         {"applyTo": "CLUSTER", "match": {"context": "SIDECAR_OUTBOUND", "cluster": {"service": "reviews.default.svc.cluster.local", "subset": "v2"}}, "patch": {"operation": "REMOVE"}},
         {"applyTo": "CLUSTER", "patch": {"operation": "ADD", "value": {"name": "ratelimit", "type": "STRICT_DNS"}}},
         {"applyTo": "CLUSTER", "match": {"context": "SIDECAR_INBOUND"}, "patch": {"operation": "INSERT_FIRST", "value": {"name": "inbound-extra"}}}]
        """#
        let patched = apply([Fixture.envoyFilter("c", patches: patches)])
        XCTAssertEqual(patched.clusters.compactMap { $0["name"]?.string },
                       ["inbound|9080||", "outbound|9080|v1|reviews.default.svc.cluster.local", "ratelimit", "inbound-extra"],
                       "ANY adds once; INSERT_FIRST on clusters is an ADD")
        XCTAssertEqual(patched.clusters[1]["connect_timeout"]?.string, "1s")
        XCTAssertEqual(patched.clusters[1]["circuit_breakers"]?["thresholds"]?.array?[0]["max_connections"]?.int, 5)
        XCTAssertEqual(patched.clusters[0], Fixture.resources().clusters[0])
    }

    func testScopingByNamespaceSelectorAndPriorityOrder() {
        func named(_ name: String, namespace: String, priority: Int, selector: String = "") -> JSONValue {
            Fixture.envoyFilter(name, namespace: namespace, priority: priority, selector: selector, patches: #"""
            [{"applyTo": "HTTP_FILTER", "match": {"context": "SIDECAR_INBOUND", "listener": {"filterChain": {"filter": {"name": "envoy.filters.network.http_connection_manager"}}}},
              "patch": {"operation": "INSERT_FIRST", "value": {"name": "\#(name)"}}}]
            """#)
        }
        let filters = [
            named("late", namespace: "shop", priority: 10), named("mesh", namespace: "istio-system", priority: 0),
            named("local", namespace: "shop", priority: 0), named("early", namespace: "shop", priority: -5),
            named("elsewhere", namespace: "other", priority: 0), named("for-reviews", namespace: "shop", priority: 0, selector: #"{"app": "reviews"}"#),
        ]
        // Applied in order early, mesh (root namespace first at equal priority), local, late; each INSERT_FIRST goes in front.
        XCTAssertEqual(Array(httpFilters(apply(filters)).prefix(4)), ["late", "local", "mesh", "early"])
        XCTAssertEqual(Array(httpFilters(apply(filters, labels: ["app": "reviews"])).prefix(5)), ["late", "local", "for-reviews", "mesh", "early"])
        XCTAssertEqual(httpFilters(apply(filters, kind: .router)), ["istio.metadata_exchange", "envoy.filters.http.router"], "a gateway's context")
    }

    func testProtoMergeOnJSON() {
        let target = Fixture.json(#"{"a": {"b": 1, "list": [1]}, "typed_per_filter_config": {"f": {"x": 1, "y": 2}}, "t": {"@type": "A", "k": 1}}"#)
        let patch = Fixture.json(#"{"a": {"c": 2, "list": [2]}, "typed_per_filter_config": {"f": {"x": 3}, "g": {}}, "t": {"@type": "B", "j": 2}}"#)
        XCTAssertEqual(ProtoJSONMerge.merge(target, patch),
                       Fixture.json(#"{"a": {"b": 1, "c": 2, "list": [1, 2]}, "typed_per_filter_config": {"f": {"x": 3}, "g": {}}, "t": {"@type": "B", "j": 2}}"#))
        XCTAssertEqual(ProtoJSONMerge.merge(target, patch, replaceLists: true)["a"]?["list"], Fixture.json("[2]"))
        XCTAssertEqual(ProtoJSONMerge.snakeCase(Fixture.json(#"{"typedConfig": {"@type": "T", "statPrefix": "s"}, "metadata": {"filterMetadata": {"istio": {"keepCase": 1}}}}"#)),
                       Fixture.json(#"{"typed_config": {"@type": "T", "stat_prefix": "s"}, "metadata": {"filter_metadata": {"istio": {"keepCase": 1}}}}"#))
    }

    func testNotesNameWhatLocalModeLeavesOut() {
        let filters = [
            Fixture.envoyFilter("wasm", patches: #"[{"applyTo": "EXTENSION_CONFIG", "patch": {"operation": "ADD", "value": {"name": "x"}}}, {"applyTo": "CLUSTER", "patch": {"operation": "ADD", "value": {"name": "y"}}}]"#),
            Fixture.json(#"{"metadata": {"name": "gw", "namespace": "shop"}, "spec": {"targetRefs": [{"kind": "Gateway", "name": "g"}], "configPatches": []}}"#),
            Fixture.envoyFilter("other", namespace: "elsewhere", patches: #"[{"applyTo": "BOOTSTRAP", "patch": {"operation": "MERGE", "value": {}}}]"#),
        ]
        XCTAssertEqual(EnvoyFilterPatches.notes(MeshSnapshot(objects: [EnvoyFilterPatches.storageKey: filters]), proxyLabels: [:], namespace: "shop"), [
            "EnvoyFilter shop/wasm: configPatches[0] applies to EXTENSION_CONFIG, which local mode does not generate; it has no effect",
            "EnvoyFilter shop/gw: targetRefs select gateways and waypoints; local mode applies it to no sidecar",
        ])
    }
}
