/// HPACK's Huffman code (RFC 7541 section 5.2): encoding with the code table, decoding by walking a binary tree
/// built from it once.
enum Huffman {
    /// Bytes `bytes` take once encoded.
    static func encodedLength<Bytes: Sequence>(_ bytes: Bytes) -> Int where Bytes.Element == UInt8 {
        var bits = 0
        for byte in bytes { bits += Int(HuffmanCodeTable.codes[Int(byte)].length) }
        return (bits + 7) / 8
    }

    /// Appends the code of each byte, the last byte padded with the most significant bits of EOS (all ones).
    static func encode<Bytes: Sequence>(_ bytes: Bytes, into out: inout [UInt8]) where Bytes.Element == UInt8 {
        var pending: UInt64 = 0
        var pendingBits = 0
        for byte in bytes {
            let entry = HuffmanCodeTable.codes[Int(byte)]
            pending = pending << UInt64(entry.length) | UInt64(entry.code)
            pendingBits += Int(entry.length)
            while pendingBits >= 8 {
                pendingBits -= 8
                out.append(UInt8(truncatingIfNeeded: pending >> UInt64(pendingBits)))
            }
        }
        if pendingBits > 0 {
            let padding = 8 - pendingBits
            out.append(UInt8(truncatingIfNeeded: (pending << UInt64(padding)) | ((1 << UInt64(padding)) - 1)))
        }
    }

    /// Decodes `bytes`; throws when the padding is longer than 7 bits or not a prefix of EOS, or EOS appears.
    static func decode(_ bytes: UnsafeRawBufferPointer) throws(HPACKError) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 8 / 5)
        let tree = DecodingTree.shared
        var node = 0
        // Bits read since the last whole symbol, and whether they were all ones (a valid padding so far).
        var bitsSinceSymbol = 0
        var allOnes = true
        for byte in bytes {
            for shift in stride(from: 7, through: 0, by: -1) {
                let bit = Int((byte >> UInt8(shift)) & 1)
                bitsSinceSymbol += 1
                if bit == 0 { allOnes = false }
                let next = tree.children[node * 2 + bit]
                if next < 0 {
                    let symbol = Int(-next - 1)
                    if symbol == 256 { throw .huffmanEOS }
                    out.append(UInt8(symbol))
                    node = 0
                    bitsSinceSymbol = 0
                    allOnes = true
                } else {
                    node = Int(next)
                }
            }
        }
        if bitsSinceSymbol > 7 { throw .huffmanPaddingTooLong }
        if !allOnes { throw .huffmanPaddingNotEOS }
        return out
    }

    /// The code as a binary tree in one array: node `n`'s children at `2n` (bit 0) and `2n+1` (bit 1); a positive
    /// entry is the next node, a negative one `-(symbol + 1)` a leaf. Node 0 is the root.
    struct DecodingTree: Sendable {
        var children: [Int32]

        static let shared = DecodingTree()

        init() {
            children = [0, 0]
            var nodes = 1
            for (symbol, entry) in HuffmanCodeTable.codes.enumerated() {
                var node = 0
                for position in stride(from: Int(entry.length) - 1, through: 0, by: -1) {
                    let bit = Int((entry.code >> UInt32(position)) & 1)
                    let slot = node * 2 + bit
                    if position == 0 {
                        children[slot] = Int32(-(symbol + 1))
                    } else {
                        if children[slot] == 0 {
                            children[slot] = Int32(nodes)
                            nodes += 1
                            children.append(contentsOf: [0, 0])
                        }
                        node = Int(children[slot])
                    }
                }
            }
        }
    }
}
