import ConfigValues

/// What istiod knows of one connected proxy: its identity and, per xDS type it subscribed to, whether the last
/// configuration sent was acknowledged (SYNCED), not yet (STALE), never sent (NOT SENT), or refused (ERROR).
public struct ProxySyncStatus: Sendable, Equatable {
    /// The xDS types istioctl shows, in its order, with their type URLs.
    public static let types: [(name: String, url: String)] = [
        ("CDS", "type.googleapis.com/envoy.config.cluster.v3.Cluster"), ("LDS", "type.googleapis.com/envoy.config.listener.v3.Listener"),
        ("EDS", "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"),
        ("RDS", "type.googleapis.com/envoy.config.route.v3.RouteConfiguration"),
        ("ECDS", "type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig"),
    ]

    public var proxyID: String
    public var clusterID: String
    public var istioVersion: String
    /// The istiod pod the proxy is connected to.
    public var istiod: String
    /// xDS type name (CDS, LDS, ...) → SYNCED, STALE, NOT SENT, ERROR; types the proxy did not subscribe to are absent.
    public var statuses: [String: String]
    /// The proxy's namespace: its node metadata's NAMESPACE, else the part after the pod name in its id.
    public var namespace: String

    public init(proxyID: String, clusterID: String, istioVersion: String, istiod: String, statuses: [String: String], namespace: String? = nil) {
        (self.proxyID, self.clusterID, self.istioVersion, self.istiod, self.statuses) = (proxyID, clusterID, istioVersion, istiod, statuses)
        self.namespace = namespace ?? Self.namespace(ofProxyID: proxyID)
    }

    /// `pod.ns` → `ns`; `sidecar~10.0.0.1~pod.ns~ns.svc.cluster.local` → `ns`; "" when the id does not say.
    public static func namespace(ofProxyID id: String) -> String {
        let parts = id.split(separator: "~", omittingEmptySubsequences: false)
        let name = parts.count >= 3 ? parts[2] : parts[0]
        guard let dot = name.firstIndex(of: ".") else { return "" }
        return String(name[name.index(after: dot)...])
    }

    /// Reads istiod's answer: a CSDS DiscoveryResponse (`resources` of ClientConfig, as the xDS debug type sends it)
    /// or the `/debug/syncz` list (`proxy`, `cluster_sent`, `cluster_acked`, ...).
    public static func read(_ text: String, istiod: String) throws(EnvoyDataError) -> [ProxySyncStatus] {
        let root: JSONValue
        do { root = try JSONValue.parse(text) } catch {
            throw EnvoyDataError("istiod \(istiod): \(error.line):\(error.column): not a sync status answer: \(error.message)")
        }
        if let list = root.array { return list.map { fromSyncz($0, istiod: istiod) } }
        guard root.object != nil else { throw EnvoyDataError("istiod \(istiod): not a sync status answer (a JSON list or object)") }
        return root.items("resources").map { fromClientConfig($0, istiod: istiod) }
    }

    static func fromClientConfig(_ config: JSONValue, istiod: String) -> ProxySyncStatus {
        let node = config.field("node")
        var statuses: [String: String] = [:]
        for xds in config.items("generic_xds_configs") {
            guard let type = types.first(where: { $0.url == xds.text("type_url") }) else { continue }
            let status = xds.field("config_status")?.string ?? "UNKNOWN"
            if status != "UNKNOWN" { statuses[type.name] = status.replacingUnderscores }
        }
        return ProxySyncStatus(proxyID: node?.text("id") ?? "", clusterID: node?.field("metadata")?["CLUSTER_ID"]?.string ?? "",
                               istioVersion: node?.field("metadata")?["ISTIO_VERSION"]?.string ?? "", istiod: istiod, statuses: statuses,
                               namespace: node?.field("metadata")?["NAMESPACE"]?.string)
    }

    static func fromSyncz(_ entry: JSONValue, istiod: String) -> ProxySyncStatus {
        var statuses: [String: String] = [:]
        for (name, key) in [("CDS", "cluster"), ("LDS", "listener"), ("EDS", "endpoint"), ("RDS", "route"), ("ECDS", "extensionconfig")] {
            let sent = entry.text("\(key)_sent"), acked = entry.text("\(key)_acked")
            // A type the proxy never asked for has neither nonce.
            guard !sent.isEmpty || !acked.isEmpty else { continue }
            statuses[name] = sent.isEmpty ? "NOT SENT" : sent == acked ? "SYNCED" : "STALE"
        }
        return ProxySyncStatus(proxyID: entry.text("proxy"), clusterID: entry.text("cluster_id"), istioVersion: entry.text("istio_version"),
                               istiod: istiod, statuses: statuses)
    }
}

