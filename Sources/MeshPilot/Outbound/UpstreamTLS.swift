import ConfigValues

/// An outbound cluster's TLS: auto mTLS (`transport_socket_matches` on the endpoints' `tlsMode: istio` metadata),
/// or the DestinationRule's `tls` mode (DISABLE, SIMPLE, MUTUAL, ISTIO_MUTUAL).
enum UpstreamTLS {
    typealias J = EnvoyJSON
    static let meshALPN = ["istio-peer-exchange", "istio"]
    static let meshALPNHTTP2 = ["istio-peer-exchange", "istio", "h2"]
    static let tlsParams = J.object(["tls_minimum_protocol_version": .string("TLSv1_2"), "tls_maximum_protocol_version": .string("TLSv1_3")])

    static func apply(_ tls: JSONValue?, to cluster: inout JSONValue, service: MeshService, port: ServicePort, subset: String?,
                      serviceAccounts: [String], domain: String) {
        let host = service.hostname
        let sni = "outbound_.\(port.port)_.\(subset ?? "")_.\(host)"
        let sans = (tls?["subjectAltNames"]?.array ?? []).compactMap(\.string)
        switch tls?["mode"]?.string {
        case nil:
            // Auto mTLS: mesh endpoints (tlsMode istio) get Istio's mTLS, the rest plaintext. External services get none.
            if service.isExternal { return }
            cluster.set("transport_socket_matches", .array([
                J.object(["name": .string("tlsMode-istio"), "match": J.object(["tlsMode": .string("istio")]),
                          "transport_socket": istioMutual(sni: sni, sans: serviceAccounts, http2: port.proto.isHTTP2)]),
                J.object(["name": .string("tlsMode-disabled"), "match": J.object([:]),
                          "transport_socket": J.object(["name": .string("envoy.transport_sockets.raw_buffer"),
                                                        "typed_config": J.typed("envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer")])]),
            ]))
        case "ISTIO_MUTUAL"?:
            cluster.set("transport_socket", istioMutual(sni: tls?["sni"]?.string ?? sni, sans: sans.isEmpty ? serviceAccounts : sans, http2: port.proto.isHTTP2))
        case "SIMPLE"?, "MUTUAL"?:
            var common = J.object(["tls_params": tlsParams])
            if let protocols = tls?["alpn"]?.array?.compactMap(\.string) ?? (port.proto.isHTTP2 ? ["h2"] : nil) { common.set("alpn_protocols", J.strings(protocols)) }
            if tls?["mode"]?.string == "MUTUAL" {
                if let credential = tls?["credentialName"]?.string {
                    common.set("tls_certificate_sds_secret_configs", .array([J.sdsSecret("kubernetes://\(credential)")]))
                } else if let certificate = tls?["clientCertificate"]?.string, let key = tls?["privateKey"]?.string {
                    common.set("tls_certificates", .array([J.object(["certificate_chain": J.object(["filename": .string(certificate)]),
                                                                      "private_key": J.object(["filename": .string(key)])])]))
                }
            }
            var validation = J.object([:])
            if let ca = tls?["caCertificates"]?.string { validation.set("trusted_ca", J.object(["filename": .string(ca)])) }
            if !sans.isEmpty {
                validation.set("match_typed_subject_alt_names", .array(sans.map { J.object(["san_type": .string("DNS"), "matcher": J.object(["exact": .string($0)])]) }))
            }
            if tls?["insecureSkipVerify"]?.bool != true, validation.object?.isEmpty == false { common.set("validation_context", validation) }
            cluster.set("transport_socket", J.object(["name": .string("envoy.transport_sockets.tls"),
                                                      "typed_config": J.typed("envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext", [
                                                          "common_tls_context": common, "sni": .string(tls?["sni"]?.string ?? host),
                                                      ])]))
        default:
            return // DISABLE: plaintext
        }
    }

    /// Istio's mesh mTLS client context: SDS `default` and `ROOTCA`, Istio's ALPN, the destination's SPIFFE SANs.
    static func istioMutual(sni: String, sans: [String], http2: Bool) -> JSONValue {
        var validation = J.object([:])
        if !sans.isEmpty {
            validation.set("match_typed_subject_alt_names", .array(sans.map { J.object(["san_type": .string("URI"), "matcher": J.object(["exact": .string($0)])]) }))
        }
        return J.object(["name": .string("envoy.transport_sockets.tls"),
                         "typed_config": J.typed("envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext", [
                             "common_tls_context": J.object([
                                 "tls_params": tlsParams,
                                 "alpn_protocols": J.strings(http2 ? meshALPNHTTP2 : meshALPN),
                                 "tls_certificate_sds_secret_configs": .array([J.sdsSecret("default")]),
                                 "combined_validation_context": J.object([
                                     "default_validation_context": validation,
                                     "validation_context_sds_secret_config": J.sdsSecret("ROOTCA"),
                                 ]),
                             ]),
                             "sni": .string(sni),
                         ])])
    }
}
