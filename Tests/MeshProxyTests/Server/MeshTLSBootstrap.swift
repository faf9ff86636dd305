import Foundation
import MeshNet
import MeshTLS
import MeshTestSupport

/// A sidecar-shaped bootstrap for the TLS and capture tests, run by meshctl's proxy and by Envoy alike: an mTLS
/// inbound listener (tls_inspector, Istio's ALPNs, client certificate required, SPIFFE SAN prefix) in front of the
/// `app` upstream; an outbound listener whose routes reach the inbound one over Istio-mutual TLS (`/`), over a
/// `transport_socket_matches` cluster (`/auto`), and with a SAN the inbound certificate does not carry
/// (`/wrong-san`); and a `virtualOutbound` (PROXY protocol, use_original_dst) handing off to a `bind_to_port: false`
/// listener on 0.0.0.0:HANDOFF (upstream `handoff`) or else passing through to the original destination.
/// Certificates come from MeshNet's CertificateAuthority, served by file-based SDS as `default` and `ROOTCA`.
struct MeshTLSBootstrap {
    let directory: URL
    let authority: CertificateAuthority
    let inboundPort = freeLocalPort(), outboundPort = freeLocalPort(), virtualOutboundPort = freeLocalPort()
    let handOffPort = freeLocalPort(), adminPort = freeLocalPort()
    let appPort: Int, handOffUpstreamPort: Int
    /// The workload identity of the proxy (its `default` secret).
    static let identity = "spiffe://cluster.local/ns/default/sa/productpage"
    var accessLog: URL { directory.appendingPathComponent("access.log") }
    var file: URL { directory.appendingPathComponent("bootstrap.yaml") }

