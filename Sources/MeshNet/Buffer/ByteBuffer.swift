/// Bytes in one heap block (a header and the bytes in a single allocation), shared by a buffer and its slices.
final class ByteStorage: ManagedBuffer<Int, UInt8> {
    static func make(capacity: Int) -> ByteStorage {
        unsafeDowncast(create(minimumCapacity: max(capacity, 1)) { _ in capacity }, to: ByteStorage.self)
    }

    /// Bytes asked for (the block may be a little larger).
    var size: Int { header }

    /// The first byte. Stable for the storage's lifetime: the block never moves.
    var base: UnsafeMutableRawPointer { withUnsafeMutablePointerToElements { UnsafeMutableRawPointer($0) } }
}

/// A run of bytes with a reader index (what has been consumed) and a writer index (what has been filled).
/// Copies and slices share storage until one of them writes (copy on write), so slicing a request out of a read
/// costs no copy. Indices count from the buffer's own start, also for slices.
public struct ByteBuffer: @unchecked Sendable {
    private var storage: ByteStorage
    /// Where this buffer starts inside the storage (a slice starts further in).
    private var offset: Int
    /// Bytes of storage this buffer may use from `offset`.
    private var limit: Int
    /// Bytes before this index have been read.
    public private(set) var readerIndex: Int
    /// Bytes before this index have been written.
    public private(set) var writerIndex: Int

    /// Storage of every empty buffer made without capacity: shared, so the first write allocates (copy on write).
    nonisolated(unsafe) private static let emptyStorage = ByteStorage.make(capacity: 0)

    /// An empty buffer with room for `capacity` bytes (no allocation for 0).
    public init(capacity: Int = 0) {
        storage = capacity == 0 ? Self.emptyStorage : ByteStorage.make(capacity: capacity)
        offset = 0
        limit = capacity
        readerIndex = 0
        writerIndex = 0
    }

    public init<Bytes: Collection>(bytes: Bytes) where Bytes.Element == UInt8 {
        self.init(capacity: bytes.count)
        writeBytes(bytes)
    }

    public init(string: String) {
        self.init(capacity: string.utf8.count)
        writeString(string)
    }

    /// A view of `length` bytes of `storage` from `offset`, all readable.
    init(storage: ByteStorage, offset: Int, length: Int) {
        self.storage = storage
        self.offset = offset
        limit = length
        readerIndex = 0
        writerIndex = length
    }

    /// Bytes written and not yet read.
    public var readableBytes: Int { writerIndex - readerIndex }
    /// Room left before a write must grow the buffer.
    public var writableBytes: Int { limit - writerIndex }
    public var capacity: Int { limit }

    // MARK: Writing

    public mutating func writeBytes<Bytes: Collection>(_ bytes: Bytes) where Bytes.Element == UInt8 {
        let count = bytes.count
        guard count > 0 else { return }
        reserveCapacity(minimumWritableBytes: count)
        let target = UnsafeMutableRawBufferPointer(start: storage.base + offset + writerIndex, count: count)
        let copied: Void? = bytes.withContiguousStorageIfAvailable { target.copyMemory(from: UnsafeRawBufferPointer($0)) }
        if copied == nil { _ = target.initializeMemory(as: UInt8.self, from: bytes) }
        writerIndex += count
    }

    public mutating func writeBytes(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        reserveCapacity(minimumWritableBytes: bytes.count)
        (storage.base + offset + writerIndex).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
        writerIndex += bytes.count
    }

    public mutating func writeString(_ text: String) {
        // Native and small strings lend their UTF-8 at once; only a bridged one needs the copying `withUTF8`.
        if text.utf8.withContiguousStorageIfAvailable({ writeBytes(UnsafeRawBufferPointer($0)) }) != nil { return }
        var text = text
        text.withUTF8 { writeBytes(UnsafeRawBufferPointer($0)) }
    }

    /// Writes compile-time text (a protocol's fixed parts) without making a `String` of it.
    public mutating func writeStaticString(_ text: StaticString) {
        text.withUTF8Buffer { writeBytes(UnsafeRawBufferPointer($0)) }
    }

    /// Writes `value` in decimal digits (a Content-Length, a status code) without making a `String` of it.
    public mutating func writeDecimal(_ value: Int) {
        write(reserving: 20) { $0.writeDecimal(value) }
    }

    /// Makes room for `count` bytes once, lets `body` write up to that many through a cursor (no check per write),
    /// and makes what it wrote readable.
    public mutating func write(reserving count: Int, _ body: (inout ByteCursor) throws -> Void) rethrows {
        reserveCapacity(minimumWritableBytes: count)
        var cursor = ByteCursor(start: storage.base + offset + writerIndex, count: count)
        try body(&cursor)
        writerIndex += cursor.written
    }

    /// Copies `other`'s readable bytes in (it keeps them).
    public mutating func writeBuffer(_ other: ByteBuffer) {
        other.withUnsafeReadableBytes { writeBytes($0) }
    }

