/// One layer of a connection's stack (TLS, an HTTP/1 codec, a proxy's forwarding end). Inbound events travel from
/// the socket up the stack, first handler first; outbound writes travel down, last handler first, and reach the
/// socket below the first. A handler passes on what it does not consume through its context; the default of every
/// method does exactly that, so a handler implements only what it changes. All calls on the channel's loop.
///
/// Layers exchange bytes (`ByteBuffer`) both ways, not arbitrary values as swift-nio's pipeline does: every layer
/// under the application is a byte transform (TLS records, HTTP/2 frames become bytes again for the stream's own
/// stack), and the top handler turns bytes into typed messages itself. That keeps a message free of a box and a
/// cast per layer, and a stack readable as a list of transforms.
public protocol ChannelHandler: AnyObject {
    /// The connection is ready (the channel started).
    func channelActive(context: ChannelContext)
    /// Bytes arrived from below.
    func channelRead(context: ChannelContext, data: ByteBuffer)
    /// The channel's queued output crossed a watermark (see `WriteWatermarks`).
    func channelWritabilityChanged(context: ChannelContext, isWritable: Bool)
    /// The peer stopped sending while reading was paused (it may still read).
    func channelPeerClosedWrite(context: ChannelContext)
    /// The connection is gone; the last event a handler sees.
    func channelInactive(context: ChannelContext)
    /// Bytes on their way out, from above.
    func write(context: ChannelContext, data: ByteBuffer)
    /// Queued bytes should go out now.
    func flush(context: ChannelContext)
}

extension ChannelHandler {
    public func channelActive(context: ChannelContext) { context.fireChannelActive() }
    public func channelRead(context: ChannelContext, data: ByteBuffer) { context.fireChannelRead(data) }
    public func channelWritabilityChanged(context: ChannelContext, isWritable: Bool) { context.fireWritabilityChanged(isWritable) }
    public func channelPeerClosedWrite(context: ChannelContext) { context.firePeerClosedWrite() }
    public func channelInactive(context: ChannelContext) { context.fireChannelInactive() }
    public func write(context: ChannelContext, data: ByteBuffer) { context.write(data) }
    public func flush(context: ChannelContext) { context.flush() }
}

/// A handler's place in its channel: passes events to the next handler up, and writes to the next one down.
public final class ChannelContext {
    /// Strong: the channel drops its contexts when it closes, which ends the cycle.
    public let channel: Channel
    public let handler: ChannelHandler
    let index: Int

    init(channel: Channel, handler: ChannelHandler, index: Int) {
        self.channel = channel
        self.handler = handler
        self.index = index
    }

    public var loop: EventLoop { channel.loop }

    /// The handler above, or nil at the top (events that pass the top are dropped).
    private var above: ChannelContext? { channel.context(at: index + 1) }
    /// The handler below, or nil at the bottom (writes then go to the connection).
    private var below: ChannelContext? { channel.context(at: index - 1) }

    public func fireChannelActive() { above.map { $0.handler.channelActive(context: $0) } }
    public func fireChannelRead(_ data: ByteBuffer) { above.map { $0.handler.channelRead(context: $0, data: data) } }
    public func fireWritabilityChanged(_ isWritable: Bool) { above.map { $0.handler.channelWritabilityChanged(context: $0, isWritable: isWritable) } }
    public func firePeerClosedWrite() { above.map { $0.handler.channelPeerClosedWrite(context: $0) } }
    public func fireChannelInactive() { above.map { $0.handler.channelInactive(context: $0) } }

    /// Queues `data` below this handler (no write to the socket until a flush).
    public func write(_ data: ByteBuffer) {
        if let below { below.handler.write(context: below, data: data) } else { channel.connection.enqueue(data) }
    }

    public func flush() {
        if let below { below.handler.flush(context: below) } else { channel.connection.flush() }
    }

    /// `write` then `flush`.
    public func writeAndFlush(_ data: ByteBuffer) {
        write(data)
        flush()
    }
}
