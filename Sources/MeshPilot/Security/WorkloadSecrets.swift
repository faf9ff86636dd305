import ConfigValues
import Foundation
import MeshNet
import MeshTLS

/// The SDS secrets of each workload identity: `default` (a certificate for `spiffe://DOMAIN/ns/NS/sa/SA` and its key)
/// and `ROOTCA` (the authority's certificate). Certificates are cached per identity and issued again once a third
/// of their lifetime is left; the clock is injected so tests can move time.
public final class WorkloadSecrets: @unchecked Sendable {
    public let authority: CertificateAuthority
    public let lifetimeSeconds: Int
    private let now: @Sendable () -> Date
    private let lock = NSLock()
    private var cache: [String: (issued: Date, secret: JSONValue)] = [:]

    public init(authority: CertificateAuthority, lifetimeSeconds: Int = 86_400, now: @escaping @Sendable () -> Date = Date.init) {
        self.authority = authority
        self.lifetimeSeconds = lifetimeSeconds
        self.now = now
    }

    /// `default` and `ROOTCA` for one identity; empty when the authority cannot issue (the error is not output, to
    /// keep key material and its failures out of logs; the proxy then keeps its last secrets).
    public func secrets(namespace: String, serviceAccount: String) -> [JSONValue] {
        guard let certificate = workloadSecret(namespace: namespace, serviceAccount: serviceAccount), let root = rootSecret else { return [] }
        return [certificate, root]
    }

    /// How many times a certificate was issued (for tests and stats).
    public var issuedCount: Int { lock.lock(); defer { lock.unlock() }; return issued }
    private var issued = 0

    private func workloadSecret(namespace: String, serviceAccount: String) -> JSONValue? {
        let key = "\(namespace)/\(serviceAccount)"
        let time = now()
        lock.lock(); defer { lock.unlock() }
        if let cached = cache[key], time.timeIntervalSince(cached.issued) < Double(lifetimeSeconds) * 2 / 3 { return cached.secret }
        guard let identity = try? authority.issueWorkload(namespace: namespace, serviceAccount: serviceAccount, lifetimeSeconds: lifetimeSeconds),
              let chain = try? identity.chain.map({ String(decoding: try $0.pem(), as: UTF8.self) }).joined(),
              let privateKey = try? identity.key.pem() else { return nil }
        let secret = EnvoyJSON.object([
            "name": .string("default"),
            "tls_certificate": EnvoyJSON.object([
                "certificate_chain": EnvoyJSON.object(["inline_string": .string(chain)]),
                "private_key": EnvoyJSON.object(["inline_string": .string(String(decoding: privateKey, as: UTF8.self))]),
            ]),
        ])
        cache[key] = (time, secret)
        issued += 1
        return secret
    }

    private var rootSecret: JSONValue? {
        guard let pem = try? authority.certificate.pem() else { return nil }
        return EnvoyJSON.object([
            "name": .string("ROOTCA"),
            "validation_context": EnvoyJSON.object(["trusted_ca": EnvoyJSON.object(["inline_string": .string(String(decoding: pem, as: UTF8.self))])]),
        ])
    }
}
