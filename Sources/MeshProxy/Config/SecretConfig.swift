import ConfigValues
import Foundation
import MeshNet
import MeshTLS

/// An SDS secret's material (`envoy.extensions.transport_sockets.tls.v3.Secret`): a certificate chain and its key
/// (`tls_certificate`), or the authorities that vouch for peers (`validation_context.trusted_ca`). Read when the
/// configuration is; its bytes are never printed or logged. A secret whose files cannot be read is kept with the
/// reason, so the listeners that need it refuse their TLS connections instead of the whole proxy failing to start.
public final class TLSSecret: @unchecked Sendable {
    public let name: String
    public let identity: TLSIdentity?
    public let trustedAuthorities: [Certificate]
    /// Why the material is unusable (a key file that is missing or not PEM); nil when it is fine.
    public let problem: String?

    public init(name: String, identity: TLSIdentity? = nil, trustedAuthorities: [Certificate] = [], problem: String? = nil) {
        self.name = name
        self.identity = identity
        self.trustedAuthorities = trustedAuthorities
        self.problem = problem
    }

    /// A `Secret` resource: `name` with `tls_certificate` and/or `validation_context`.
    static func read(_ reader: ConfigReader) throws(ProxyConfigError) -> TLSSecret {
        let name = try reader.requiredString("name")
        let certificate = try reader.object("tls_certificate") { certificate throws(ProxyConfigError) in try readCertificate(certificate, name: name) }
        let validation = try reader.object("validation_context") { validation throws(ProxyConfigError) in try readValidation(validation, name: name) }
        return TLSSecret(name: name, identity: certificate?.identity, trustedAuthorities: validation?.trustedAuthorities ?? [],
                         problem: certificate?.problem ?? validation?.problem)
    }

    /// A `TlsCertificate`: `certificate_chain` and `private_key` data sources.
    static func readCertificate(_ reader: ConfigReader, name: String) throws(ProxyConfigError) -> TLSSecret {
        reader.ignore("password", "ocsp_staple", "signed_certificate_timestamp", "watched_directory")
        guard let chainSource = try reader.object("certificate_chain", { source throws(ProxyConfigError) in try DataSource.read(source) }),
              let keySource = try reader.object("private_key", { source throws(ProxyConfigError) in try DataSource.read(source) }) else {
            throw reader.error("needs a certificate_chain and a private_key")
        }
        do {
            let chain = try Certificate.chain(pem: try chainSource.bytes())
            let key = try PrivateKey(pem: try keySource.bytes())
            return TLSSecret(name: name, identity: TLSIdentity(chain: chain, key: key))
        } catch {
            return TLSSecret(name: name, problem: "secret \(name): \(error)")
        }
    }

    /// A `CertificateValidationContext` with `trusted_ca`.
    static func readValidation(_ reader: ConfigReader, name: String) throws(ProxyConfigError) -> TLSSecret {
        reader.ignore("match_typed_subject_alt_names", "match_subject_alt_names", "trust_chain_verification", "allow_expired_certificate")
        guard let source = try reader.object("trusted_ca", { source throws(ProxyConfigError) in try DataSource.read(source) }) else {
            throw reader.error("needs a trusted_ca", path: [.key("trusted_ca")])
        }
        do {
            return TLSSecret(name: name, trustedAuthorities: try Certificate.chain(pem: try source.bytes()))
        } catch {
            return TLSSecret(name: name, problem: "secret \(name): \(error)")
        }
    }
}

/// Envoy's `DataSource`: a file name, or the bytes inline (`inline_string`, base64 `inline_bytes`).
enum DataSource {
    case file(String)
    case inline([UInt8])

    static func read(_ reader: ConfigReader) throws(ProxyConfigError) -> DataSource {
        if let file = try reader.string("filename") { return .file(file) }
        if let text = try reader.string("inline_string") { return .inline(Array(text.utf8)) }
        if let encoded = try reader.string("inline_bytes") {
            guard let data = Data(base64Encoded: encoded, options: .ignoreUnknownCharacters) else {
                throw reader.error("is not base64", path: [.key("inline_bytes")])
            }
            return .inline(Array(data))
        }
        reader.ignore("environment_variable", "watched_directory")
        throw reader.error("needs one of filename, inline_string, inline_bytes")
    }

    func bytes() throws(SecretMaterialError) -> [UInt8] {
        switch self {
        case .inline(let bytes): return bytes
        case .file(let path):
            guard let data = FileManager.default.contents(atPath: path) else { throw SecretMaterialError(description: "cannot read \(path)") }
            return Array(data)
        }
    }
}

extension Certificate {
    /// Every certificate in PEM text, in order (a chain: leaf first).
    static func chain(pem: [UInt8]) throws -> [Certificate] {
        let marker = "-----BEGIN CERTIFICATE-----"
        let text = String(decoding: pem, as: UTF8.self)
        var certificates: [Certificate] = []
        for block in text.components(separatedBy: marker).dropFirst() {
            certificates.append(try Certificate(pem: Array((marker + block).utf8)))
        }
        guard !certificates.isEmpty else { throw SecretMaterialError(description: "holds no PEM certificate") }
        return certificates
    }
}

/// Why a secret's material could not be read.
struct SecretMaterialError: Error, CustomStringConvertible {
    let description: String
}

