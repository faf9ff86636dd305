/// Service host names as Istio resolves them in configuration.
enum HostNames {
    static let clusterDomain = "cluster.local"

    /// A short name (`reviews`) becomes `reviews.<namespace>.svc.cluster.local`; names with a dot or a
    /// wildcard stay as written.
    static func qualified(_ host: String, in namespace: String) -> String {
        if host.hasPrefix("*") || host.contains(".") || namespace.isEmpty { return host }
        return "\(host).\(namespace).svc.\(clusterDomain)"
    }

    /// Whether two host names, either of which may start with `*`, can name the same host.
    static func overlap(_ a: String, _ b: String) -> Bool {
        if a == b || a == "*" || b == "*" { return true }
        switch (a.hasPrefix("*"), b.hasPrefix("*")) {
        case (true, true):
            let suffixA = a.dropFirst(), suffixB = b.dropFirst()
            return suffixA.hasSuffix(suffixB) || suffixB.hasSuffix(suffixA)
        case (true, false):
            return b.hasSuffix(a.dropFirst())
        case (false, true):
            return a.hasSuffix(b.dropFirst())
        case (false, false):
            return false
        }
    }
}

/// Things keyed by host name, for lookups that would otherwise scan them all: exact hosts in a
/// dictionary, wildcard hosts (rare) in a list.
struct HostIndex<Item> {
    private var exact: [String: [Item]] = [:]
    private var wildcards: [(host: String, item: Item)] = []

    init(_ pairs: [(host: String, item: Item)]) {
        for (host, item) in pairs {
            if host.hasPrefix("*") { wildcards.append((host, item)) } else { exact[host, default: []].append(item) }
        }
    }

    /// The items with a host equal to `host`, or a wildcard host that covers it.
    func items(for host: String) -> [Item] {
        (exact[host] ?? []) + wildcards.filter { HostNames.overlap($0.host, host) }.map(\.item)
    }
}

extension HostIndex where Item == AnalyzedResource {
    /// ServiceEntries by the hosts they declare.
    init(serviceEntries: [AnalyzedResource]) {
        self.init(serviceEntries.flatMap { entry in
            (entry.spec?["hosts"]?.items ?? []).compactMap(\.scalarText).map { (host: $0, item: entry) }
        })
    }
}
