import ConfigValues

/// ProxyConfig's `connectionSettings` as istiod resolves them for a proxy: the proxy's own ProxyConfig (the
/// `PROXY_CONFIG` the injector gives its istio-proxy container, else its `proxy.istio.io/config` annotation), else the
/// mesh's `defaultConfig`; with `profile: EDGE`, a gateway (router) gets Envoy's edge defaults for the fields left
/// unset. Only the listener's buffer limit is applied so far: istiod sets it on a gateway's listeners as
/// `per_connection_buffer_limit_bytes` (istiod does not apply `clusterPerConnectionBufferLimitBytes` to clusters).
struct ConnectionSettings: Equatable {
    /// `listenerPerConnectionBufferLimitBytes` (32 KiB under the EDGE profile for a gateway).
    var listenerBufferLimit: Int?

    /// The edge profile's listener buffer limit, Envoy's edge best practice.
    static let edgeListenerBufferLimit = 32_768

    init(listenerBufferLimit: Int? = nil) {
        self.listenerBufferLimit = listenerBufferLimit
    }

    /// The settings of `workload`'s proxy (`router`: a gateway) under `meshConfig`.
    init(for workload: MeshWorkload, meshConfig: JSONValue, router: Bool) {
        let meshDefault = meshConfig["defaultConfig"]?["connectionSettings"]
        guard let settings = workload.proxyConfig?["connectionSettings"] ?? meshDefault, settings.object != nil else { return }
        // Negative values are dropped, as istiod drops them rather than cast them to huge unsigned ones; 0 (Envoy's
        // "no limit") is dropped too, as meshctl's proxy always bounds its buffers.
        listenerBufferLimit = Self.int32(settings["listenerPerConnectionBufferLimitBytes"]).flatMap { $0 > 0 ? $0 : nil }
        if router, settings["profile"]?.string == "EDGE" {
            if settings["listenerPerConnectionBufferLimitBytes"] == nil { listenerBufferLimit = Self.edgeListenerBufferLimit }
        }
    }

    /// An Int32Value in proto JSON: a number, a numeric string, or `{value: N}`.
    private static func int32(_ value: JSONValue?) -> Int? {
        guard let value else { return nil }
        if let wrapped = value["value"] { return int32(wrapped) }
        return value.int ?? value.string.flatMap { Int($0) }
    }
}
