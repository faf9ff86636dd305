/// A certificate authority for tests and the local mesh, in the shape of Istio's: a self-signed root named after its
/// trust domain, issuing short-lived workload certificates whose only name is a SPIFFE URI SAN.
public struct CertificateAuthority: Sendable {
    public let certificate: Certificate
    public let key: PrivateKey
    public let trustDomain: String
    /// The authorities between this one and the root, this one first (empty for a root); every certificate it issues
    /// carries them as its chain, as workloads under Istio's plug-in CA do.
    public let intermediates: [Certificate]

    /// A new P-256 root valid for `lifetimeSeconds` (ten years by default, as Istio's self-signed root).
    public init(trustDomain: String = "cluster.local", lifetimeSeconds: Int = 10 * 365 * 86_400) throws(CryptoError) {
        let key = try PrivateKey.generateP256()
        let request = CertificateRequest(commonName: "meshctl root CA", organization: trustDomain, isAuthority: true, lifetimeSeconds: lifetimeSeconds)
        self.init(certificate: try Certificate.issue(request, for: key), key: key, trustDomain: trustDomain)
    }

    /// An existing authority (such as the local control plane's); `intermediates` as the property says.
    public init(certificate: Certificate, key: PrivateKey, trustDomain: String, intermediates: [Certificate] = []) {
        self.certificate = certificate
        self.key = key
        self.trustDomain = trustDomain
        self.intermediates = intermediates
    }

    /// An intermediate authority under this one, in the same trust domain.
    public func issueIntermediate(lifetimeSeconds: Int = 365 * 86_400) throws(CryptoError) -> CertificateAuthority {
        let intermediateKey = try PrivateKey.generateP256()
        let request = CertificateRequest(commonName: "meshctl intermediate CA", organization: trustDomain, isAuthority: true, lifetimeSeconds: lifetimeSeconds)
        let intermediate = try Certificate.issue(request, for: intermediateKey, signedBy: (certificate, key))
        return CertificateAuthority(certificate: intermediate, key: intermediateKey, trustDomain: trustDomain, intermediates: [intermediate] + intermediates)
    }

    /// The SPIFFE identity of a service account in this trust domain.
    public func identity(namespace: String, serviceAccount: String) -> SPIFFEIdentity {
        SPIFFEIdentity(trustDomain: trustDomain, namespace: namespace, serviceAccount: serviceAccount)
    }

    /// A workload certificate for `namespace/serviceAccount`: empty subject, the SPIFFE URI as its (critical) SAN,
    /// usable for both TLS server and client authentication, valid for `lifetimeSeconds` (Istio's default is 24 h).
    public func issueWorkload(namespace: String, serviceAccount: String, lifetimeSeconds: Int = 86_400) throws(CryptoError) -> TLSIdentity {
        let uri = identity(namespace: namespace, serviceAccount: serviceAccount).uri
        return try issue(CertificateRequest(commonName: "", uris: [uri], lifetimeSeconds: lifetimeSeconds))
    }

    /// A server certificate for DNS names (`*.domain` allowed) and IP addresses.
    public func issueServer(dnsNames: [String], ipAddresses: [String] = [], lifetimeSeconds: Int = 86_400) throws(CryptoError) -> TLSIdentity {
        try issue(CertificateRequest(commonName: dnsNames.first ?? ipAddresses.first ?? "server", dnsNames: dnsNames,
                                     ipAddresses: ipAddresses, lifetimeSeconds: lifetimeSeconds))
    }

    /// A new key and a leaf certificate for it, chained to this authority (and its intermediates).
    public func issue(_ request: CertificateRequest) throws(CryptoError) -> TLSIdentity {
        let leafKey = try PrivateKey.generateP256()
        let leaf = try Certificate.issue(request, for: leafKey, signedBy: (certificate, key))
        return TLSIdentity(chain: [leaf] + intermediates, key: leafKey)
    }
}
