/// Checks TLS credentials for analyzers that need to read certificates. Manifests reads no X.509 itself:
/// meshctl passes one built on OpenSSL; without one, those checks are skipped.
public protocol CredentialInspector: Sendable {
    /// Why a gateway could not serve this certificate and private key (PEM): unreadable, expired, not yet valid,
    /// or a key of another certificate. Nil when they are fine.
    func problem(certificatePEM: [UInt8], keyPEM: [UInt8]) -> String?
}
