import ConfigValues
@testable import MeshPilot
import XCTest

final class GatewayConfigTests: XCTestCase {
    static let ingress = """
    apiVersion: v1
    kind: Pod
    metadata: {name: istio-ingressgateway-6d9f7c-abcde, namespace: istio-system, labels: {istio: ingressgateway}}
    spec: {serviceAccountName: istio-ingressgateway-service-account, containers: [{name: istio-proxy}]}
    status: {podIP: 127.10.9.1}
    ---
    apiVersion: networking.istio.io/v1
    kind: Gateway
    metadata: {name: bookinfo-gateway, namespace: default}
    spec:
      selector: {istio: ingressgateway}
      servers:
      - {port: {number: 8080, name: http, protocol: HTTP}, hosts: ["*"]}
      - {port: {number: 8443, name: https, protocol: HTTPS}, hosts: [bookinfo.example.com], tls: {mode: SIMPLE, credentialName: bookinfo-cert}}
    ---
    apiVersion: networking.istio.io/v1
    kind: VirtualService
    metadata: {name: bookinfo, namespace: default}
    spec:
      hosts: ["*"]
      gateways: [bookinfo-gateway]
      http:
      - name: productpage
        match: [{uri: {exact: /productpage}}, {uri: {prefix: /static}}]
        route: [{destination: {host: productpage, port: {number: 9080}}}]
    """
    static let node = ProxyNode(kind: .router, ip: "127.10.9.1", podName: "istio-ingressgateway-6d9f7c-abcde", namespace: "istio-system")

    func testGatewayServersBecomeListenersWithRoutesFromBoundVirtualServices() throws {
        let out = Pilot(authority: nil).resources(for: Self.node, in: try PilotFixtures.snapshot(fixture: "bookinfo.yaml", adding: Self.ingress))
        XCTAssertEqual(out.listeners.names, ["0.0.0.0_8080", "0.0.0.0_8443"])
        XCTAssertEqual(out.routes.names, ["http.8080", "https.8443.https.bookinfo-gateway.default"])
        let http = try XCTUnwrap(out.routes.named("http.8080"))
        XCTAssertEqual(http[path: "virtual_hosts", 0, "domains"], .array([.string("*")]))
        XCTAssertEqual(http[path: "virtual_hosts", 0, "routes"]?.array?.names, ["productpage", "productpage"])
        XCTAssertEqual(http[path: "virtual_hosts", 0, "routes", 0, "route", "cluster"], .string("outbound|9080||productpage.default.svc.cluster.local"))
        // The mesh's sidecars do not get the gateway's routes.
        let sidecar = Pilot(authority: nil).resources(for: PilotFixtures.productpage, in: try PilotFixtures.snapshot(fixture: "bookinfo.yaml", adding: Self.ingress))
        let productpage = sidecar.routes.named("9080")?["virtual_hosts"]?.array?.named("productpage.default.svc.cluster.local:9080")
        XCTAssertEqual(productpage?[path: "routes", 0, "name"], .string("default"))
        let https = try XCTUnwrap(out.listeners.named("0.0.0.0_8443"))
        XCTAssertEqual(https[path: "filter_chains", 0, "filter_chain_match", "server_names"], .array([.string("bookinfo.example.com")]))
        XCTAssertEqual(https[path: "filter_chains", 0, "transport_socket", "typed_config", "common_tls_context", "tls_certificate_sds_secret_configs", 0, "name"],
                       .string("kubernetes://bookinfo-cert"))
        XCTAssertTrue(out.clusters.names.contains("outbound|9080||productpage.default.svc.cluster.local"))
        XCTAssertFalse(out.listeners.names.contains("virtualInbound"))
    }

