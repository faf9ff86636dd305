/// The plain values OpenSSL.swift (the one file that calls OpenSSL) takes and gives back: what a certificate
/// says, what a new one should say, and why a TLS engine failed.

/// An X.509 certificate's identity and validity, as read by OpenSSL.
public struct X509Summary: Sendable, Equatable {
    /// The subject in one-line RFC 2253 form (`CN=example.com,O=Example`).
    public let subject: String
    public let issuer: String
    /// Validity window, in seconds since 1970-01-01 UTC.
    public let notBefore: Int64
    public let notAfter: Int64
}

/// What a new certificate says about its subject.
public struct CertificateRequest: Sendable {
    public var commonName: String
    public var organization: String?
    public var dnsNames: [String]
    public var ipAddresses: [String]
    /// URI SANs, such as a workload's SPIFFE identity `spiffe://cluster.local/ns/NS/sa/SA`.
    public var uris: [String]
    /// A certificate authority signs other certificates; a leaf serves TLS (server and client auth).
    public var isAuthority: Bool
    /// Validity from a minute ago (clocks differ a little) for this many seconds.
    public var lifetimeSeconds: Int

    /// An empty `commonName` leaves the subject without one (Istio's workload certificates name their subject only in
    /// the SANs, which are then marked critical).
    public init(commonName: String, organization: String? = nil, dnsNames: [String] = [], ipAddresses: [String] = [],
                uris: [String] = [], isAuthority: Bool = false, lifetimeSeconds: Int) {
        self.commonName = commonName
        self.uris = uris
        self.organization = organization
        self.dnsNames = dnsNames
        self.ipAddresses = ipAddresses
        self.isAuthority = isAuthority
        self.lifetimeSeconds = lifetimeSeconds
    }
}

/// Why a TLS engine failed: OpenSSL's reasons (ERR_error_string_n), the certificate verification result, and the
/// peer-name check that refused the peer, when those apply.
public struct TLSError: Error, CustomStringConvertible, Sendable, Equatable {
    /// `handshake`, `read` or `write`.
    public let operation: String
    public let reasons: [String]
    /// X509_verify_cert_error_string of the verification result, when verification failed.
    public let verifyResult: String?
    public let peerNameProblem: String?

    public var description: String {
        var text = "TLS \(operation) failed: " + (reasons.isEmpty ? "no reason given" : reasons.joined(separator: "; "))
        if let verifyResult { text += " (certificate verification: \(verifyResult))" }
        if let peerNameProblem { text += ": \(peerNameProblem)" }
        return text
    }
}
