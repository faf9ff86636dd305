import ConfigValues

/// An Envoy cluster (`envoy.config.cluster.v3.Cluster`); all of its fields stay in `json`.
public struct Cluster: Sendable {
    public let json: JSONValue

    public init(json: JSONValue) { self.json = json }

    public var name: String { json.text("name") }

    /// `STATIC`, `EDS`, `STRICT_DNS`, `ORIGINAL_DST`...; a cluster with a `cluster_type` extension shows its name;
    /// proto3 JSON leaves the default (STATIC) out.
    public var discoveryType: String {
        if let type = json.field("type")?.string { return type }
        if let custom = json.field("cluster_type") { return custom.text("name") }
        return "STATIC"
    }

    /// The Istio resource that produced it (`metadata.filter_metadata.istio.config`), as `name.namespace`.
    public var managedBy: String { IstioConfigPath.describe(json.field("metadata")) }

    /// Istio's parts of the name, when it is `direction|port|subset|host`.
    public var subsetKey: SubsetKey? { SubsetKey(name) }
}

/// Istio's cluster names: `outbound|9080|v1|reviews.default.svc.cluster.local`.
public struct SubsetKey: Sendable, Equatable {
    public var direction: String
    public var port: Int
    public var subset: String
    public var host: String

    /// Nil unless the name has at least four `|`-separated parts.
    public init?(_ name: String) {
        let parts = name.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
        guard parts.count > 3 else { return nil }
        direction = parts[0]
        port = Int(parts[1]) ?? 0
        subset = parts[2]
        host = parts[3]
    }

    /// The order istioctl lists clusters in: by host, subset, port, then direction; other names sort by their name.
    public static func sortKey(_ name: String) -> (String, String, Int, String) {
        guard let key = SubsetKey(name) else { return (name, "", 0, "") }
        return (key.host, key.subset, key.port, key.direction)
    }

    public static func areInOrder(_ a: String, _ b: String) -> Bool {
        let x = sortKey(a), y = sortKey(b)
        if x.0 != y.0 { return x.0 < y.0 }
        if x.1 != y.1 { return x.1 < y.1 }
        if x.2 != y.2 { return x.2 < y.2 }
        return x.3 < y.3
    }
}

/// The Istio object named in `metadata.filter_metadata.istio.config`
/// (`/apis/networking.istio.io/v1alpha3/namespaces/default/virtual-service/reviews`).
public enum IstioConfigPath {
    /// `reviews.default`; "<unknown>" for a path outside networking.istio.io; "" when there is none.
    public static func describe(_ metadata: JSONValue?) -> String {
        guard let path = metadata?.field("filter_metadata")?["istio"]?["config"]?.string else { return "" }
        guard path.hasPrefix("/apis/networking.istio.io/") else { return "<unknown>" }
        let pieces = path.split(separator: "/", omittingEmptySubsequences: false)
        guard pieces.count == 8 else { return "" }
        return "\(pieces[7]).\(pieces[5])"
    }
}
