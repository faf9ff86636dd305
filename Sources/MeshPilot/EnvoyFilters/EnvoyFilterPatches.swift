import ConfigValues

/// Applies EnvoyFilter `configPatches` to a proxy's generated configuration, as istiod does.
public enum EnvoyFilterPatches {
    public static let storageKey = "envoyfilters.networking.istio.io"

    /// Applies every EnvoyFilter that selects the proxy (root namespace and the proxy's namespace, by
    /// `workloadSelector`), in priority order, to `resources`.
    public static func apply(_ snapshot: MeshSnapshot, to resources: inout ProxyResources, proxyLabels: [String: String], namespace: String, kind: ProxyNode.Kind) {
    }
}
