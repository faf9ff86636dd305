/// A connection and the stack of handlers on it (see `ChannelHandler`; TLS, when used, is the first: `TLSHandler`):
/// the socket's bytes go up through the handlers in order; writes come down through them in reverse and leave in
/// one `writev` per flush. The connection's callbacks hold the channel from `start` until the connection closes,
/// when the handlers are let go (references among them are strong: weak ones would slow every retain). All calls on
/// its loop.
public final class Channel {
    public let connection: TCPConnection
    private var contexts: [ChannelContext] = []
    /// The last context (the top of the stack), where writes start; nil once closed, like `contexts`.
    private var top: ChannelContext?
    private var keptAlive: Channel?

    /// A channel over `connection` with `handlers`, the one nearest the socket first.
    public init(connection: TCPConnection, handlers: [ChannelHandler]) {
        self.connection = connection
        contexts = handlers.enumerated().map { ChannelContext(channel: self, handler: $1, index: $0) }
        top = contexts.last
    }

    public var loop: EventLoop { connection.loop }

    package func context(at index: Int) -> ChannelContext? { contexts.indices.contains(index) ? contexts[index] : nil }

    /// Wires the connection's events to the stack, tells the handlers the channel is active, and starts reading.
    public func start() throws(NetworkError) {
        keptAlive = self
        // The first context is captured, not looked up per event: a captured reference needs no retain around the
        // call (reading it from the array took two retains and releases a read). The connection drops these
        // closures when it closes.
        if let first = contexts.first {
            connection.onData = { data in first.handler.channelRead(context: first, data: data) }
            connection.onWritabilityChanged = { isWritable in first.handler.channelWritabilityChanged(context: first, isWritable: isWritable) }
            connection.onPeerClosedWrite = { first.handler.channelPeerClosedWrite(context: first) }
        }
        connection.onClose = { [self] in
            if let first = contexts.first { first.handler.channelInactive(context: first) }
            contexts = []
            top = nil
            keptAlive = nil
        }
        if let first = contexts.first { first.handler.channelActive(context: first) }
        do { try connection.start() } catch {
            connection.close()
            throw error
        }
    }

    /// Writes `data` from the top of the stack down (every handler sees it), without flushing.
    public func write(_ data: ByteBuffer) {
        if let top { top.handler.write(context: top, data: data) } else { connection.enqueue(data) }
    }

    public func flush() {
        if let top { top.handler.flush(context: top) } else { connection.flush() }
    }

    public func writeAndFlush(_ data: ByteBuffer) {
        write(data)
        flush()
    }

    /// Whether the output queued is under the high watermark (see `WriteWatermarks`).
    public var isWritable: Bool { connection.isWritable }

    /// Stops reading (and so stops the peer, once the socket buffers fill) until `resumeReading`.
    public func pauseReading() { connection.pauseReading() }
    public func resumeReading() { connection.resumeReading() }

    public func close() { connection.close() }

    /// Closes once what is queued is written.
    public func closeWhenDrained() { connection.closeWhenDrained() }
}
