import ConfigValues
@testable import MeshPilot
import XCTest

final class InboundConfigTests: XCTestCase {
    private func inbound(adding extra: String = "") throws -> ProxyResources {
        Pilot(authority: nil).resources(for: PilotFixtures.productpage, in: try PilotFixtures.snapshot(fixture: "bookinfo.yaml", adding: extra))
    }

    /// The filter chains of port 9080 as (transport protocol, ALPNs).
    private func chains9080(_ out: ProxyResources) throws -> [String] {
        let listener = try XCTUnwrap(out.listeners.named("virtualInbound"))
        return (listener["filter_chains"]?.array ?? []).filter { $0[path: "filter_chain_match", "destination_port"] == .int(9080) }.map { chain in
            let match = chain["filter_chain_match"]
            return "\(match?["transport_protocol"]?.string ?? "-") \((match?["application_protocols"]?.array ?? []).compactMap(\.string).joined(separator: ","))"
        }
    }

    func testVirtualInboundListensOnThePodAndItsPorts() throws {
        let out = try inbound()
        let listener = try XCTUnwrap(out.listeners.named("virtualInbound"))
        XCTAssertEqual(listener[path: "address", "socket_address", "address"], .string("127.10.0.2"))
        XCTAssertEqual(listener[path: "address", "socket_address", "port_value"], .int(15006))
        XCTAssertEqual(listener[path: "additional_addresses", 0, "address", "socket_address", "port_value"], .int(9080))
        XCTAssertEqual(listener["traffic_direction"], .string("INBOUND"))
        XCTAssertEqual(listener["listener_filters"]?.array?.names, ["envoy.filters.listener.tls_inspector", "envoy.filters.listener.http_inspector"])
        XCTAssertEqual(listener["filter_chains"]?.array?.names, ["virtualInbound-blackhole", "0.0.0.0_9080", "0.0.0.0_9080", "virtualInbound-catchall-tcp"])
        let tls = try XCTUnwrap(listener[path: "filter_chains", 2])
        XCTAssertEqual(tls[path: "transport_socket", "typed_config", "require_client_certificate"], .bool(true))
        XCTAssertEqual(tls[path: "transport_socket", "typed_config", "common_tls_context", "combined_validation_context", "default_validation_context",
                           "match_typed_subject_alt_names", 0, "matcher", "prefix"], .string("spiffe://cluster.local/"))
        let hcm = try XCTUnwrap(tls[path: "filters", 0, "typed_config"])
        XCTAssertEqual(hcm["stat_prefix"], .string("inbound_0.0.0.0_9080"))
        XCTAssertEqual(hcm[path: "route_config", "name"], .string("inbound|9080||"))
        XCTAssertEqual(hcm[path: "route_config", "virtual_hosts", 0, "routes", 0, "route", "cluster"], .string("inbound|9080||"))
        XCTAssertEqual(hcm[path: "route_config", "virtual_hosts", 0, "routes", 0, "decorator", "operation"], .string("productpage.default.svc.cluster.local:9080/*"))
        XCTAssertEqual(hcm["forward_client_cert_details"], .string("APPEND_FORWARD"))
        // The app behind the sidecar listens on 127.11.x.y.
        let cluster = try XCTUnwrap(out.clusters.named("inbound|9080||"))
        XCTAssertEqual(cluster[path: "load_assignment", "endpoints", 0, "lb_endpoints", 0, "endpoint", "address", "socket_address", "address"], .string("127.11.0.2"))
        XCTAssertEqual(cluster[path: "metadata", "filter_metadata", "istio", "services", 0, "host"], .string("productpage.default.svc.cluster.local"))
    }

    /// A PeerAuthentication document.
    private func peerAuthentication(_ name: String, _ namespace: String, _ spec: String) -> String {
        "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: \(name), namespace: \(namespace)}\nspec: \(spec)\n---\n"
    }

    func testPeerAuthenticationModesAndPrecedence() throws {
        XCTAssertEqual(try chains9080(try inbound()), ["raw_buffer http/1.1,h2c", "tls istio-peer-exchange,istio,istio-http/1.0,istio-http/1.1,istio-h2"])
        let meshStrict = peerAuthentication("default", "istio-system", "{mtls: {mode: STRICT}}")
        XCTAssertEqual(try chains9080(try inbound(adding: meshStrict)), ["tls "])
        let namespaceDisable = meshStrict + peerAuthentication("default", "default", "{mtls: {mode: DISABLE}}")
        XCTAssertEqual(try chains9080(try inbound(adding: namespaceDisable)), ["raw_buffer http/1.1,h2c"])
        let workloadUnsetPortStrict = namespaceDisable + peerAuthentication(
            "productpage", "default", "{selector: {matchLabels: {app: productpage}}, mtls: {mode: UNSET}, portLevelMtls: {\"9080\": {mode: STRICT}}}")
        XCTAssertEqual(try chains9080(try inbound(adding: workloadUnsetPortStrict)), ["tls "])
        let workloadPermissive = namespaceDisable + peerAuthentication(
            "productpage", "default", "{selector: {matchLabels: {app: productpage}}, mtls: {mode: PERMISSIVE}}")
        XCTAssertEqual(try chains9080(try inbound(adding: workloadPermissive)).count, 2)
    }

    func testTCPInboundPortsUseTCPProxy() throws {
        let extra = """
        apiVersion: v1
        kind: Service
        metadata: {name: pp-admin, namespace: default}
        spec: {clusterIP: 10.96.9.9, selector: {app: productpage}, ports: [{name: tcp-admin, port: 7000, targetPort: http}]}
        """
        let out = try inbound(adding: extra)
        // targetPort names the container port (http = 9080), so the TCP service shares the pod's 9080 chains.
        XCTAssertEqual(out.clusters.names.filter { $0.hasPrefix("inbound|") }, ["inbound|9080||"])
        let tcpOnly = """
        apiVersion: v1
        kind: Service
        metadata: {name: pp-admin, namespace: default}
        spec: {clusterIP: 10.96.9.9, selector: {app: productpage}, ports: [{name: tcp-admin, port: 7000}]}
        """
        let listener = try XCTUnwrap(try inbound(adding: tcpOnly).listeners.named("virtualInbound"))
        let chains = try XCTUnwrap(listener["filter_chains"]?.array?.filter { $0[path: "filter_chain_match", "destination_port"] == .int(7000) })
        XCTAssertEqual(chains.count, 2)
        XCTAssertEqual(chains[0][path: "filters", 1, "typed_config", "cluster"], .string("inbound|7000||"))
        XCTAssertEqual(chains[1][path: "transport_socket", "typed_config", "common_tls_context", "alpn_protocols"], .array([.string("istio-peer-exchange"), .string("istio")]))
    }
}
