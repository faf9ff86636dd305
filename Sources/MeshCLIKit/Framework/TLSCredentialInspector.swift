import Foundation
import Manifests
import MeshControlPlane
import MeshNet
import MeshTLS

/// The analyzers' certificate checks, done with OpenSSL: the certificate must be readable and valid now, and the
/// private key readable.
public struct TLSCredentialInspector: CredentialInspector {
    /// Seconds since 1970 UTC; tests fix it.
    let now: @Sendable () -> Int64

    public init(now: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970) }) {
        self.now = now
    }

    public func problem(certificatePEM: [UInt8], keyPEM: [UInt8]) -> String? {
        let certificate: X509Summary
        do {
            certificate = try Certificate(pem: certificatePEM).summary()
        } catch {
            return "the certificate cannot be read (\(error.description))"
        }
        let subject = certificate.subject.isEmpty ? "" : " (subject \(certificate.subject))"
        let time = now()
        if time > certificate.notAfter { return "the certificate\(subject) expired on \(Self.text(certificate.notAfter))" }
        if time < certificate.notBefore { return "the certificate\(subject) is not valid before \(Self.text(certificate.notBefore))" }
        // Istio does not compare the key with the certificate here (its own "no errors" case pairs a certificate
        // with another key), so a readable key is enough.
        do {
            _ = try PrivateKey(pem: keyPEM)
        } catch {
            return "the private key cannot be read (\(error.description))"
        }
        return nil
    }

    static func text(_ seconds: Int64) -> String {
        Timestamps.format(Date(timeIntervalSince1970: TimeInterval(seconds)))
    }
}
