import MeshHTTP2

/// An HTTP/2 codec's stats by Envoy 1.40's names, under `http2.` for clients' connections and `cluster.NAME.http2.`
/// for hosts'. Every one Envoy lists is declared (0 until counted); counted with Envoy's meaning:
/// - gauges `streams_active`, `pending_send_bytes` (DATA waiting for the peer's windows);
/// - `tx_flush_timeout` (clients: streams reset because their answer waited for the window past the stream idle
///   timeout); `rx_reset`, `tx_reset` (RST_STREAM frames received on a kept stream, and sent);
///   `stream_refused_errors`, `rx_messaging_error`, `trailers` (a client's request trailers); the three inbound flood
///   limits; `nghttp2_downstream_connections` / `nghttp2_upstream_connections` (connections, as Envoy 1.40's default
///   codec counts them); `dropped_headers_with_underscores`, `requests_rejected_with_underscores_in_headers`.
/// Kept at 0: what the proxy does not have (keepalive PINGs, METADATA, the histograms'
/// counterparts, outbound frame queues, deferred stream close, oghttp2), and `goaway_sent`: Envoy counts only the
/// final GOAWAY of its two-phase drain (not the idle timeout's, checked), and meshctl's drain has one phase.
final class HTTP2CodecStats {
    let streamsActive, pendingSendBytes, txFlushTimeout: ProxyStats.Slot
    private let rxReset, txReset, streamRefused, messagingErrors, trailers: ProxyStats.Slot
    private let emptyFramesFlood, priorityFramesFlood, windowUpdateFramesFlood: ProxyStats.Slot
    let connections: ProxyStats.Slot
    /// `headers_with_underscores_action` on clients' request heads.
    let droppedUnderscoreHeaders, rejectedUnderscoreRequests: ProxyStats.Slot

    static let counters = ["cookies_total_bytes_too_large", "dropped_headers_with_underscores", "goaway_sent", "header_list_size_too_large",
                           "header_overflow", "headers_cb_no_stream", "inbound_empty_frames_flood", "inbound_priority_frames_flood",
                           "inbound_window_update_frames_flood", "keepalive_timeout", "metadata_empty_frames", "nghttp2_downstream_connections",
                           "nghttp2_upstream_connections", "oghttp2_downstream_connections", "oghttp2_upstream_connections",
                           "outbound_control_flood", "outbound_flood", "requests_rejected_with_underscores_in_headers", "rx_messaging_error",
                           "rx_reset", "stream_refused_errors", "trailers", "tx_flush_timeout", "tx_reset"]
    static let gauges = ["deferred_stream_close", "outbound_control_frames_active", "outbound_frames_active", "pending_send_bytes", "streams_active"]

    /// `downstream`: a connection manager's clients (else a cluster's hosts).
    init(prefix: String, stats: ProxyStats, downstream: Bool) {
        for name in Self.counters { stats.slot(prefix + name).declare() }
        for name in Self.gauges { stats.slot(prefix + name, .gauge).declare() }
        streamsActive = stats.slot(prefix + "streams_active", .gauge)
        pendingSendBytes = stats.slot(prefix + "pending_send_bytes", .gauge)
        txFlushTimeout = stats.slot(prefix + "tx_flush_timeout")
        rxReset = stats.slot(prefix + "rx_reset")
        txReset = stats.slot(prefix + "tx_reset")
        streamRefused = stats.slot(prefix + "stream_refused_errors")
        messagingErrors = stats.slot(prefix + "rx_messaging_error")
        trailers = stats.slot(prefix + "trailers")
        emptyFramesFlood = stats.slot(prefix + "inbound_empty_frames_flood")
        priorityFramesFlood = stats.slot(prefix + "inbound_priority_frames_flood")
        windowUpdateFramesFlood = stats.slot(prefix + "inbound_window_update_frames_flood")
        droppedUnderscoreHeaders = stats.slot(prefix + "dropped_headers_with_underscores")
        rejectedUnderscoreRequests = stats.slot(prefix + "requests_rejected_with_underscores_in_headers")
        connections = stats.slot(prefix + (downstream ? "nghttp2_downstream_connections" : "nghttp2_upstream_connections"))
    }

    /// Adds what a codec counted since `reported`, and remembers it there.
    func report(_ counters: HTTP2ConnectionCounters, since reported: inout HTTP2ConnectionCounters) {
        guard counters != reported else { return }
        func add(_ slot: ProxyStats.Slot, _ path: KeyPath<HTTP2ConnectionCounters, Int>) {
            let change = counters[keyPath: path] - reported[keyPath: path]
            if change > 0 { slot.increment(by: change) }
        }
        add(rxReset, \.resetsReceived)
        add(txReset, \.resetsSent)
        add(streamRefused, \.refusedStreams)
        add(messagingErrors, \.messagingErrors)
        add(trailers, \.trailersReceived)
        add(emptyFramesFlood, \.emptyFramesFloods)
        add(priorityFramesFlood, \.priorityFramesFloods)
        add(windowUpdateFramesFlood, \.windowUpdateFramesFloods)
        reported = counters
    }
}
