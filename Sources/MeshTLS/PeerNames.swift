/// Names a peer certificate carries, and the checks that accept or refuse a peer by them.

/// The subject alternative names of a certificate, by type.
public struct SubjectAltNames: Sendable, Equatable {
    public var dnsNames: [String] = []
    public var uris: [String] = []
    public var ipAddresses: [String] = []

    public init(dnsNames: [String] = [], uris: [String] = [], ipAddresses: [String] = []) {
        self.dnsNames = dnsNames
        self.uris = uris
        self.ipAddresses = ipAddresses
    }
}

/// One accepted peer name, as Envoy's `match_typed_subject_alt_names` states them: a SAN type and a string match.
/// A peer passes a list of matchers when one of its SANs of the matcher's type matches one of them.
public struct SubjectAltNameMatcher: Sendable, Equatable, CustomStringConvertible {
    public enum NameType: String, Sendable { case dns = "DNS", uri = "URI", ipAddress = "IP" }
    public enum Match: Sendable, Equatable {
        case exact(String), prefix(String), suffix(String)
    }

    public var type: NameType
    public var match: Match

    public init(_ type: NameType, _ match: Match) {
        self.type = type
        self.match = match
    }

    /// One workload identity: `spiffe://cluster.local/ns/NS/sa/SA`.
    public static func spiffe(_ id: String) -> SubjectAltNameMatcher { SubjectAltNameMatcher(.uri, .exact(id)) }
    /// Every identity under a prefix, such as a trust domain: `spiffe://cluster.local/`.
    public static func spiffePrefix(_ prefix: String) -> SubjectAltNameMatcher { SubjectAltNameMatcher(.uri, .prefix(prefix)) }

    public func matches(_ names: SubjectAltNames) -> Bool {
        switch type {
        case .uri: return names.uris.contains { Self.test(match, $0, ignoringCase: false) }
        case .ipAddress: return names.ipAddresses.contains { Self.test(match, $0, ignoringCase: false) }
        case .dns: return names.dnsNames.contains { Self.test(match, $0, ignoringCase: true) || Self.wildcard($0, covers: match) }
        }
    }

    /// Whether any of `matchers` accepts `names`; an empty list accepts every peer.
    public static func accept(_ names: SubjectAltNames, by matchers: [SubjectAltNameMatcher]) -> Bool {
        matchers.isEmpty || matchers.contains { $0.matches(names) }
    }

    public var description: String {
        switch match {
        case .exact(let text): return "\(type.rawValue):\(text)"
        case .prefix(let text): return "\(type.rawValue):\(text)*"
        case .suffix(let text): return "\(type.rawValue):*\(text)"
        }
    }

    private static func test(_ match: Match, _ name: String, ignoringCase: Bool) -> Bool {
        let name = ignoringCase ? name.lowercased() : name
        switch match {
        case .exact(let text): return name == (ignoringCase ? text.lowercased() : text)
        case .prefix(let text): return name.hasPrefix(ignoringCase ? text.lowercased() : text)
        case .suffix(let text): return name.hasSuffix(ignoringCase ? text.lowercased() : text)
        }
    }

    /// A certificate's `*.example.com` covers an exact `a.example.com` (one label), as DNS SAN matching does.
    private static func wildcard(_ certificateName: String, covers match: Match) -> Bool {
        guard case .exact(let wanted) = match, certificateName.hasPrefix("*.") else { return false }
        return ServerNameMap<Bool>.wildcardCovers(String(certificateName.dropFirst(2)), wanted)
    }
}

/// A SPIFFE workload identity as Istio writes it: `spiffe://TRUST_DOMAIN/ns/NAMESPACE/sa/SERVICE_ACCOUNT`.
public struct SPIFFEIdentity: Sendable, Hashable, CustomStringConvertible {
    public var trustDomain: String
    public var namespace: String
    public var serviceAccount: String

    public init(trustDomain: String = "cluster.local", namespace: String, serviceAccount: String) {
        self.trustDomain = trustDomain
        self.namespace = namespace
        self.serviceAccount = serviceAccount
    }

    /// Reads an Istio-shaped SPIFFE URI; nil for anything else.
    public init?(uri: String) {
        guard uri.hasPrefix("spiffe://") else { return nil }
        let parts = uri.dropFirst("spiffe://".count).split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 5, parts[1] == "ns", parts[3] == "sa", !parts[0].isEmpty, !parts[2].isEmpty, !parts[4].isEmpty else { return nil }
        self.init(trustDomain: String(parts[0]), namespace: String(parts[2]), serviceAccount: String(parts[4]))
    }

    public var uri: String { "spiffe://\(trustDomain)/ns/\(namespace)/sa/\(serviceAccount)" }
    public var description: String { uri }
}
