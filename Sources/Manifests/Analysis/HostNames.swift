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
