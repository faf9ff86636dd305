import MeshNet

/// `per_connection_buffer_limit_bytes` of a listener or a cluster: a soft limit on what the proxy keeps queued for
/// each of its connections. As in Envoy, a connection with more than `bytes` waiting to be written is backed up
/// (the other side of the relay is not read until it falls to half), and a listener's limit is also how much of an
/// HTTP/1.1 request body its streams keep for a retry or a shadow (past it neither happens, `retry_or_shadow_abandoned`)
/// or hold while no attempt takes the body. Unset, the proxy keeps its defaults (`WriteWatermarks.standard` per
/// connection, `ProxyStream.bufferLimit` per stream).
public struct ConnectionBufferLimit: Sendable, Equatable {
    public let bytes: Int

    public init(bytes: Int) {
        precondition(bytes > 0, "a buffer limit is at least one byte")
        self.bytes = bytes
    }

    /// Backed up above the limit, writable again below half of it (Envoy's low watermark is half its high one).
    public var watermarks: WriteWatermarks { WriteWatermarks(low: bytes / 2, high: bytes) }

    static let field = "per_connection_buffer_limit_bytes"

    /// The field of a listener or a cluster, or nil when it is not set. 0 (Envoy: no limit at all) is refused:
    /// meshctl's proxy always bounds what it queues.
    static func read(_ reader: ConfigReader) throws(ProxyConfigError) -> ConnectionBufferLimit? {
        guard let bytes = try reader.integer(field) else { return nil }
        guard bytes > 0 else {
            throw reader.error("0 (no limit) is not supported: give the most bytes to queue per connection, or leave it out",
                               at: reader.field(field), path: [.key(field)])
        }
        return ConnectionBufferLimit(bytes: bytes)
    }
}
