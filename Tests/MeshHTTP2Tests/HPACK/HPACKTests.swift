import XCTest
@testable import MeshHTTP2

final class HPACKTests: XCTestCase {
    // MARK: RFC 7541 Appendix C

    func testDecoderReproducesEveryAppendixCExampleAndItsTable() throws {
        var checked = 0
        for sequence in RFC7541Vectors.sequences {
            var decoder = HPACKDecoder(tableSizeLimit: sequence.tableSize)
            for block in sequence.blocks {
                let fields = try decoder.decode(RFC7541Vectors.bytes(block.hex))
                XCTAssertEqual(fields.map { [$0.name, $0.value] }, block.headers.map { [$0.0, $0.1] }, block.name)
                XCTAssertEqual(fields.map(\.indexing), Array(repeating: block.indexing, count: fields.count), block.name)
                XCTAssertEqual(decoder.dynamicTableEntries.map { [$0.name, $0.value] }, block.table.map { [$0.0, $0.1] }, "\(block.name) table")
                XCTAssertEqual(decoder.dynamicTableSize, block.tableSize, "\(block.name) table size")
                checked += 1
            }
        }
        XCTAssertEqual(checked, 16, "C.2.1-C.2.4, C.3.1-3, C.4.1-3, C.5.1-3, C.6.1-3")
    }

    func testEncoderProducesEveryAppendixCExampleByteForByte() {
        var checked = 0
        for sequence in RFC7541Vectors.sequences {
            // The response examples start from a 256-byte table with no size update in their first block.
            var encoder = HPACKEncoder(preferredTableSize: sequence.tableSize, huffman: sequence.huffman)
            for block in sequence.blocks {
                let fields = block.headers.map { HeaderField(name: $0.0, value: $0.1, indexing: block.indexing) }
                XCTAssertEqual(hex(encoder.encode(fields)), block.hex, block.name)
                XCTAssertEqual(encoder.dynamicTableEntries.map { [$0.name, $0.value] }, block.table.map { [$0.0, $0.1] }, "\(block.name) table")
                XCTAssertEqual(encoder.dynamicTableSize, block.tableSize, "\(block.name) table size")
                checked += 1
            }
        }
        XCTAssertEqual(checked, 16)
    }

    func testAppendixCIntegerExamples() throws {
        // C.1.1-C.1.3: 10 and 1337 on a 5-bit prefix, 42 on 8 bits.
        let cases: [(value: Int, prefix: Int, bytes: [UInt8])] = [(10, 5, [0x0a]), (1337, 5, [0x1f, 0x9a, 0x0a]), (42, 8, [0x2a])]
        for (value, prefix, bytes) in cases {
            var out: [UInt8] = []
            HPACKWriter.writeInteger(value, prefixBits: prefix, flags: 0, into: &out)
            XCTAssertEqual(out, bytes, "encode \(value)")
            let decoded = try bytes.withUnsafeBytes { raw throws(HPACKError) -> Int in
                var reader = HPACKReader(bytes: raw)
                return try reader.readInteger(prefixBits: prefix)
            }
            XCTAssertEqual(decoded, value, "decode \(value)")
        }
    }

    // MARK: Huffman

    func testHuffmanRoundTripsEveryByteValue() throws {
        let all = (0...255).map { UInt8($0) }
        var coded: [UInt8] = []
        Huffman.encode(all, into: &coded)
        XCTAssertEqual(coded.count, Huffman.encodedLength(all))
        XCTAssertEqual(try coded.withUnsafeBytes { try Huffman.decode($0) }, all)
        XCTAssertEqual(HuffmanCodeTable.codes.count, 257)
    }

    func testHuffmanPaddingAndEOSAreRefused() {
        // 'a' is 00011 (5 bits): 3 bits of ones pad it; zeros do not.
        XCTAssertEqual(try huffmanDecode([0b00011_111]), Array("a".utf8))
        XCTAssertThrowsError(try huffmanDecode([0b00011_000])) {
            XCTAssertEqual($0 as? HPACKError, .huffmanPaddingNotEOS)
        }
        // 'a' then a whole byte of ones: padding of 11 bits.
        XCTAssertThrowsError(try huffmanDecode([0b00011_111, 0xff])) {
            XCTAssertEqual($0 as? HPACKError, .huffmanPaddingTooLong)
        }
        // EOS itself: 30 ones.
        XCTAssertThrowsError(try huffmanDecode([0xff, 0xff, 0xff, 0xfc])) {
            XCTAssertEqual($0 as? HPACKError, .huffmanEOS)
        }
    }

    // MARK: Decoder errors (each a COMPRESSION_ERROR for the connection)

