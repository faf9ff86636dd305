import ConfigValues
import EnvoyConfig
import Foundation
@testable import MeshPilot
@testable import MeshProxy
import MeshNet
import MeshHTTP1
import MeshTestSupport
import XCTest

/// Which policies select a workload, `x authz check`'s summary reading the filters back, and meshctl's proxy
/// enforcing them.
final class AuthorizationFiltersTests: XCTestCase {
    static func policy(_ name: String, _ namespace: String, _ spec: String, annotations: String = "{}") throws -> JSONValue {
        try JSONValue.parse(#"{"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy", "metadata": {"name": "\#(name)", "namespace": "\#(namespace)", "annotations": \#(annotations)}, "spec": \#(spec)}"#)
    }

    static var shopPolicies: MeshSnapshot {
        get throws {
            MeshSnapshot(objects: [AuthorizationFilters.storageKey: [
                // Only callers from the shop namespace, and the frontend's identity for writes.
                try policy("shop-only", "shop", #"{"selector": {"matchLabels": {"app": "cart"}}, "rules": [{"from": [{"source": {"namespaces": ["shop"]}}], "to": [{"operation": {"methods": ["GET"]}}]}, {"from": [{"source": {"principals": ["cluster.local/ns/shop/sa/frontend"]}}]}]}"#),
                try policy("no-admin", "shop", #"{"action": "DENY", "rules": [{"to": [{"operation": {"paths": ["/admin*"]}}]}]}"#),
                try policy("mesh-audit", "istio-system", #"{"action": "AUDIT", "rules": [{"to": [{"operation": {"paths": ["/checkout"]}}]}]}"#),
                try policy("ext", "shop", #"{"action": "CUSTOM", "provider": {"name": "opa"}, "rules": [{}]}"#),
                try policy("payments-only", "shop", #"{"selector": {"matchLabels": {"app": "payments"}}}"#),
                try policy("elsewhere", "other", #"{"action": "DENY", "rules": [{}]}"#),
                try policy("waypoint", "shop", #"{"targetRefs": [{"kind": "Service", "name": "cart"}], "action": "DENY", "rules": [{}]}"#),
            ]])
        }
    }

    func testPoliciesSelectByRootNamespaceNamespaceAndLabelsAndCustomIsANote() throws {
        let snapshot = try Self.shopPolicies
        let filters = AuthorizationFilters.http(forWorkload: ["app": "cart"], namespace: "shop", in: snapshot)
        XCTAssertEqual(filters.map { $0["typed_config"]?["rules"]?["action"]?.string ?? "ALLOW" }, ["LOG", "DENY", "ALLOW"])
        XCTAssertEqual(filters.map { ($0["typed_config"]?["rules"]?["policies"]?.object ?? []).map(\.key) }, [
            ["ns[istio-system]-policy[mesh-audit]-rule[0]"], ["ns[shop]-policy[no-admin]-rule[0]"],
            ["ns[shop]-policy[shop-only]-rule[0]", "ns[shop]-policy[shop-only]-rule[1]"],
        ])
        XCTAssertEqual(AuthorizationFilters.notes(forWorkload: ["app": "cart"], namespace: "shop", in: snapshot),
                       ["AuthorizationPolicy shop/ext: action CUSTOM (external authorization) is not supported in local mode; it has no effect"])
        // payments: its own empty ALLOW policy (deny all) besides the namespace's DENY and the mesh's AUDIT.
        let payments = AuthorizationFilters.http(forWorkload: ["app": "payments"], namespace: "shop", in: snapshot)
        XCTAssertEqual(payments.last?["typed_config"]?["rules"]?["policies"]?["ns[shop]-policy[payments-only]-rule[0]"],
                       try JSONValue.parse(#"{"permissions": [{"not_rule": {"any": true}}], "principals": [{"not_id": {"any": true}}]}"#))
        XCTAssertEqual(AuthorizationFilters.http(forWorkload: [:], namespace: "quiet", in: snapshot).count, 1, "only the mesh-wide AUDIT")
        // TCP: the ALLOW rule on methods is left out, the DENY on paths keeps its (now empty) match: deny everything.
        let network = AuthorizationFilters.network(forWorkload: ["app": "cart"], namespace: "shop", in: snapshot)
        XCTAssertEqual(network.map { ($0["typed_config"]?["rules"]?["policies"]?.object ?? []).map(\.key) }, [
            ["ns[istio-system]-policy[mesh-audit]-rule[0]"], ["ns[shop]-policy[no-admin]-rule[0]"], ["ns[shop]-policy[shop-only]-rule[1]"],
        ])
        XCTAssertEqual(network.first?["typed_config"]?["stat_prefix"]?.string, "tcp.")
    }

    func testAuthzCheckReadsThePilotsFiltersBack() throws {
        let snapshot = try Self.shopPolicies
        let http = AuthorizationFilters.http(forWorkload: ["app": "cart"], namespace: "shop", in: snapshot)
        let network = AuthorizationFilters.network(forWorkload: ["app": "cart"], namespace: "shop", in: snapshot)
        let router = try JSONValue.parse(#"{"name": "envoy.filters.http.router", "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}}"#)
        let hcm = JSONValue.object([("name", .string("envoy.filters.network.http_connection_manager")),
                                    ("typed_config", .object([("@type", .string("type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager")),
                                                              ("http_filters", .array(http + [router]))]))])
        let tcpProxy = try JSONValue.parse(#"{"name": "envoy.filters.network.tcp_proxy", "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy", "cluster": "x"}}"#)
        let listener = JSONValue.object([("name", .string("virtualInbound")), ("filter_chains", .array([
            .object([("filters", .array([hcm]))]), .object([("filters", .array(network + [tcpProxy]))]),
        ]))])
        let dump = try ConfigDump(.object([("configs", .array([.object([
            ("@type", .string("type.googleapis.com/envoy.admin.v3.ListenersConfigDump")),
            ("dynamic_listeners", .array([.object([("name", .string("virtualInbound")), ("active_state", .object([("listener", listener)]))])])),
        ])]))]), source: "test")
        XCTAssertEqual(try AuthorizationSummary.rows(dump).map { "\($0.action) \($0.policy) \($0.rules)" },
                       ["DENY no-admin.shop 1", "ALLOW shop-only.shop 2", "LOG mesh-audit.istio-system 1"])
    }

    func testMeshctlsProxyEnforcesThePilotsFilters() throws {
        let snapshot = try Self.shopPolicies
        let http = AuthorizationFilters.http(forWorkload: ["app": "cart"], namespace: "shop", in: snapshot)
        let upstream = try EchoUpstream()
        defer { upstream.stop() }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pilot-authz-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let port = freeLocalPort()
        let filters = (http.map(\.serialized) + [#"{"name": "envoy.filters.http.router", "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}}"#]).joined(separator: ",")
        let bootstrap = #"""
        {"static_resources": {"listeners": [{"name": "inbound", "address": {"socket_address": {"address": "127.0.0.1", "port_value": \#(port)}},
          "filter_chains": [{"filters": [{"name": "envoy.filters.network.http_connection_manager", "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager", "stat_prefix": "inbound_0.0.0.0_8080",
            "route_config": {"name": "inbound", "virtual_hosts": [{"name": "inbound", "domains": ["*"], "routes": [{"match": {"prefix": "/"}, "route": {"cluster": "app"}}]}]},
            "http_filters": [\#(filters)]}}]}]}],
          "clusters": [{"name": "app", "connect_timeout": "1s", "load_assignment": {"cluster_name": "app", "endpoints": [{"lb_endpoints": [{"endpoint": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": \#(upstream.port)}}}}]}]}}]}}
        """#
        let file = directory.appendingPathComponent("bootstrap.json")
        try bootstrap.write(to: file, atomically: true, encoding: .utf8)
        let configuration = try ProxyConfiguration.load(file: file.path)
        let proxy = try ProxyServer(configuration: configuration, concurrency: 1, log: ProxyLog(level: .error) { FileHandle.standardError.write(Data($0.utf8)) })
        proxy.start()
        defer { proxy.stop() }

        // Plaintext: no principal and no namespace, so the ALLOW policy lets nothing through; DENY names its rule first.
        XCTAssertEqual(try upstream.get(port: port, path: "/items"), 403)
        XCTAssertEqual(try upstream.get(port: port, path: "/admin/users"), 403)
        XCTAssertEqual(proxy.stats.value("http.inbound_0.0.0.0_8080.rbac.denied"), 2)
        XCTAssertEqual(proxy.stats.value("http.inbound_0.0.0.0_8080.rbac.allowed"), 3, "the AUDIT filter's two, the DENY filter's one")

        // Over mTLS the peer's SPIFFE identity decides: the same filters, evaluated with the connection's URI SAN.
        guard case .httpConnectionManager(let manager)? = configuration.listeners.first?.filterChains.first?.filter else { return XCTFail("no HCM") }
        let rbac = manager.httpFilters.compactMap { if case .rbac(let config) = $0 { config } else { nil } }
        func decide(_ san: String, _ method: String, _ path: String) -> String {
            let info = DownstreamConnectionInfo(localAddress: "127.10.0.7:8080", remoteAddress: "127.10.0.9:41000",
                                                tls: .init(serverName: nil, applicationProtocol: "istio", peerURISANs: [san]))
            let subject = RBACEngine.Subject(connection: info, request: HTTPRequest(method: method, target: path, headers: [("host", "cart")]))
            for config in rbac {
                if let denial = RBACFilterRun.check(config, subject: subject, statPrefix: "", stats: ProxyStats()) { return denial }
            }
            return "allowed"
        }
        XCTAssertEqual(decide("spiffe://cluster.local/ns/shop/sa/checkout", "GET", "/items"), "allowed", "namespace from the principal")
        XCTAssertEqual(decide("spiffe://cluster.local/ns/other/sa/checkout", "GET", "/items"), "rbac_access_denied_matched_policy[none]")
        XCTAssertEqual(decide("spiffe://cluster.local/ns/shop/sa/checkout", "POST", "/items"), "rbac_access_denied_matched_policy[none]")
        XCTAssertEqual(decide("spiffe://cluster.local/ns/shop/sa/frontend", "POST", "/items"), "allowed", "ALLOW by principal")
        XCTAssertEqual(decide("spiffe://cluster.local/ns/shop/sa/frontend", "GET", "/admin"), "rbac_access_denied_matched_policy[ns[shop]-policy[no-admin]-rule[0]]")
    }
}

/// A plain HTTP upstream answering 200 to everything, and a one-request client.
final class EchoUpstream: @unchecked Sendable {
    let loop: EventLoop
    let server: HTTPServer

    init() throws {
        loop = try EventLoop(name: "authz-upstream")
        loop.start()
        server = try HTTPServer(host: "127.0.0.1", port: 0, loops: [loop], tls: nil) { request, responder in
            responder.respond(HTTPResponse(status: 200, contentType: "text/plain", text: "\(request.method) \(request.target)\n"))
        }
        server.start()
    }

    var port: Int { server.port }

    func stop() {
        server.stop()
        loop.stop()
    }

    /// The status of a GET through the proxy on `port`.
    func get(port: Int, path: String) throws -> Int {
        let client = try LoopbackClient(address: "127.0.0.1", port: port)
        defer { client.close() }
        try client.send("GET \(path) HTTP/1.1\r\nhost: cart\r\nconnection: close\r\n\r\n")
        let answer = client.readUntilClosed(timeout: 10)
        guard answer.hasPrefix("HTTP/1.1 "), let status = Int(answer.dropFirst(9).prefix(3)) else { throw CocoaError(.fileReadCorruptFile) }
        return status
    }
}
