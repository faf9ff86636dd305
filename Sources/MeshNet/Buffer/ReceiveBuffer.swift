/// The block the connections of one loop read into, in turn. A read fills free bytes of the block and comes out
/// as a `ByteBuffer` slice of it, with no copy; when nobody kept a slice the next read reuses the block from its
/// start, and when somebody did (a parser holding a partial message) reads continue after it, or in a new block.
/// So an idle connection holds no read buffer at all, instead of 64 KiB each.
package struct ReceiveBuffer {
    static let blockSize = 64 * 1024
    /// Below this much room a read takes a new block rather than read a dribble.
    static let minimumRoom = 4 * 1024

    private var block = ByteStorage.make(capacity: ReceiveBuffer.blockSize)
    private var used = 0

    package init() {}

    /// Lets `fill` write into free bytes (it returns how many it wrote, or 0 or less for none) and returns those
    /// bytes, or nil when it wrote none.
    package mutating func receive(_ fill: (UnsafeMutableRawBufferPointer) -> Int) -> ByteBuffer? {
        if isKnownUniquelyReferenced(&block) {
            used = 0
        } else if block.size - used < Self.minimumRoom {
            block = ByteStorage.make(capacity: Self.blockSize)
            used = 0
        }
        let count = fill(UnsafeMutableRawBufferPointer(start: block.base + used, count: block.size - used))
        guard count > 0 else { return nil }
        let bytes = ByteBuffer(storage: block, offset: used, length: count)
        used += count
        return bytes
    }
}