/// istiod's sync status answer in the shape istioctl's `proxy-status -o json|yaml` prints: a CSDS DiscoveryResponse
/// (`resources`: one `ClientConfig` per proxy with its node and a `genericXdsConfigs` entry per subscribed type).
public enum CSDSResponse {
    public static let clientConfigType = "type.googleapis.com/envoy.service.status.v3.ClientConfig"

    /// The answer itself when istiod sent a DiscoveryResponse; a `/debug/syncz` list becomes one, each proxy's
    /// node carrying the CLUSTER_ID, ISTIO_VERSION and NAMESPACE istiod reported, each type its configStatus.
    public static func response(fromAnswer text: String, istiod: String) throws(EnvoyDataError) -> JSONValue {
        let root: JSONValue
        do { root = try JSONValue.parse(text) } catch {
            throw EnvoyDataError("istiod \(istiod): \(error.line):\(error.column): not a sync status answer: \(error.message)")
        }
        if root.object != nil { return root }
        guard root.array != nil else { throw EnvoyDataError("istiod \(istiod): not a sync status answer (a JSON list or object)") }
        let proxies = try ProxySyncStatus.read(text, istiod: istiod)
        return .object([
            ("resources", .array(proxies.map(clientConfig))),
            ("typeUrl", .string(clientConfigType)),
            ("controlPlane", .object([("identifier", .string(#"{"Component":"istiod","ID":"\#(istiod)"}"#))])),
        ])
    }

    /// One proxy's ClientConfig, types in istioctl's order (CDS, LDS, RDS, EDS, ECDS).
    static func clientConfig(_ proxy: ProxySyncStatus) -> JSONValue {
        var metadata: [(key: String, value: JSONValue)] = [("CLUSTER_ID", .string(proxy.clusterID)), ("ISTIO_VERSION", .string(proxy.istioVersion))]
        if !proxy.namespace.isEmpty { metadata.append(("NAMESPACE", .string(proxy.namespace))) }
        let configs: [JSONValue] = ["CDS", "LDS", "RDS", "EDS", "ECDS"].compactMap { name in
            guard let status = proxy.statuses[name], let url = ProxySyncStatus.types.first(where: { $0.name == name })?.url else { return nil }
            return .object([("typeUrl", .string(url)), ("configStatus", .string(String(status.map { $0 == " " ? "_" : $0 })))])
        }
        return .object([("@type", .string(clientConfigType)), ("node", .object([("id", .string(proxy.proxyID)), ("metadata", .object(metadata))])),
                        ("genericXdsConfigs", .array(configs))])
    }

    /// The response with only the ClientConfigs of proxies whose node metadata NAMESPACE is `namespace`.
    public static func filtered(_ response: JSONValue, namespace: String) -> JSONValue {
        guard let resources = response.field("resources")?.array else { return response }
        var response = response
        let kept = resources.filter { $0.field("node")?.field("metadata")?["NAMESPACE"]?.string == namespace }
        response["resources"] = .array(kept)
        return response
    }
}

extension String {
    /// `NOT_SENT` → `NOT SENT`.
    var replacingUnderscores: String { String(map { $0 == "_" ? " " : $0 }) }
}

/// A remote cluster an istiod reads (its `/debug/clusterz` entries): id, the secret it came from, its sync status.
public struct RemoteClusterStatus: Sendable, Equatable {
    public var id: String
    public var secretName: String
    public var syncStatus: String

    public init(id: String, secretName: String, syncStatus: String) {
        (self.id, self.secretName, self.syncStatus) = (id, secretName, syncStatus)
    }

    /// Reads one istiod's `/debug/clusterz` answer (a JSON list of `{id, secretName, syncStatus}`).
    public static func read(_ text: String, istiod: String) throws(EnvoyDataError) -> [RemoteClusterStatus] {
        let root: JSONValue
        do { root = try JSONValue.parse(text) } catch {
            throw EnvoyDataError("istiod \(istiod): \(error.line):\(error.column): not a /debug/clusterz answer: \(error.message)")
        }
        guard let list = root.array else { throw EnvoyDataError("istiod \(istiod): not a /debug/clusterz answer (a JSON list)") }
        return list.map { RemoteClusterStatus(id: $0.text("id"), secretName: $0.text("secretName"), syncStatus: $0.text("syncStatus")) }
    }
}