    /// Makes sure `count` bytes can be written without another allocation. The storage is copied when it is shared
    /// (with a copy or a slice) or too small, keeping the indices; a buffer read to its end starts over at index 0.
    public mutating func reserveCapacity(minimumWritableBytes count: Int) {
        let unique = isKnownUniquelyReferenced(&storage)
        if unique && readerIndex == writerIndex && readerIndex > 0 {
            // Everything was read: start over at the front instead of growing.
            readerIndex = 0
            writerIndex = 0
        }
        if unique && writerIndex + count <= limit { return }
        var newCapacity = max(64, limit)
        while newCapacity < writerIndex + count { newCapacity *= 2 }
        let fresh = ByteStorage.make(capacity: newCapacity)
        fresh.base.copyMemory(from: storage.base + offset, byteCount: writerIndex)
        storage = fresh
        offset = 0
        limit = newCapacity
    }

    /// Lets `body` fill the writable bytes directly (a `read(2)` into the buffer); returns what `body` returns.
    /// Call `moveWriterIndex(forwardBy:)` with the count filled.
    public mutating func withUnsafeMutableWritableBytes<Result>(_ body: (UnsafeMutableRawBufferPointer) throws -> Result) rethrows -> Result {
        reserveCapacity(minimumWritableBytes: 0)
        return try body(UnsafeMutableRawBufferPointer(start: storage.base + offset + writerIndex, count: writableBytes))
    }

    public mutating func moveWriterIndex(forwardBy count: Int) {
        precondition(count >= 0 && count <= writableBytes, "moved the writer index past the buffer's capacity")
        writerIndex += count
    }

    // MARK: Reading

    /// Runs `body` over the readable bytes, without copying them.
    public func withUnsafeReadableBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        try withExtendedLifetime(storage) {
            try body(UnsafeRawBufferPointer(start: storage.base + offset + readerIndex, count: readableBytes))
        }
    }

    /// The first readable byte, for I/O code that gathers several buffers into one call. Valid while this buffer
    /// (or a copy of it) is alive and not written to.
    package var readablePointer: UnsafeRawPointer { UnsafeRawPointer(storage.base + offset + readerIndex) }

    public mutating func moveReaderIndex(forwardBy count: Int) {
        precondition(count >= 0 && count <= readableBytes, "moved the reader index past the readable bytes")
        readerIndex += count
    }

    /// The next `length` readable bytes as a buffer sharing this one's storage, consumed from this one; nil when
    /// fewer are readable.
    public mutating func readSlice(length: Int) -> ByteBuffer? {
        guard let slice = slice(from: 0, length: length) else { return nil }
        readerIndex += length
        return slice
    }

    /// `length` readable bytes starting `start` bytes after the reader index, sharing storage; nothing is consumed.
    public func slice(from start: Int = 0, length: Int? = nil) -> ByteBuffer? {
        let length = length ?? (readableBytes - start)
        guard start >= 0, length >= 0, start + length <= readableBytes else { return nil }
        return ByteBuffer(storage: storage, offset: offset + readerIndex + start, length: length)
    }

    /// The next `length` readable bytes, copied out and consumed; nil when fewer are readable.
    public mutating func readBytes(length: Int) -> [UInt8]? {
        guard length >= 0, length <= readableBytes else { return nil }
        let bytes = [UInt8](UnsafeRawBufferPointer(start: storage.base + offset + readerIndex, count: length))
        readerIndex += length
        return bytes
    }

    /// A copy of the readable bytes.
    public var readableArray: [UInt8] { withUnsafeReadableBytes { [UInt8]($0) } }

    /// Where `byte` first occurs among the readable bytes, counted from the reader index.
    public func firstIndex(of byte: UInt8, from start: Int = 0) -> Int? {
        withUnsafeReadableBytes { bytes in
            guard start < bytes.count else { return nil }
            return bytes[start...].firstIndex(of: byte)
        }
    }

    /// Forgets the bytes already read, so their room can be written again (moves the readable bytes to the front).
    public mutating func discardReadBytes() {
        guard readerIndex > 0 else { return }
        guard isKnownUniquelyReferenced(&storage) else {
            self = slice() ?? ByteBuffer()
            return
        }
        let base = storage.base + offset
        base.copyMemory(from: base + readerIndex, byteCount: readableBytes)
        writerIndex -= readerIndex
        readerIndex = 0
    }

    /// Empties the buffer for reuse: its storage stays when no one else holds it and it has room for
    /// `minimumCapacity` bytes; otherwise it gets fresh storage of that size.
    public mutating func reuse(minimumCapacity: Int) {
        if isKnownUniquelyReferenced(&storage) && limit >= minimumCapacity {
            readerIndex = 0
            writerIndex = 0
        } else {
            self = ByteBuffer(capacity: minimumCapacity)
        }
    }

    /// Empties the buffer (indices back to 0), keeping its storage when no one else holds it.
    public mutating func clear() {
        if !isKnownUniquelyReferenced(&storage) { self = ByteBuffer(capacity: limit); return }
        readerIndex = 0
        writerIndex = 0
    }

    /// Whether this buffer and `other` point into the same storage (slices of one read do).
    func sharesStorage(with other: ByteBuffer) -> Bool { storage === other.storage }
}

extension ByteBuffer: Equatable {
    /// Equal when the readable bytes are.
    public static func == (lhs: ByteBuffer, rhs: ByteBuffer) -> Bool {
        lhs.readableBytes == rhs.readableBytes && lhs.withUnsafeReadableBytes { left in
            rhs.withUnsafeReadableBytes { right in left.elementsEqual(right) }
        }
    }
}

extension ByteBuffer: CustomStringConvertible {
    public var description: String { "ByteBuffer(readable: \(readableBytes), capacity: \(capacity))" }
}