    /// Gateway port 80 on a pod behind `istio-ingressgateway` (port 80 -> targetPort 8080) listens on 8080, as istiod
    /// translates it; a port no Service of the pod has stays as it is.
    func testServerPortsTranslateToTheGatewayServicesTargetPorts() throws {
        let yaml = """
        apiVersion: v1
        kind: Pod
        metadata: {name: istio-ingressgateway-6d9f7c-abcde, namespace: istio-system, labels: {istio: ingressgateway, app: istio-ingressgateway}}
        spec:
          serviceAccountName: istio-ingressgateway-service-account
          containers: [{name: istio-proxy, ports: [{name: http2, containerPort: 8080}, {name: https, containerPort: 8443}]}]
        status: {podIP: 127.10.9.1}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: istio-ingressgateway, namespace: istio-system}
        spec:
          type: LoadBalancer
          selector: {istio: ingressgateway, app: istio-ingressgateway}
          ports: [{name: status-port, port: 15021, targetPort: 15021}, {name: http2, port: 80, targetPort: 8080}, {name: https, port: 443, targetPort: https}]
        ---
        apiVersion: networking.istio.io/v1
        kind: Gateway
        metadata: {name: web, namespace: default}
        spec:
          selector: {istio: ingressgateway}
          servers:
          - {port: {number: 80, name: http, protocol: HTTP}, hosts: [web.example.com]}
          - {port: {number: 443, name: https, protocol: HTTPS}, hosts: [web.example.com], tls: {mode: SIMPLE, credentialName: web-cert}}
          - {port: {number: 9000, name: other, protocol: HTTP}, hosts: [web.example.com]}
        ---
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: web, namespace: default}
        spec:
          hosts: [web.example.com]
          gateways: [web]
          http: [{route: [{destination: {host: productpage, port: {number: 9080}}}]}]
        """
        let out = Pilot(authority: nil).resources(for: Self.node, in: try PilotFixtures.snapshot(fixture: "bookinfo.yaml", adding: yaml))
        XCTAssertEqual(out.listeners.names, ["0.0.0.0_8080", "0.0.0.0_8443", "0.0.0.0_9000"])
        XCTAssertEqual(out.routes.names, ["http.8080", "https.443.https.web.default", "http.9000"])
        let http = try XCTUnwrap(out.listeners.named("0.0.0.0_8080"))
        XCTAssertEqual(http[path: "address", "socket_address", "port_value"], .int(8080))
        XCTAssertEqual(http[path: "filter_chains", 0, "filters", 0, "typed_config", "rds", "route_config_name"], .string("http.8080"))
        XCTAssertEqual(out.routes.named("http.8080")?[path: "virtual_hosts", 0, "routes", 0, "route", "cluster"],
                       .string("outbound|9080||productpage.default.svc.cluster.local"))
    }

    /// A TLS server's credentialName: the Secret of that name in the gateway pod's namespace, served over SDS as
    /// `kubernetes://NAME` to the gateway pod alone.
    func testCredentialNameSecretsAreServedToTheGatewayPod() throws {
        let secrets = """
        apiVersion: v1
        kind: Secret
        metadata: {name: bookinfo-cert, namespace: istio-system}
        type: kubernetes.io/tls
        data: {tls.crt: \(Base64.encode(Array("CERTIFICATE".utf8))), tls.key: \(Base64.encode(Array("KEY".utf8)))}
        ---
        apiVersion: v1
        kind: Secret
        metadata: {name: bookinfo-cert, namespace: default}
        type: kubernetes.io/tls
        data: {tls.crt: \(Base64.encode(Array("OTHER".utf8))), tls.key: \(Base64.encode(Array("OTHER".utf8)))}
        """
        let snapshot = try PilotFixtures.snapshot(fixture: "bookinfo.yaml", adding: Self.ingress + "\n---\n" + secrets)
        let out = Pilot(authority: nil).resources(for: Self.node, in: snapshot)
        let secret = try XCTUnwrap(out.secrets.named("kubernetes://bookinfo-cert"))
        XCTAssertEqual(secret[path: "tls_certificate", "certificate_chain", "inline_string"], .string("CERTIFICATE"))
        XCTAssertEqual(secret[path: "tls_certificate", "private_key", "inline_string"], .string("KEY"))
        XCTAssertEqual(out.secrets.count, 1)
        // A node id naming the pod at another address gets no key.
        var impostor = Self.node
        impostor.ip = "127.10.9.99"
        XCTAssertNil(Pilot(authority: nil).resources(for: impostor, in: snapshot).secrets.named("kubernetes://bookinfo-cert"))
    }

    /// A gateway pod (`proxy router`) is no sidecar: its endpoints are plaintext (no auto mTLS from sidecars).
    func testAGatewayPodsEndpointsGetNoAutoMTLS() throws {
        let pod = try JSONValue.parse(#"{"metadata":{"name":"gw","namespace":"istio-system"},"spec":{"containers":[{"name":"istio-proxy","args":["proxy","router"]}]},"status":{"podIP":"127.10.9.2"}}"#)
        let gateway = try XCTUnwrap(MeshWorkload.read(pod, nodes: [:]))
        XCTAssertFalse(gateway.hasSidecar)
        XCTAssertEqual(gateway.tlsMode, "disabled")
        let sidecarPod = try JSONValue.parse(#"{"metadata":{"name":"app","namespace":"default"},"spec":{"containers":[{"name":"app"},{"name":"istio-proxy","args":["proxy","sidecar"]}]},"status":{"podIP":"127.10.9.3"}}"#)
        XCTAssertEqual(try XCTUnwrap(MeshWorkload.read(sidecarPod, nodes: [:])).tlsMode, "istio")
    }
}