    init(appPort: Int, handOffUpstreamPort: Int) throws {
        self.appPort = appPort
        self.handOffUpstreamPort = handOffUpstreamPort
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("meshproxy-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        authority = try CertificateAuthority()
        let workload = try authority.issueWorkload(namespace: "default", serviceAccount: "productpage")
        let chain = try workload.chain.map { String(decoding: try $0.pem(), as: UTF8.self) }.joined()
        try Data(try workload.key.pem()).write(to: directory.appendingPathComponent("key.pem"))
        let root = String(decoding: try authority.certificate.pem(), as: UTF8.self)
        try EnvoyAdminSample.writeSDSFiles(in: directory, chain: Data(chain.utf8), keyFile: directory.appendingPathComponent("key.pem").path,
                                           root: Data(root.utf8))
        try text.write(to: file, atomically: true, encoding: .utf8)
    }

    func remove() { try? FileManager.default.removeItem(at: directory) }

    private func sds(_ name: String, _ file: String) -> String {
        "{name: \(name), sds_config: {resource_api_version: V3, path_config_source: {path: \(directory.path)/\(file)}}}"
    }

    /// `text` with every line indented by `spaces`.
    private func indent(_ text: String, _ spaces: Int) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false).map { String(repeating: " ", count: spaces) + $0 }.joined(separator: "\n")
    }

    /// An Istio-mutual `transport_socket` (UpstreamTlsContext) expecting the peer `san`.
    private func istioMutual(san: String) -> String {
        """
        transport_socket:
          name: envoy.transport_sockets.tls
          typed_config:
            "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext
            sni: outbound_.9080_._.app.default.svc.cluster.local
        \(indent(commonTLSContext(alpn: "istio-peer-exchange, istio", san: "{exact: \"\(san)\"}"), 4))
        """
    }

    /// A `common_tls_context` with the `default` certificate, `ROOTCA` and one URI SAN matcher.
    private func commonTLSContext(alpn: String, san: String) -> String {
        """
        common_tls_context:
          alpn_protocols: [\(alpn)]
          tls_certificate_sds_secret_configs:
          - \(sds("default", "sds-default.yaml"))
          combined_validation_context:
            default_validation_context:
              match_typed_subject_alt_names:
              - {san_type: URI, matcher: \(san)}
            validation_context_sds_secret_config: \(sds("ROOTCA", "sds-rootca.yaml"))
        """
    }

    /// A `filters:` list with one HTTP connection manager routing `routes` (flow mappings).
    private func hcm(_ prefix: String, routes: [String]) -> String {
        """
        filters:
        - name: envoy.filters.network.http_connection_manager
          typed_config:
            "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
            stat_prefix: \(prefix)
            route_config:
              name: \(prefix)
              virtual_hosts:
              - name: all
                domains: ["*"]
                routes:
        \(indent(routes.map { "- " + $0 }.joined(separator: "\n"), 8))
            http_filters:
            - name: envoy.filters.http.router
              typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}
            access_log:
            - name: envoy.access_loggers.file
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
                path: \(accessLog.path)
                log_format:
                  text_format_source:
                    inline_string: "\(prefix) %RESPONSE_CODE% %RESPONSE_FLAGS% \\"%UPSTREAM_TRANSPORT_FAILURE_REASON%\\" peer=%DOWNSTREAM_PEER_URI_SAN% sni=%REQUESTED_SERVER_NAME%\\n"
        """
    }

    private func cluster(_ name: String, port: Int, extra: String = "", metadata: String = "") -> String {
        """
        - name: \(name)
          type: STATIC
          connect_timeout: 2s
        \(extra.isEmpty ? "" : indent(extra, 2))
          load_assignment:
            cluster_name: \(name)
            endpoints:
            - lb_endpoints:
              - endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: \(port)}}}
        \(metadata.isEmpty ? "" : "        metadata: " + metadata)
        """
    }

    var text: String {
        let inbound = """
        - name: virtualInbound
          address: {socket_address: {address: 127.0.0.1, port_value: \(inboundPort)}}
          listener_filters:
          - name: envoy.filters.listener.tls_inspector
            typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector}
          filter_chains:
          - name: inbound-mtls
            filter_chain_match:
              transport_protocol: tls
              application_protocols: [istio-peer-exchange, istio]
            transport_socket:
              name: envoy.transport_sockets.tls
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext
                require_client_certificate: true
        \(indent(commonTLSContext(alpn: "h2, http/1.1", san: "{prefix: \"spiffe://cluster.local/\"}"), 8))
        \(indent(hcm("inbound", routes: ["{match: {prefix: /}, route: {cluster: app}}"]), 4))
        """
        let outbound = """
        - name: outbound
          address: {socket_address: {address: 127.0.0.1, port_value: \(outboundPort)}}
          filter_chains:
          - name: outbound-http
        \(indent(hcm("outbound", routes: ["{match: {prefix: /wrong-san}, route: {cluster: mtls-wrong-san}}",
                                          "{match: {prefix: /auto}, route: {cluster: auto-mtls}}",
                                          "{match: {prefix: /}, route: {cluster: mtls}}"]), 4))
        """
        let capture = """
        - name: virtualOutbound
          address: {socket_address: {address: 127.0.0.1, port_value: \(virtualOutboundPort)}}
          use_original_dst: true
          listener_filters:
          - name: envoy.filters.listener.proxy_protocol
            typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.listener.proxy_protocol.v3.ProxyProtocol}
          filter_chains:
          - name: PassthroughFilterChain
            filters:
            - name: envoy.filters.network.tcp_proxy
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
                stat_prefix: PassthroughCluster
                cluster: PassthroughCluster
        - name: 0.0.0.0_\(handOffPort)
          address: {socket_address: {address: 0.0.0.0, port_value: \(handOffPort)}}
          bind_to_port: false
          filter_chains:
          - name: handoff-http
        \(indent(hcm("handoff", routes: ["{match: {prefix: /}, route: {cluster: handoff}}"]), 4))
        """
        let clusters = [
            cluster("app", port: appPort),
            cluster("handoff", port: handOffUpstreamPort),
            cluster("mtls", port: inboundPort, extra: istioMutual(san: Self.identity)),
            cluster("mtls-wrong-san", port: inboundPort, extra: istioMutual(san: "spiffe://cluster.local/ns/default/sa/reviews")),
            cluster("auto-mtls", port: inboundPort, extra: """
            transport_socket_matches:
            - name: tlsMode-istio
              match: {tlsMode: istio}
            \(indent(istioMutual(san: Self.identity), 2))
            - name: tlsMode-disabled
              match: {}
              transport_socket:
                name: envoy.transport_sockets.raw_buffer
                typed_config: {"@type": type.googleapis.com/envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer}
            """, metadata: "{filter_metadata: {envoy.transport_socket_match: {tlsMode: istio}}}"),
            """
            - name: PassthroughCluster
              type: ORIGINAL_DST
              lb_policy: CLUSTER_PROVIDED
              connect_timeout: 2s
            """,
        ]
        return """
        node: {id: "sidecar~127.0.0.1~productpage-v1.default~default.svc.cluster.local", cluster: productpage.default}
        admin:
          address: {socket_address: {address: 127.0.0.1, port_value: \(adminPort)}}
        static_resources:
          listeners:
        \(indent([inbound, outbound, capture].joined(separator: "\n"), 2))
          clusters:
        \(indent(clusters.joined(separator: "\n"), 2))
        """
    }
}

extension MeshTLSBootstrap {
    /// A TLS client of the inbound listener with `identity` (none: no client certificate) trusting `roots`: the whole
    /// answer to one GET /direct, or the error that ended it.
    func inboundRequest(identity: TLSIdentity?, roots: [Certificate], alpn: [String] = ["istio-peer-exchange", "istio"]) throws -> String {
        var settings = TLSClientConfiguration(trusting: roots, identity: identity)
        settings.applicationProtocols = alpn
        let engine = try TLSEngine(client: try TLSClientContext(settings), serverName: nil, peerNames: [.spiffe(Self.identity)])
        let stream = BlockingTLSStream(fd: try LoopbackSocket.connect(port: inboundPort), engine: engine, receiveTimeout: 5)
        defer { stream.close() }
        try stream.handshake()
        try stream.write(Array("GET /direct HTTP/1.1\r\nhost: app\r\nconnection: close\r\n\r\n".utf8))
        var answer: [UInt8] = []
        while let bytes = try stream.read() { answer += bytes }
        return String(decoding: answer, as: UTF8.self)
    }

    /// One GET /captured through `virtualOutbound` with a PROXY v1 line naming `destination:port`: the whole answer.
    func viaCapture(_ destination: String, _ port: Int) throws -> String {
        let request = "PROXY TCP4 127.0.0.1 \(destination) 40000 \(port)\r\nGET /captured HTTP/1.1\r\nhost: svc\r\nconnection: close\r\n\r\n"
        return String(decoding: try TestClient.exchange(port: virtualOutboundPort, bytes: Array(request.utf8)), as: UTF8.self)
    }
}
