/// What is known of a connection when its filter chain is chosen: its addresses (after a PROXY header or a
/// hand-off, the original destination), and what the listener filters read from its first bytes.
struct ConnectionFacts: Equatable {
    var destinationIP: String
    var destinationPort: Int
    var sourceIP: String
    var sourcePort: Int
    /// `tls` when `tls_inspector` found a ClientHello, else `raw_buffer`.
    var transportProtocol = "raw_buffer"
    /// The SNI of the ClientHello.
    var serverName: String?
    /// ALPN offered in the ClientHello, or what `http_inspector` detected (`http/1.1`, `h2c`).
    var applicationProtocols: [String] = []

    init(destination: String, source: String) {
        destinationIP = DownstreamConnectionInfo.host(of: destination)
        destinationPort = Self.port(of: destination)
        sourceIP = DownstreamConnectionInfo.host(of: source)
        sourcePort = Self.port(of: source)
    }

    static func port(of address: String) -> Int {
        address.lastIndex(of: ":").flatMap { Int(address[address.index(after: $0)...]) } ?? 0
    }
}

/// Envoy's filter chain match: the criteria are tried in Envoy's order (destination port, destination IP, server
/// name, transport protocol, application protocols, source IP, source port); at each, the chains that name the
/// connection's value most specifically stay, else the chains that leave the criterion empty, else none. A
/// connection no chain matches gets the default chain, if any.
struct FilterChainSelector {
    let chains: [FilterChain]
    let defaultChain: FilterChain?

    init(_ listener: Listener) {
        chains = listener.filterChains
        defaultChain = listener.defaultFilterChain
    }

    init(chains: [FilterChain], defaultChain: FilterChain? = nil) {
        self.chains = chains
        self.defaultChain = defaultChain
    }

    func select(_ facts: ConnectionFacts) -> FilterChain? {
        // The common plain listener: one chain that matches everything.
        if chains.count == 1, chains[0].match == FilterChainMatch() { return chains[0] }
        var candidates = Array(chains.indices)
        // Each step scores a chain: nil = it names values and the connection's is not among them, 0 = the
        // criterion is empty, higher = more specific.
        let steps: [(FilterChainMatch) -> Int?] = [
            { $0.destinationPort == nil ? 0 : $0.destinationPort == facts.destinationPort ? 1 : nil },
            { Self.longestRange($0.prefixRanges, containing: facts.destinationIP) },
            { Self.serverNameScore($0.serverNames, facts.serverName) },
            { $0.transportProtocol == nil ? 0 : $0.transportProtocol == facts.transportProtocol ? 1 : nil },
            { Self.protocolScore($0.applicationProtocols, facts.applicationProtocols) },
            { Self.longestRange($0.sourcePrefixRanges, containing: facts.sourceIP) },
            { $0.sourcePorts.isEmpty ? 0 : $0.sourcePorts.contains(facts.sourcePort) ? 1 : nil },
        ]
        for score in steps {
            let scored = candidates.compactMap { index in score(chains[index].match).map { (index, $0) } }
            guard let best = scored.map(\.1).max() else { return defaultChain }
            candidates = scored.filter { $0.1 == best }.map(\.0)
        }
        return candidates.first.map { chains[$0] } ?? defaultChain
    }

    /// 0 for no ranges, 1 + the prefix length of the longest range holding `address`, nil when none does.
    static func longestRange(_ ranges: [CIDRRange], containing address: String) -> Int? {
        guard !ranges.isEmpty else { return 0 }
        return ranges.filter { $0.contains(address) }.map { $0.length + 1 }.max()
    }

    /// Exact names beat wildcards (`*.a.b`), and longer wildcards beat shorter ones.
    static func serverNameScore(_ names: [String], _ serverName: String?) -> Int? {
        guard !names.isEmpty else { return 0 }
        guard let serverName = serverName?.lowercased() else { return nil }
        var best: Int?
        for name in names.map({ $0.lowercased() }) {
            if name == serverName { return Int.max }
            if name.hasPrefix("*."), serverName.hasSuffix(name.dropFirst()) { best = max(best ?? 0, name.count) }
            // Envoy also accepts a wildcard written without the star: `.a.b`.
            else if name.hasPrefix("."), serverName.hasSuffix(name) { best = max(best ?? 0, name.count + 1) }
        }
        return best
    }

    /// A chain naming one of the connection's protocols wins; the earlier the protocol in the connection's list, the better.
    static func protocolScore(_ names: [String], _ offered: [String]) -> Int? {
        guard !names.isEmpty else { return 0 }
        guard let position = offered.firstIndex(where: names.contains) else { return nil }
        return offered.count - position + 1
    }
}
