/// A write position inside room a `ByteBuffer` made beforehand (`ByteBuffer.write(reserving:_:)`): each write goes
/// straight to memory, with no capacity or uniqueness check of the buffer, for encoders that know their output's
/// size (an HTTP head and body). Writing past the room traps.
public struct ByteCursor {
    let start: UnsafeMutableRawPointer
    private(set) var position: UnsafeMutableRawPointer
    private let end: UnsafeMutableRawPointer

    init(start: UnsafeMutableRawPointer, count: Int) {
        self.start = start
        position = start
        end = start + count
    }

    /// Bytes written so far.
    public var written: Int { position - start }

    public mutating func write(_ bytes: UnsafeRawBufferPointer) {
        guard let source = bytes.baseAddress, bytes.count > 0 else { return }
        precondition(bytes.count <= end - position, "wrote past the room reserved for the cursor")
        position.copyMemory(from: source, byteCount: bytes.count)
        position += bytes.count
    }

    public mutating func write(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { write($0) }
    }

    /// Compile-time text, without making a `String` of it.
    public mutating func write(_ text: StaticString) {
        if text.hasPointerRepresentation {
            write(UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
        } else {
            text.withUTF8Buffer { write(UnsafeRawBufferPointer($0)) }
        }
    }

    public mutating func write(_ text: String) {
        // Native and small strings lend their UTF-8 at once; only a bridged one needs the copying `withUTF8`.
        if text.utf8.withContiguousStorageIfAvailable({ write(UnsafeRawBufferPointer($0)) }) != nil { return }
        var text = text
        text.withUTF8 { write(UnsafeRawBufferPointer($0)) }
    }

    /// `value` in decimal digits (at most 20 bytes), without making a `String` of it.
    public mutating func writeDecimal(_ value: Int) {
        var magnitude = value.magnitude
        var digits = 1
        var rest = magnitude / 10
        while rest > 0 { digits += 1; rest /= 10 }
        let sign = value < 0 ? 1 : 0
        precondition(sign + digits <= end - position, "wrote past the room reserved for the cursor")
        if sign == 1 { position.storeBytes(of: UInt8(ascii: "-"), as: UInt8.self) }
        var index = sign + digits
        repeat {
            index -= 1
            position.storeBytes(of: UInt8(truncatingIfNeeded: 48 + magnitude % 10), toByteOffset: index, as: UInt8.self)
            magnitude /= 10
        } while magnitude > 0
        position += sign + digits
    }
}
