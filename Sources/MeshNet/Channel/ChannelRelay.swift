/// Joins two channels as a proxy does: what one side reads, the other writes; and when a side's output backs up
/// past its high watermark, reading from the other side pauses until that output drains below the low watermark.
/// So a slow reader on either side slows its writer instead of growing the proxy's memory (backpressure both ways).
/// When one side closes, the other closes once what it still holds is written.
///
/// Both channels must be on the same loop (a proxy keeps a downstream and its upstream together).
public final class ChannelRelay {
    /// The relay's end of one channel: the top handler of its stack.
    public final class End: ChannelHandler {
        /// Strong, and let go when this side closes.
        var peer: Channel?
        /// Times this end's channel paused the other side's reading (for tests and stats).
        public private(set) var pauses = 0
        /// The most bytes the other channel held queued right after this end handed it what it read.
        public private(set) var mostQueuedByPeer = 0

        public init() {}

        public func channelRead(context: ChannelContext, data: ByteBuffer) {
            guard let peer else { return }
            peer.writeAndFlush(data)
            mostQueuedByPeer = max(mostQueuedByPeer, peer.connection.pendingOutput)
        }

        public func channelWritabilityChanged(context: ChannelContext, isWritable: Bool) {
            guard let peer else { return }
            if isWritable {
                peer.resumeReading()
            } else {
                pauses += 1
                peer.pauseReading()
            }
        }

        public func channelInactive(context: ChannelContext) {
            peer?.closeWhenDrained()
            peer = nil
        }
    }

    /// Makes `a` and `b` relay to each other through the ends given (each the top handler of its channel).
    public static func join(_ a: Channel, _ aEnd: End, _ b: Channel, _ bEnd: End) {
        precondition(a.loop === b.loop, "relayed channels must share a loop")
        aEnd.peer = b
        bEnd.peer = a
    }
}
