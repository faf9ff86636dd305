import ConfigValues

/// ProxyConfig's `connectionSettings` as istiod resolves them for a proxy: the proxy's own ProxyConfig (the
/// `PROXY_CONFIG` the injector gives its istio-proxy container, else its `proxy.istio.io/config` annotation), else the
/// mesh's `defaultConfig`; with `profile: EDGE`, a gateway (router) gets Envoy's edge defaults for the fields left
/// unset. Applied so far to gateways: the listener's buffer limit (`per_connection_buffer_limit_bytes`; istiod does not
/// apply `clusterPerConnectionBufferLimitBytes` to clusters) and the connection manager's HTTP/2 options.
struct ConnectionSettings: Equatable {
    /// `listenerPerConnectionBufferLimitBytes` (32 KiB under the EDGE profile for a gateway).
    var listenerBufferLimit: Int?
    /// `httpMaxConcurrentStreams`, `http2InitialStreamWindowSize`, `http2InitialConnectionWindowSize` (EDGE: 100,
    /// 64 KiB, 1 MiB).
    var maxConcurrentStreams: Int?
    var streamWindow: Int?
    var connectionWindow: Int?

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
        maxConcurrentStreams = Self.int32(settings["httpMaxConcurrentStreams"]).flatMap { $0 >= 0 ? $0 : nil }
        streamWindow = Self.int32(settings["http2InitialStreamWindowSize"]).flatMap { $0 >= 0 ? $0 : nil }
        connectionWindow = Self.int32(settings["http2InitialConnectionWindowSize"]).flatMap { $0 >= 0 ? $0 : nil }
        if router, settings["profile"]?.string == "EDGE" {
            if settings["listenerPerConnectionBufferLimitBytes"] == nil { listenerBufferLimit = Self.edgeListenerBufferLimit }
            if settings["httpMaxConcurrentStreams"] == nil { maxConcurrentStreams = 100 }
            if settings["http2InitialStreamWindowSize"] == nil { streamWindow = 65_536 }
            if settings["http2InitialConnectionWindowSize"] == nil { connectionWindow = 1_048_576 }
        }
    }

    /// The connection manager's `http2_protocol_options` these settings give; nil when they set none.
    var http2ProtocolOptions: JSONValue? {
        var pairs: [(key: String, value: JSONValue)] = []
        if let maxConcurrentStreams { pairs.append(("max_concurrent_streams", .number(String(maxConcurrentStreams)))) }
        if let streamWindow { pairs.append(("initial_stream_window_size", .number(String(streamWindow)))) }
        if let connectionWindow { pairs.append(("initial_connection_window_size", .number(String(connectionWindow)))) }
        return pairs.isEmpty ? nil : .object(pairs)
    }

    /// An Int32Value in proto JSON: a number, a numeric string, or `{value: N}`.
    private static func int32(_ value: JSONValue?) -> Int? {
        guard let value else { return nil }
        if let wrapped = value["value"] { return int32(wrapped) }
        return value.int ?? value.string.flatMap { Int($0) }
    }
}
