/// What this side announces in its SETTINGS and enforces on the peer (RFC 9113 section 6.5.2), plus the connection
/// receive window it opens with a WINDOW_UPDATE right after.
public struct HTTP2LocalSettings: Sendable {
    public var headerTableSize = 4096
    public var maxConcurrentStreams = 100
    /// Each stream's receive window.
    public var initialWindowSize = 65_535
    public var maxFrameSize = 16_384
    public var maxHeaderListSize = 64 * 1024
    /// The connection's receive window (65,535 until this side widens it).
    public var connectionWindowSize = 65_535
    /// true: windows reopen as DATA arrives. false: only as the application calls `dataConsumed`, so a slow
    /// reader slows the peer (a proxy's backpressure).
    public var reopensWindowsOnReceipt = true
    /// The peer's frames that cost work and carry nothing, bounded (Envoy's defaults).
    public var floodLimits = HTTP2FloodLimits()

    public init() {}

    func frame(role: HTTP2Connection.Role) -> [HTTP2Setting] {
        var settings = [
            HTTP2Setting(.headerTableSize, UInt32(headerTableSize)),
            HTTP2Setting(.maxConcurrentStreams, UInt32(maxConcurrentStreams)),
            HTTP2Setting(.initialWindowSize, UInt32(initialWindowSize)),
            HTTP2Setting(.maxFrameSize, UInt32(maxFrameSize)),
            HTTP2Setting(.maxHeaderListSize, UInt32(maxHeaderListSize)),
        ]
        // This side never accepts pushed streams.
        if role == .client { settings.insert(HTTP2Setting(.enablePush, 0), at: 0) }
        return settings
    }
}

/// What the peer announced; RFC 9113's defaults until its SETTINGS arrive.
struct HTTP2PeerSettings {
    var headerTableSize = 4096
    var enablePush = true
    var maxConcurrentStreams = Int(UInt32.max)
    var initialWindowSize = 65_535
    var maxFrameSize = 16_384
    var maxHeaderListSize = Int(UInt32.max)
}

/// The largest flow-control window RFC 9113 allows.
let maximumWindowSize = 0x7fff_ffff
