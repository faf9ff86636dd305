/// Buffers waiting to be written to a connection, oldest first, so a gathering write (`writev`) can take many at
/// once and a partial write just moves the front's reader index.
struct PendingWrites {
    private var buffers: [ByteBuffer] = []
    private var head = 0
    /// Whether the last buffer was made here (by `append(bytes:)`), so small writes may be added to it.
    private var lastIsOwn = false
    /// Bytes waiting in all buffers.
    private(set) var bytes = 0

    /// Small writes are copied into the last buffer up to this size instead of queued one by one.
    static let coalescingLimit = 16 * 1024

    var isEmpty: Bool { bytes == 0 }

    /// Buffers waiting (the first may be partly written).
    var count: Int { buffers.count - head }

    /// Queues `buffer` as it is (no copy).
    mutating func append(_ buffer: ByteBuffer) {
        guard buffer.readableBytes > 0 else { return }
        buffers.append(buffer)
        lastIsOwn = false
        bytes += buffer.readableBytes
    }

    /// Queues a copy of `data`, into the last queued buffer when this queue made it and it stays small.
    mutating func append<Bytes: Collection>(bytes data: Bytes) where Bytes.Element == UInt8 {
        let count = data.count
        guard count > 0 else { return }
        if lastIsOwn, head < buffers.count, buffers[buffers.count - 1].readableBytes + count <= Self.coalescingLimit {
            buffers[buffers.count - 1].writeBytes(data)
        } else {
            var buffer = ByteBuffer(capacity: max(count, 1024))
            buffer.writeBytes(data)
            buffers.append(buffer)
            lastIsOwn = true
        }
        bytes += count
    }

    /// The oldest buffer.
    var first: ByteBuffer? { head < buffers.count ? buffers[head] : nil }

    /// Calls `body` with the readable bytes of up to `limit` buffers from the front, oldest first.
    func forEachFront(limit: Int, _ body: (UnsafeRawPointer, Int) -> Void) {
        var index = head
        while index < buffers.count && index - head < limit {
            body(buffers[index].readablePointer, buffers[index].readableBytes)
            index += 1
        }
    }

    /// Drops `count` written bytes from the front.
    mutating func consume(_ count: Int) {
        precondition(count <= bytes, "consumed more than was pending")
        if count == bytes {
            // All written (the usual case for a small answer): one emptying, no walk.
            removeAll()
            return
        }
        bytes -= count
        var left = count
        while left > 0 {
            let available = buffers[head].readableBytes
            if left < available {
                buffers[head].moveReaderIndex(forwardBy: left)
                return
            }
            left -= available
            dropFirst()
        }
        // A front buffer with nothing left to write (possible after an exact fit) goes too.
        while head < buffers.count && buffers[head].readableBytes == 0 { dropFirst() }
    }

    mutating func removeAll() {
        emptyBuffers()
        head = 0
        bytes = 0
        lastIsOwn = false
    }

    /// Empties `buffers`, keeping its storage, one by one from the end: removeAll(keepingCapacity:) goes through a
    /// generic replaceSubrange that costs more than the one or two buffers usually queued.
    private mutating func emptyBuffers() {
        while !buffers.isEmpty { buffers.removeLast() }
    }

    private mutating func dropFirst() {
        // Release the storage now; the slot is reclaimed when the queue empties or the dead prefix grows.
        buffers[head] = ByteBuffer()
        head += 1
        if head == buffers.count {
            emptyBuffers()
            head = 0
            lastIsOwn = false
        } else if head >= 64 && head * 2 >= buffers.count {
            buffers.removeFirst(head)
            head = 0
        }
    }
}
