/// What TLS contexts are made of, in plain Swift; OpenSSL.swift turns it into OpenSSL settings.

/// A TLS protocol version meshctl speaks.
public enum TLSVersion: Int, Sendable, Comparable, CaseIterable {
    case v1_2 = 0x0303
    case v1_3 = 0x0304

    public static func < (lhs: TLSVersion, rhs: TLSVersion) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// ALPN protocol names (RFC 7301), most preferred first.
public enum ApplicationProtocols {
    /// What a mesh sidecar's inbound listener offers, in Istio's order: metadata exchange first, then the mesh's
    /// own marker, then HTTP/2 and HTTP/1.1.
    public static let mesh = ["istio-peer-exchange", "istio", "h2", "http/1.1"]
    public static let http1 = ["http/1.1"]

    /// The wire form: each name prefixed by its length. Nil when a name is empty or longer than 255 bytes.
    public static func wireFormat(_ names: [String]) -> [UInt8]? {
        var wire: [UInt8] = []
        for name in names {
            let bytes = Array(name.utf8)
            guard (1...255).contains(bytes.count) else { return nil }
            wire.append(UInt8(bytes.count))
            wire += bytes
        }
        return wire
    }

    /// The server's choice: the first of `preference` that the client `offered` (wire format), as a range of
    /// `offered` (so OpenSSL can point into the client's own bytes). Nil when they share none or `offered` is malformed.
    public static func select(preference: [[UInt8]], offered: UnsafeBufferPointer<UInt8>) -> Range<Int>? {
        var names: [Range<Int>] = []
        var index = 0
        while index < offered.count {
            let length = Int(offered[index])
            guard length > 0, index + 1 + length <= offered.count else { return nil }
            names.append((index + 1)..<(index + 1 + length))
            index += 1 + length
        }
        for wanted in preference {
            if let match = names.first(where: { $0.count == wanted.count && zip(offered[$0], wanted).allSatisfy { $0 == $1 } }) {
                return match
            }
        }
        return nil
    }
}

/// A certificate chain (leaf first, then intermediates) and the leaf's private key.
public struct TLSIdentity: Sendable {
    public var chain: [Certificate]
    public var key: PrivateKey

    public init(chain: [Certificate], key: PrivateKey) {
        self.chain = chain
        self.key = key
    }
}

/// A TLS server's settings (see `TLSServerContext`).
public struct TLSServerConfiguration: Sendable {
    /// The certificate for each server name a client may ask for (`*.domain` wildcards too), and the default one.
    public var identities: ServerNameMap<TLSIdentity>
    /// ALPN names, the server's most preferred first; it picks the first of these the client offers.
    public var applicationProtocols: [String] = ApplicationProtocols.http1
    public var versions: ClosedRange<TLSVersion> = .v1_2 ... .v1_3
    /// Authorities that issue client certificates; when given, a client must present a certificate they issued (mTLS).
    public var trustedClientAuthorities: [Certificate] = []
    /// SANs a client certificate must match one of (empty: any the authorities issued).
    public var clientNames: [SubjectAltNameMatcher] = []
    /// With `trustedClientAuthorities`: whether a client without a certificate is refused (true), or only a client
    /// whose certificate fails the checks (false: the certificate is asked for, as Envoy does without
    /// `require_client_certificate`).
    public var requiresClientCertificate = true
    /// Stateless tickets for resumption (TLS 1.2 and 1.3); without them sessions resume from the server's cache by id.
    public var sessionTickets = true

    public init(identity: TLSIdentity) { identities = ServerNameMap(default: identity) }

    public init(identities: ServerNameMap<TLSIdentity>) { self.identities = identities }
}

/// A TLS client's settings (see `TLSClientContext`).
public struct TLSClientConfiguration: Sendable {
    /// The authorities whose certificates servers may present.
    public var trustedAuthorities: [Certificate]
    /// The client certificate for mTLS.
    public var identity: TLSIdentity?
    /// ALPN names offered, most preferred first (empty: no ALPN).
    public var applicationProtocols: [String] = ApplicationProtocols.http1
    public var versions: ClosedRange<TLSVersion> = .v1_2 ... .v1_3
    /// Whether the server's certificate is checked against `trustedAuthorities` (Envoy skips the check when an
    /// upstream TLS context has no validation context).
    public var verifiesServer = true
    /// Keep each server's latest session and offer it on the next connection with the same name.
    public var resumesSessions = true

    public init(trusting authorities: [Certificate], identity: TLSIdentity? = nil) {
        trustedAuthorities = authorities
        self.identity = identity
    }
}