    func testDecoderErrors() {
        let cases: [(name: String, bytes: [UInt8], error: HPACKError)] = [
            ("index 0", [0x80], .indexZero),
            ("index past both tables", [0xbe], .indexOutOfRange(62)),
            ("literal name index past the tables", [0x7f, 0x00, 0x01, 0x61], .indexOutOfRange(63 + 0)),
            ("size update above the limit", [0x3f, 0xe2, 0x1f], .tableSizeUpdateTooLarge(requested: 4097, limit: 4096)),
            ("size update after a field", [0x82, 0x20], .tableSizeUpdateNotAtStart),
            ("string longer than the block", [0x40, 0x05, 0x61], .truncated),
            ("integer without its last byte", [0xff, 0x80], .truncated),
            ("integer too large", [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f], .integerOverflow),
            ("huffman padding of zeros", [0x04, 0x81, 0x00], .huffmanPaddingNotEOS),
            ("huffman EOS", [0x04, 0x84, 0xff, 0xff, 0xff, 0xff], .huffmanEOS),
        ]
        for test in cases {
            var decoder = HPACKDecoder()
            XCTAssertThrowsError(try decoder.decode(test.bytes), test.name) { XCTAssertEqual($0 as? HPACKError, test.error, test.name) }
        }
    }

    func testSizeUpdatesAtTheStartShrinkAndEvict() throws {
        var decoder = HPACKDecoder()
        _ = try decoder.decode(RFC7541Vectors.bytes("400a637573746f6d2d6b65790d637573746f6d2d686561646572"))
        XCTAssertEqual(decoder.dynamicTableSize, 55)
        // Two updates (0 then 4096) before an indexed field: the first empties the table.
        XCTAssertEqual(try decoder.decode([0x20, 0x3f, 0xe1, 0x1f, 0x82]).map(\.name), [":method"])
        XCTAssertEqual(decoder.dynamicTableSize, 0)
        XCTAssertThrowsError(try decoder.decode([0xbe]), "the evicted entry is gone")
    }

    func testHeaderListSizeLimitKeepsTheTableInStep() throws {
        var decoder = HPACKDecoder(maximumHeaderListSize: 40)
        // custom-key: custom-header is 55 by the RFC's rule: too large, yet still added to the table.
        XCTAssertThrowsError(try decoder.decode(RFC7541Vectors.bytes("400a637573746f6d2d6b65790d637573746f6d2d686561646572"))) {
            XCTAssertEqual($0 as? HPACKError, .headerListTooLarge(limit: 40))
        }
        XCTAssertEqual(decoder.dynamicTableSize, 55)
        decoder.maximumHeaderListSize = 100
        XCTAssertEqual(try decoder.decode([0xbe]).first?.value, "custom-header")
    }

    // MARK: Encoder

    func testEncoderAnnouncesTableSizeChangesSmallestFirst() throws {
        var encoder = HPACKEncoder()
        var decoder = HPACKDecoder()
        _ = try decoder.decode(encoder.encode([HeaderField(name: "x-a", value: "1")]))
        encoder.setPeerTableSizeLimit(0)
        encoder.setPeerTableSizeLimit(1024)
        let block = encoder.encode([HeaderField(name: "x-a", value: "1")])
        XCTAssertEqual(Array(block.prefix(4)), [0x20, 0x3f, 0xe1, 0x07], "0, then 1024")
        XCTAssertEqual(try decoder.decode(block).map(\.value), ["1"])
        XCTAssertEqual(decoder.dynamicTableSize, encoder.dynamicTableSize)
    }

    func testCredentialsAreNeverIndexed() throws {
        var encoder = HPACKEncoder()
        let block = encoder.encode([HeaderField(name: "authorization", value: "Bearer secret")])
        XCTAssertEqual(block.first.map { $0 & 0xf0 }, 0x10)
        XCTAssertEqual(encoder.dynamicTableSize, 0)
        var decoder = HPACKDecoder()
        XCTAssertEqual(try decoder.decode(block).first?.indexing, .neverIndexed)
    }

    func testRandomListsRoundTripThroughOneEncoderAndDecoder() throws {
        var random = SeededRandom(seed: 7)
        var encoder = HPACKEncoder(preferredTableSize: 512)
        var decoder = HPACKDecoder(tableSizeLimit: 512)
        let names = ["x-a", "x-b", "content-type", ":path", "cookie", "x-long"]
        for _ in 0..<500 {
            let fields = (0..<Int.random(in: 1...8, using: &random)).map { _ in
                HeaderField(name: names.randomElement(using: &random)!,
                            value: String(repeating: "v\(Int.random(in: 0...20, using: &random))", count: Int.random(in: 0...30, using: &random)))
            }
            XCTAssertEqual(try decoder.decode(encoder.encode(fields)).map(\.description), fields.map(\.description))
            XCTAssertEqual(decoder.dynamicTableSize, encoder.dynamicTableSize)
        }
    }

    private func huffmanDecode(_ bytes: [UInt8]) throws -> [UInt8] { try bytes.withUnsafeBytes { try Huffman.decode($0) } }

    private func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }
}

/// A small deterministic generator (splitmix64), so random tests repeat.
struct SeededRandom: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9e3779b97f4a7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58476d1ce4e5b9
        z = (z ^ (z >> 27)) &* 0x94d049bb133111eb
        return z ^ (z >> 31)
    }
}
