import EnvoyConfig

/// `proxy-status`'s table, in istioctl's columns: a row per proxy, sorted by name.
public enum ProxyStatusTable {
    /// NAME CLUSTER ISTIOD VERSION SUBSCRIBED TYPES; with `verbose` a column per xDS type instead.
    public static func render(_ proxies: [ProxySyncStatus], verbose: Bool) -> String {
        var table = ColumnWriter(padding: 5)
        let sorted = proxies.sorted { $0.proxyID < $1.proxyID }
        if verbose {
            let names = ProxySyncStatus.types.map(\.name).sorted()
            table.append(["NAME", "CLUSTER"] + names + ["ISTIOD", "VERSION"])
            for proxy in sorted {
                table.append([proxy.proxyID, proxy.clusterID] + names.map { proxy.statuses[$0] ?? "IGNORED" } + [proxy.istiod, proxy.istioVersion])
            }
        } else {
            table.append(["NAME", "CLUSTER", "ISTIOD", "VERSION", "SUBSCRIBED TYPES"])
            for proxy in sorted {
                let subscribed = ProxySyncStatus.types.map(\.name).filter { proxy.statuses[$0] != nil }
                let summary = subscribed.isEmpty ? "0" : "\(subscribed.count) (\(subscribed.joined(separator: ",")))"
                table.append([proxy.proxyID, proxy.clusterID, proxy.istiod, proxy.istioVersion, summary])
            }
        }
        return table.render()
    }
}
