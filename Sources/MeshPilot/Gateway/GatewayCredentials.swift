import ConfigValues

/// The SDS secrets of a gateway's TLS servers, from the Kubernetes Secrets their `credentialName`s name, as istiod
/// serves them to a gateway: `kubernetes://NAME` (certificate and key: a `kubernetes.io/tls` Secret's `tls.crt` and
/// `tls.key`, or a generic one's `cert` and `key`) and, for MUTUAL servers, `kubernetes://NAME-cacert` (the CA that
/// client certificates must chain to: `ca.crt` or `cacert` of the same Secret, else of the Secret `NAME-cacert`).
/// Secrets are looked up in the gateway pod's namespace only, as istiod does by default; one that is missing or
/// unreadable is left out (the listener then has no certificate, as with istiod).
struct GatewayCredentials {
    typealias J = EnvoyJSON
    let model: MeshModel
    let proxy: MeshWorkload

    static let prefix = "kubernetes://"

    /// The secrets for every credential the gateway's servers name.
    func secrets(for gateways: [IstioConfig]) -> [JSONValue] {
        var names: [String] = [], mutual = Set<String>()
        for gateway in gateways {
            for server in gateway.spec["servers"]?.array ?? [] {
                guard let tls = server["tls"], let credential = tls["credentialName"]?.string, !credential.isEmpty else { continue }
                if !names.contains(credential) { names.append(credential) }
                if tls["mode"]?.string == "MUTUAL" { mutual.insert(credential) }
            }
        }
        var out: [JSONValue] = []
        for name in names {
            guard let stored = secret(named: name) else { continue }
            if let chain = text(stored, "tls.crt", "cert"), let key = text(stored, "tls.key", "key") {
                out.append(J.object(["name": .string(Self.prefix + name), "tls_certificate": J.object([
                    "certificate_chain": J.object(["inline_string": .string(chain)]),
                    "private_key": J.object(["inline_string": .string(key)]),
                ])]))
            }
            if mutual.contains(name), let authority = text(stored, "ca.crt", "cacert") ?? secret(named: name + "-cacert").flatMap({ text($0, "ca.crt", "cacert") }) {
                out.append(J.object(["name": .string(Self.prefix + name + "-cacert"),
                                     "validation_context": J.object(["trusted_ca": J.object(["inline_string": .string(authority)])])]))
            }
        }
        return out
    }

    private func secret(named name: String) -> JSONValue? {
        model.snapshot.items("secrets").first {
            $0.value(atPath: "metadata.name")?.string == name && $0.value(atPath: "metadata.namespace")?.string == proxy.namespace
        }
    }

    /// The first of `keys` in the Secret's `data` (base64), as text.
    private func text(_ secret: JSONValue, _ keys: String...) -> String? {
        for key in keys {
            if let encoded = secret["data"]?[key]?.string, let bytes = Base64.decode(encoded), !bytes.isEmpty { return String(decoding: bytes, as: UTF8.self) }
        }
        return nil
    }
}
