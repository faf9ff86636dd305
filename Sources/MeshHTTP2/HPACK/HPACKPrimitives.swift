/// Reads HPACK's integers and strings (RFC 7541 section 5) from a header block.
struct HPACKReader {
    let bytes: UnsafeRawBufferPointer
    var position = 0

    var atEnd: Bool { position >= bytes.count }

    func peek() throws(HPACKError) -> UInt8 {
        guard position < bytes.count else { throw .truncated }
        return bytes[position]
    }

    /// An integer with an N-bit prefix (the prefix's other bits are the caller's flags).
    mutating func readInteger(prefixBits: Int) throws(HPACKError) -> Int {
        let mask = (1 << prefixBits) - 1
        guard position < bytes.count else { throw .truncated }
        var value = Int(bytes[position]) & mask
        position += 1
        guard value == mask else { return value }
        var shift = 0
        while true {
            guard position < bytes.count else { throw .truncated }
            let byte = Int(bytes[position])
            position += 1
            // Values past 2^31 are of no use to HTTP/2 and bound the loop.
            guard shift <= 28 else { throw .integerOverflow }
            value += (byte & 0x7f) << shift
            guard value <= Int(Int32.max) else { throw .integerOverflow }
            if byte & 0x80 == 0 { return value }
            shift += 7
        }
    }

    /// A string literal: a Huffman flag, a 7-bit-prefix length, the bytes.
    mutating func readString() throws(HPACKError) -> String {
        let huffman = try peek() & 0x80 != 0
        let length = try readInteger(prefixBits: 7)
        guard length <= bytes.count - position else { throw .truncated }
        let raw = UnsafeRawBufferPointer(rebasing: bytes[position..<(position + length)])
        position += length
        if huffman { return String(decoding: try Huffman.decode(raw), as: UTF8.self) }
        return String(decoding: raw, as: UTF8.self)
    }
}

/// Writes HPACK's integers and strings.
enum HPACKWriter {
    static func writeInteger(_ value: Int, prefixBits: Int, flags: UInt8, into out: inout [UInt8]) {
        let mask = (1 << prefixBits) - 1
        if value < mask {
            out.append(flags | UInt8(value))
            return
        }
        out.append(flags | UInt8(mask))
        var rest = value - mask
        while rest >= 128 {
            out.append(UInt8(rest & 0x7f) | 0x80)
            rest >>= 7
        }
        out.append(UInt8(rest))
    }

    /// A string literal, Huffman-coded when that is shorter (or always/never when `huffman` says so).
    static func writeString(_ text: String, huffman: Bool?, into out: inout [UInt8]) {
        let raw = text.utf8
        let coded = Huffman.encodedLength(raw)
        if huffman ?? (coded < raw.count) {
            writeInteger(coded, prefixBits: 7, flags: 0x80, into: &out)
            Huffman.encode(raw, into: &out)
        } else {
            writeInteger(raw.count, prefixBits: 7, flags: 0, into: &out)
            out.append(contentsOf: raw)
        }
    }
}
