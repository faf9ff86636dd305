/// What a downstream connection tells the filters about itself: its addresses (after a PROXY protocol header, the
/// ones the header names), and its TLS session when the filter chain terminates TLS. The RBAC filter's principals,
/// the access log's `%DOWNSTREAM_PEER_URI_SAN%` and Istio's peer metadata read it.
struct DownstreamConnectionInfo: Sendable, Equatable {
    /// `ip:port` of the connection's own end (the original destination for a connection handed off by it).
    var localAddress: String
    /// `ip:port` of the client.
    var remoteAddress: String
    /// Set when the connection is TLS.
    var tls: TLS?
    /// Whether `localAddress` is the connection's original destination as Envoy counts it ("restored"): an
    /// `original_dst` listener filter or `use_original_dst` saw it, or a PROXY header named it. Only then does
    /// an ORIGINAL_DST cluster send the connection's requests there.
    var localAddressRestored = false

    struct TLS: Sendable, Equatable {
        /// The SNI the client asked for.
        var serverName: String?
        /// The ALPN protocol agreed.
        var applicationProtocol: String?
        /// The client certificate's URI SANs (`spiffe://cluster.local/ns/NS/sa/SA`); empty without a client certificate.
        var peerURISANs: [String]
    }

    init(localAddress: String, remoteAddress: String, tls: TLS? = nil) {
        self.localAddress = localAddress
        self.remoteAddress = remoteAddress
        self.tls = tls
    }

    /// The client's IP without the port.
    var remoteHost: String { Self.host(of: remoteAddress) }
    /// The connection's own IP without the port.
    var localHost: String { Self.host(of: localAddress) }

    /// Istio's principal for the peer: the first SPIFFE URI SAN without `spiffe://` (`cluster.local/ns/NS/sa/SA`).
    var peerPrincipal: String? {
        tls?.peerURISANs.first { $0.hasPrefix("spiffe://") }.map { String($0.dropFirst("spiffe://".count)) }
    }

    static func host(of address: String) -> String {
        var host = Substring(address[..<(address.lastIndex(of: ":") ?? address.endIndex)])
        if host.hasPrefix("["), host.hasSuffix("]") { host = host.dropFirst().dropLast() }
        return String(host)
    }
}
